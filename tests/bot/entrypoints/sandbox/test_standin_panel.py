"""The stand-in servers page's API: pilots join and leave a running stand-in server; bad input
gets one sentence and changes nothing."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

import eventstore
from bot.cloud.local import LocalProvider, Pilot
from bot.entrypoints.standin_panel import PANEL_PATH, StandinPanel
from tests.bot.services.harness import DEPLOYMENT, START, BotProcess, member
from tests.fakes.clock import FakeClock

pytestmark = pytest.mark.e2e  # a real stand-in process

API = PANEL_PATH + "api/servers"


@pytest.fixture
async def provider(tmp_path: Path) -> AsyncIterator[LocalProvider]:
    clock = FakeClock(START)
    local = LocalProvider(tmp_path, DEPLOYMENT, now=clock.now)
    yield local
    for info in await local.list_managed():
        await local.terminate(info.instance_id)


@pytest.fixture
async def panel(provider: LocalProvider) -> AsyncIterator[tuple[TestClient[Any, Any], str]]:
    clock = FakeClock(START)
    store = eventstore.open("memory://", clock=clock.now)
    rr = BotProcess(store, clock, provider)
    await rr.start()
    await rr.fund(1_000)
    started = await rr.services.sessions.start(member(), duration_minutes=60)
    await rr.services.background.drain()
    session = await rr.services.sessions.get(started.session_id)
    assert session.instance_id is not None
    app = web.Application()
    StandinPanel(rr.view, rr.services.agents, provider).routes(app)
    async with TestClient(TestServer(app)) as client:
        yield client, session.instance_id
    await rr.stop()
    await store.close()


async def test_a_pilot_joins_and_leaves_a_running_stand_in_server(
    panel: tuple[TestClient[Any, Any], str], provider: LocalProvider
) -> None:
    client, instance_id = panel

    joined = await client.post(f"{API}/{instance_id}/pilots", json={"name": " Viper 1 ", "side": 2})
    assert joined.status == 200
    assert await provider.players(instance_id) == [Pilot("Viper 1", 2, "F-16C_50")]
    listed = await (await client.get(API)).json()
    [server] = listed["servers"]
    assert (server["name"], server["pilots"][0]["name"]) == ("Server #1", "Viper 1")

    left = await client.post(f"{API}/{instance_id}/pilots/leave", json={"name": "Viper 1"})
    assert left.status == 200
    assert await provider.players(instance_id) == []


@pytest.mark.parametrize(
    ("path", "body", "error"),
    [
        ("/pilots", {"name": "", "side": 2}, "A pilot's name has 1 to 40 characters."),
        ("/pilots", {"name": "Viper 1", "side": 5}, "The side is 0 (spectators), 1 (red) or 2"),
        ("/pilots", {"name": "Viper 1", "side": True}, "The side is 0"),
        ("/pilots", {"name": "Cobra 1", "side": 1}, "Cobra 1 is on this server already."),
        ("/pilots", ["Viper 1"], "The request is a JSON object."),
        ("/pilots/leave", {"name": "Ghost"}, "No pilot named 'Ghost' is on this server."),
    ],
)
async def test_bad_input_is_refused_in_one_sentence_and_changes_nothing(
    panel: tuple[TestClient[Any, Any], str],
    provider: LocalProvider,
    path: str,
    body: object,
    error: str,
) -> None:
    client, instance_id = panel
    await provider.set_players(instance_id, [Pilot("Cobra 1", 1)])

    answer = await client.post(f"{API}/{instance_id}{path}", json=body)

    assert answer.status == 400
    assert (await answer.json())["error"].startswith(error)
    assert await provider.players(instance_id) == [Pilot("Cobra 1", 1)]


async def test_an_unknown_server_or_a_form_post_is_refused(
    panel: tuple[TestClient[Any, Any], str],
) -> None:
    client, instance_id = panel

    unknown = await client.post(f"{API}/local-0000/pilots", json={"name": "A", "side": 0})
    form = await client.post(f"{API}/{instance_id}/pilots", data={"name": "A", "side": "0"})

    assert (await unknown.json())["error"].startswith("No running stand-in server has that id")
    assert (await form.json())["error"] == "Send the request as application/json."
