"""``/admin history``: a stream's events in pages of whole lines, newest first."""

import pytest

from cogs.admin import pages
from discord_emulator import Message
from eventstore import NewEvent
from tests.cogs.conftest import World

pytestmark = pytest.mark.e2e


def test_pages_keep_lines_whole_and_put_the_newest_first() -> None:
    lines = [f"line {n:02d} " + "x" * 30 for n in range(10)]
    packed = pages(lines, 100)
    assert all(len(page) <= 100 for page in packed)
    assert [page.splitlines() for page in packed] == [
        lines[8:10],
        lines[6:8],
        lines[4:6],
        lines[2:4],
        lines[0:2],
    ]
    assert pages(["y" * 150], 100) == ["y" * 99 + "…"]


async def test_admin_history_pages_through_a_long_stream(world: World) -> None:
    w = world
    for _ in range(30):
        await w.fund(100)
    handle = await w.emu.invoke(
        w.ops_guild, w.operator, "admin history", {"stream": f"squadron#{w.guild_id}"}
    )
    first = await handle.message()
    assert first.ephemeral
    header, *lines = first.content.splitlines()
    assert header.startswith("Page 1 of ") and header.endswith(", newest first")
    count = int(header.split()[3].rstrip(","))
    assert count > 1
    seen: list[str] = []
    page: Message = first
    for number in range(1, count + 1):
        assert len(page.content) <= 2000
        header, *lines = page.content.splitlines()
        assert header.startswith(f"Page {number} of {count}")
        # An event longer than a page (the whole settings) is cut with an ellipsis.
        assert all(line.startswith("`") and line.endswith(("}", "…")) for line in lines)
        seen = lines + seen
        if number < count:
            await (await handle.click("older")).response()
            page = await w.emu.until(
                lambda n=number: next(
                    (m for m in handle.messages if m.content.startswith(f"Page {n + 1} ")), None
                ),
                "the next page",
            )
    versions = [int(line.split("`")[1]) for line in seen]
    assert versions == list(range(1, len(versions) + 1))
    assert sum("CreditsGranted" in line for line in seen) == 30


async def test_admin_history_names_an_event_stored_under_an_old_type_name(world: World) -> None:
    w = world
    old = NewEvent("MissionCancelled", {"reason": "admin"})
    await w.app.services.store.append("mission#m-old", 0, [old])
    handle = await w.emu.invoke(
        w.ops_guild, w.operator, "admin history", {"stream": "mission#m-old"}
    )
    content = (await handle.message()).content
    assert "**SessionCancelled (stored as MissionCancelled)**" in content
