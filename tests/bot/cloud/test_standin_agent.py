"""The local stand-in running the real agent against rr's web app over loopback HTTP, with a
stand-in DCS playing the hook's part: ready once the mission runs, pilots joining and leaving,
chat and the end of the mission, an rr restart mid-session, the credential kept out of sight."""

import asyncio
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path

import aiohttp
import pytest

import eventstore
from bot.agentapi import agent_routes
from bot.agentapi.ratelimit import RateLimiter
from bot.cloud.base import InstanceInfo, LaunchRequest
from bot.cloud.local import LocalProvider, Pilot
from bot.domain.session import SessionState
from bot.entrypoints.web import WebServer, create_web_app
from bot.notify import ReadyNotice
from tests.bot.services.harness import DEPLOYMENT, START, BotProcess, member
from tests.fakes.clock import FakeClock

pytestmark = pytest.mark.e2e

WAIT_LIMIT_SECONDS = 30.0
"""A bound on waiting for the processes, not a timer the test needs."""
INTERVAL_SECONDS = 0.1
"""The heartbeat interval rr asks of the agent here, so the test sees changes quickly."""


POLL_SECONDS = 0.05


async def until(check: Callable[[], Awaitable[bool]]) -> None:
    for _ in range(int(WAIT_LIMIT_SECONDS / POLL_SECONDS)):
        if await check():
            return
        await asyncio.sleep(POLL_SECONDS)
    raise AssertionError("the condition never held")


