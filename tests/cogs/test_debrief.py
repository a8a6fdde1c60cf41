"""The debrief as a squadron sees it in Discord (unmodified discord.py on the emulator): one
message after the session, the pilots escaped, the cost, and a download link that works."""

import hashlib
from datetime import timedelta

import aiohttp
import pytest

from bot.agentapi import Grant
from bot.agentapi.schemas import Heartbeat, Player, Uploaded
from bot.files.store import LocalObjectStore, ObjectKey
from tests.cogs.conftest import World
from tests.cogs.test_commands import newest, start_server

pytestmark = pytest.mark.e2e

TACVIEW = b"FileType=text/acmi/tacview\nFileVersion=2.2\n"


async def test_the_debrief_names_the_pilots_and_links_each_file_until_it_expires(
    world: World,
) -> None:
    w = world
    await w.fund(5000)
    session = await start_server(w)
    agents = w.app.services.agents
    await agents.credentials.mint(session.session_id, session.attempt)
    grant = Grant(session.session_id, session.attempt)
    players = [
        Player(id=2, name="Viper 1-1", side=2, slot="1"),
        Player(id=3, name="@everyone *bold*", side=1, slot="2"),
        Player(id=4, name="Spectator", side=0, slot=""),
    ]
    beat = Heartbeat(seq=1, state="running", mission="Op", players=players, acked=[])
    await agents.heartbeats.accept(grant, beat)
    store = w.app.files
    assert isinstance(store, LocalObjectStore)
    key = ObjectKey.debrief(w.guild_id, session.session_id, "tacview-1")
    store.path(key).parent.mkdir(parents=True, exist_ok=True)
    store.path(key).write_bytes(TACVIEW)
    sha = hashlib.sha256(TACVIEW).hexdigest()
    uploaded = Uploaded(kind="tacview", name="Op.acmi", size=len(TACVIEW), sha256=sha, key=key)
    await agents.transfers.accept_uploaded(grant, [uploaded])
    stopped = Heartbeat(seq=2, state="stopped", mission="Op", players=[], acked=[])
    await agents.heartbeats.accept(grant, stopped)  # the mission ended before the stop
    await w.advance(timedelta(minutes=30))

    handle = await w.emu.invoke(w.guild, w.manager, "server stop")
    await handle.message()
    await (await handle.click("confirm")).response()
    await w.app.services.background.drain()
    message = await w.emu.until(
        lambda: newest(w.emu.channel_messages(w.reminders), "the debrief of"), "the debrief"
    )

    [embed] = message.embeds
    description = str(embed["description"])
    assert "Viper 1-1" in description and "Spectator" not in description
    assert "@everyone" not in description.replace("@\u200beveryone", "")
    assert "\\*bold\\*" in description
    assert "Cost: 31 minutes billed" in description
    ended = await w.app.services.sessions.get(session.session_id)
    assert ended.ended_at is not None
    expires = ended.ended_at + timedelta(days=7)
    assert f"Links expire on <t:{int(expires.timestamp())}:D>; files are deleted then." in (
        description
    )
    [field] = embed["fields"]
    assert field["name"].startswith("Tacview: Op.acmi")
    url = str(field["value"]).removeprefix("[Download](").removesuffix(")")
    async with aiohttp.ClientSession() as http, http.get(url) as reply:
        assert (reply.status, await reply.read()) == (200, TACVIEW)
