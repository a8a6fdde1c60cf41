"""The debrief as a squadron sees it in Discord (unmodified discord.py on the emulator), through
the real loop: pilots join the stand-in server, a member stops it, the graceful end asks its
stand-in DCS to end the mission, the real agent uploads the Tacview recording and the log through
rr's links, and one message names the pilots (escaped), the cost, and a download link per file
that serves exactly what the server wrote."""

import re
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from bot.cloud.local import LocalProvider, Pilot
from tests.cogs.conftest import World
from tests.cogs.test_commands import newest, start_server

pytestmark = pytest.mark.e2e

PILOTS = [
    Pilot("Viper 1-1", 2, "F-16C_50"),
    Pilot("@everyone *bold*", 1, "Su-27"),
    Pilot("Spectator", 0),
]
LINK = re.compile(r"^\[Download\]\((http[^)]+)\)$")


async def test_the_debrief_names_the_pilots_and_links_each_file_until_it_expires(
    world: World, tmp_path: Path
) -> None:
    w = world
    await w.fund(5000)
    session = await start_server(w)
    provider = w.app.services.provider
    assert isinstance(provider, LocalProvider) and session.instance_id is not None
    assert await provider.set_players(session.instance_id, PILOTS)
    ledger = w.app.services.agents.transfers.ledger

    async def pilots_seen() -> tuple[str, ...] | None:
        pilots = (await ledger.record(session.session_id)).pilots
        return pilots if len(pilots) == 2 else None

    assert await w.until(pilots_seen, "the pilots in a slot") == ("Viper 1-1", "@everyone *bold*")
    await w.advance(timedelta(minutes=30))

    handle = await w.emu.invoke(w.guild, w.manager, "server stop")
    await handle.message()
    await (await handle.click("confirm")).response()
    ended = await w.ended(session.session_id)
    message = await w.emu.until(
        lambda: newest(w.emu.channel_messages(w.reminders), "the debrief of"), "the debrief"
    )

    [embed] = message.embeds
    description = str(embed["description"])
    assert "Viper 1-1" in description and "Spectator" not in description
    assert "@everyone" not in description.replace("@\u200beveryone", "")
    assert "\\*bold\\*" in description
    assert "Cost: 31 minutes billed" in description
    assert ended.ended_at is not None
    expires = ended.ended_at + timedelta(days=7)
    assert f"Links expire on <t:{int(expires.timestamp())}:D>; files are deleted then." in (
        description
    )
    write_folder = tmp_path / "instances" / session.instance_id / "files"
    [recording] = (write_folder / "Tracks" / "Tacview").glob("*.acmi")
    written = {
        f"Tacview: {recording.name}": recording.read_bytes(),
        "Log: dcs.log": (write_folder / "Logs" / "dcs.log").read_bytes(),
    }
    assert b"Pilot=Viper 1-1" in written[f"Tacview: {recording.name}"]
    fetched = {}
    async with aiohttp.ClientSession() as http:
        for field in embed["fields"]:
            link = LINK.match(str(field["value"]))
            assert link is not None, field
            async with http.get(link.group(1)) as reply:
                assert reply.status == 200
                fetched[str(field["name"]).rsplit(" (", 1)[0]] = await reply.read()
    assert fetched == written