def where_shown(secret: bytes, folder: Path) -> list[str]:
    """The command lines of this machine's processes and the files under ``folder`` that
    hold ``secret``."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if secret in cmdline.read_bytes():
                found.append(str(cmdline))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    found.extend(
        str(path) for path in folder.rglob("*") if path.is_file() and secret in path.read_bytes()
    )
    return found


class RecordingProvider(LocalProvider):
    """The local provider, remembering what it was asked to launch (the test needs the
    credential to ask for the files itself)."""

    requests: list[LaunchRequest]

    async def launch(self, request: LaunchRequest) -> InstanceInfo:
        self.requests.append(request)
        return await super().launch(request)


@dataclass
class Rr:
    """One rr process: the services over the shared store, and its web app on ``port``."""

    process: BotProcess
    web: WebServer

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web.port}"

    async def stop(self) -> None:
        await self.web.stop()
        await self.process.stop()


async def start_rr(
    store: eventstore.EventStore, clock: FakeClock, provider: LocalProvider, port: int = 0
) -> Rr:
    web = WebServer("127.0.0.1", port)
    process = BotProcess(store, clock, provider, rr_url=f"http://127.0.0.1:{web.port}")
    await process.start()
    agents = replace(
        process.services.agents,
        interval_seconds=INTERVAL_SECONDS,
        limiter=RateLimiter(1000.0, 1000, clock.now),
    )
    await web.start(create_web_app(health={}, routes=[agent_routes(agents)]))
    return Rr(process, web)


@pytest.fixture
async def provider(tmp_path: Path, clock: FakeClock) -> AsyncIterator[RecordingProvider]:
    local = RecordingProvider(tmp_path / "instances", DEPLOYMENT, now=clock.now)
    local.requests = []
    yield local
    for info in await local.list_managed():
        await local.terminate(info.instance_id)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
async def store(clock: FakeClock) -> AsyncIterator[eventstore.EventStore]:
    opened = eventstore.open("memory://", clock=clock.now)
    yield opened
    await opened.close()


async def ready_session(rr: Rr) -> SessionState:
    await rr.process.fund(1_000)
    started = await rr.process.services.sessions.start(member(), duration_minutes=60)
    await rr.process.notifier.wait_for(ReadyNotice, limit=WAIT_LIMIT_SECONDS)
    return await rr.process.services.sessions.get(started.session_id)


def players_reported(rr: Rr, session_id: str) -> list[tuple[str, int]]:
    report = rr.process.services.agents.heartbeats.latest(session_id)
    return [] if report is None else [(player.name, player.side) for player in report.players]


async def test_the_stand_in_runs_the_agent_ready_once_its_mission_runs_with_pilots_and_chat(
    store: eventstore.EventStore, clock: FakeClock, provider: RecordingProvider, tmp_path: Path
) -> None:
    rr = await start_rr(store, clock, provider)
    try:
        session = await ready_session(rr)
        sid = session.session_id
        assert session.instance_id is not None
        report = rr.process.services.agents.heartbeats.latest(sid)
        assert report is not None and report.state == "running"
        assert report.mission == "Stand-in mission"

        await provider.set_players(session.instance_id, [Pilot("Viper 1", 2, "F-16C_50")])

        async def viper_joined() -> bool:
            return players_reported(rr, sid) == [("Viper 1", 2)]

        await until(viper_joined)
        await provider.set_players(session.instance_id, [])

        async def everyone_left() -> bool:
            return players_reported(rr, sid) == []

        await until(everyone_left)
        instructions = rr.process.services.agents.instructions
        instructions.post_chat(sid, "Server ends in 15 min — extend with /server extend")

        async def chat_shown() -> bool:
            return not instructions.pending(sid) and bool(await provider.chat(session.instance_id))

        await until(chat_shown)
        [line] = await provider.chat(session.instance_id)
        assert line.text == "Server ends in 15 min — extend with /server extend"

        await provider.set_players(session.instance_id, [Pilot("Viper 1", 2, "F-16C_50")])
        await until(viper_joined)
        instructions.post_end_mission(sid)

        async def stopped() -> bool:
            latest = rr.process.services.agents.heartbeats.latest(sid)
            return latest is not None and latest.state == "stopped"

        await until(stopped)
        write_folder = tmp_path / "instances" / session.instance_id / "files"
        [recording] = (write_folder / "Tracks" / "Tacview").glob("*.txt.acmi")
        text = recording.read_text(encoding="utf-8")
        assert text.startswith("FileType=text/acmi/tacview\nFileVersion=2.2\n")
        assert "Pilot=Viper 1" in text and "#0\n" in text
        assert "mission Stand-in mission stopped" in (write_folder / "Logs" / "dcs.log").read_text()
    finally:
        await rr.stop()


async def test_the_credential_is_in_no_command_line_and_no_file_of_the_server(
    store: eventstore.EventStore, clock: FakeClock, provider: RecordingProvider, tmp_path: Path
) -> None:
    rr = await start_rr(store, clock, provider)
    try:
        await ready_session(rr)
        [request] = provider.requests
        assert request.agent is not None
        secret = request.agent.credential.rsplit(".", 1)[1].encode()
        assert await asyncio.to_thread(where_shown, secret, tmp_path / "instances") == []
        [instance] = await asyncio.to_thread(list, (tmp_path / "instances").iterdir())
        assert instance.stat().st_mode & 0o077 == 0
    finally:
        await rr.stop()


async def test_after_rr_restarts_the_agent_beats_on_and_its_files_are_still_served(
    store: eventstore.EventStore, clock: FakeClock, provider: RecordingProvider
) -> None:
    first = await start_rr(store, clock, provider)
    port = first.web.port
    try:
        session = await ready_session(first)
    finally:
        await first.stop()
    [request] = provider.requests
    assert request.agent is not None

    second = await start_rr(store, clock, provider, port)
    try:

        async def beating_again() -> bool:
            report = second.process.services.agents.heartbeats.latest(session.session_id)
            return report is not None and report.state == "running"

        await until(beating_again)
        url = f"{second.url}/agent/v1/sessions/{session.session_id}/files"
        headers = {"Authorization": f"Bearer {request.agent.credential}"}
        async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as response:
            assert response.status == 200
            reply = await response.json()
        served = {file["path"] for file in reply["files"]}
        assert served == set(request.files)
        assert reply["last_seq"] > 0
    finally:
        await second.stop()


async def test_a_stand_in_without_an_agent_still_gets_its_files_from_the_launch(
    provider: RecordingProvider, tmp_path: Path
) -> None:
    files = {"Config/options.lua": b"options = {}\n"}
    request = LaunchRequest(
        session_id="s-1",
        guild_id="1",
        attempt=1,
        client_token="s-1-1",
        size="small",
        region="local",
        files=files,
        game_port=10308,
        terminate_at=START.replace(year=START.year + 1),
        login_ref=None,
        deployment=DEPLOYMENT,
    )

    info = await provider.launch(request)

    folder = tmp_path / "instances" / info.instance_id
    assert (folder / "files" / "Config" / "options.lua").read_bytes() == files["Config/options.lua"]
    assert not (folder / "agent.log").exists()
    assert json.loads((folder / "ready.json").read_text())["pid"] != os.getpid()
