"""/mission upload, list, info and remove, and choosing a library mission for a server, through
the unmodified discord.py client and the emulator, with real .miz files made by pydcs. Every
refusal is one private sentence and records nothing."""

import io
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import dcs
import pytest

from discord_emulator import Upload, User
from tests.bot.files.miz.missions import MissionPlan, build_mission
from tests.cogs.conftest import World, running_world

MIZ = "application/zip"


@pytest.fixture(scope="module")
def caucasus(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    folder = tmp_path_factory.mktemp("missions")
    plan = MissionPlan(sortie="Red Flag", blue_clients=4, red_clients=2)
    return build_mission(plan, folder / "red_flag.miz").read_bytes()


@pytest.fixture(scope="module")
def nevada(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    folder = tmp_path_factory.mktemp("missions")
    plan = MissionPlan(terrain=dcs.terrain.Nevada, sortie="Vegas")
    return build_mission(plan, folder / "vegas.miz").read_bytes()


@pytest.fixture
async def small_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    """A world whose library holds one mission of at most 1 MB."""
    limits = {"RR_FILES_MISSION_QUOTA_COUNT": "1", "RR_FILES_MISSION_MAX_MB": "1"}
    async with running_world(tmp_path, monkeypatch, env=limits) as started:
        yield started


async def run(w: World, user: User, command: str, options: dict[str, Any]) -> str:
    handle = await w.emu.invoke(w.guild, user, command, options)
    reply = await handle.message()
    assert reply.ephemeral, reply.content
    return reply.content if not reply.embeds else reply.content + repr(reply.embeds)


async def library_events(w: World) -> list[str]:
    return [e.type for e in await w.events() if e.type.startswith("Mission")]


async def test_a_manager_uploads_a_mission_then_everyone_lists_it_and_reads_it(
    world: World, caucasus: bytes
) -> None:
    w = world
    upload = Upload("red_flag.miz", MIZ, caucasus)

    added = await (
        await w.emu.invoke(w.guild, w.manager, "mission upload", {"file": upload})
    ).message()
    listed = await (await w.emu.invoke(w.guild, w.pilot, "mission list", {})).message()
    info = await (
        await w.emu.invoke(w.guild, w.pilot, "mission info", {"name": "RED_FLAG"})
    ).message()

    assert added.ephemeral
    assert added.content.startswith("Added **red_flag** to the library")
    fields = {f["name"]: f["value"] for f in info.embeds[0]["fields"]}
    assert info.embeds[0]["title"] == "red_flag"
    assert info.embeds[0]["description"] == "Red Flag"
    assert (fields["Terrain"], fields["Player slots"]) == ("Caucasus", "Blue 4, Red 2")
    assert fields["Starts"] == "2016-06-21 12:30"
    assert "**red_flag** · Caucasus · Blue 4, Red 2" in listed.embeds[0]["description"]
    assert listed.embeds[0]["footer"]["text"].startswith("1 of 50 missions")
    assert await library_events(w) == ["MissionAdded"]


async def test_library_missions_are_offered_by_name_and_a_server_starts_with_one(
    world: World, caucasus: bytes
) -> None:
    w = world
    await w.fund(5000)
    options = {"file": Upload("red_flag.miz", MIZ, caucasus), "name": "Red Flag 26-1"}
    await (await w.emu.invoke(w.guild, w.manager, "mission upload", options)).message()

    to_remove = await w.emu.autocomplete(
        w.guild, w.manager, "mission remove", {"name": "red"}, focused="name"
    )
    to_fly = await w.emu.autocomplete(
        w.guild,
        w.manager,
        "server start",
        {"duration": "1h", "mission": "26"},
        focused="mission",
    )
    start = await w.emu.invoke(
        w.guild, w.manager, "server start", {"duration": "1h", "mission": "Red Flag 26-1"}
    )
    await start.message()
    confirm = await start.click("confirm")
    await confirm.response()
    await w.app.services.background.drain()

    assert [c["value"] for c in to_remove] == ["Red Flag 26-1"]
    assert [c["value"] for c in to_fly] == ["Red Flag 26-1"]
    (session,) = await w.app.services.sessions.for_guild(w.guild_id)
    assert session.mission_name == "Red Flag 26-1"
    assert session.mission_key is not None
    assert session.mission_key.startswith(f"squadrons/{w.guild_id}/sha256/")


async def test_a_manager_removes_a_mission(world: World, caucasus: bytes) -> None:
    w = world
    options = {"file": Upload("red_flag.miz", MIZ, caucasus)}
    await (await w.emu.invoke(w.guild, w.manager, "mission upload", options)).message()

    removed = await run(w, w.manager, "mission remove", {"name": "red_flag"})
    listed = await run(w, w.pilot, "mission list", {})

    assert removed == "Removed **red_flag** from the library."
    assert "No missions uploaded yet" in listed
    assert await library_events(w) == ["MissionAdded", "MissionRemoved"]


def _with_traversal(mission: bytes) -> bytes:
    buffer = io.BytesIO(mission)
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("../../Scripts/evil.lua", "os.execute('format c:')")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("who", "filename", "make", "expected"),
    [
        ("pilot", "red_flag.miz", "caucasus", "Only squadron managers"),
        ("manager", "notes.txt", "caucasus", "is not a .miz file"),
        ("manager", "junk.miz", "junk", "This file is not a DCS mission"),
        ("manager", "evil.miz", "traversal", "outside"),
        ("manager", "vegas.miz", "nevada", "set on Nevada, which rr's servers do not have"),
    ],
)
async def test_a_refused_upload_gets_one_sentence_and_records_nothing(
    world: World,
    caucasus: bytes,
    nevada: bytes,
    who: str,
    filename: str,
    make: str,
    expected: str,
    tmp_path: Path,
) -> None:
    w = world
    files = {
        "caucasus": caucasus,
        "nevada": nevada,
        "junk": b"MZ\x90\x00 not a zip at all",
        "traversal": _with_traversal(caucasus),
    }
    user = w.pilot if who == "pilot" else w.manager

    text = await run(w, user, "mission upload", {"file": Upload(filename, MIZ, files[make])})

    assert expected in text
    assert "error id" not in text
    assert text.count(". ") <= 1
    assert await library_events(w) == []
    assert not [path for path in (tmp_path / "files").rglob("*") if path.is_file()]


async def test_too_big_and_over_quota_are_refused_before_anything_is_kept(
    small_library: World, caucasus: bytes, tmp_path: Path
) -> None:
    w = small_library
    too_big = Upload("big.miz", MIZ, bytes(1_000_001))
    await (
        await w.emu.invoke(
            w.guild, w.manager, "mission upload", {"file": Upload("a.miz", MIZ, caucasus)}
        )
    ).message()
    second = build_mission(MissionPlan(sortie="Two"), tmp_path / "two.miz").read_bytes()

    big = await run(w, w.manager, "mission upload", {"file": too_big})
    full = await run(w, w.manager, "mission upload", {"file": Upload("two.miz", MIZ, second)})

    assert "a mission may be at most 1.0 MB" in big
    assert "holds 1 missions, its limit is 1: remove one to add another." in full
    assert await library_events(w) == ["MissionAdded"]
    stored = [p for p in (tmp_path / "files").rglob("*") if p.is_file()]
    assert len(stored) == 1


async def test_info_and_remove_of_an_unknown_mission_say_so(world: World) -> None:
    w = world
    info = await run(w, w.pilot, "mission info", {"name": "Blue Flag"})
    remove = await run(w, w.manager, "mission remove", {"name": "Blue Flag"})

    assert (
        info == remove == ("The squadron's library has no mission by that name; see /mission list.")
    )
