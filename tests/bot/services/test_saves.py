"""A campaign that carries on: the save a server sends back at the end is kept for the mission,
the next session of it is given the current one, and a manager may roll back to an earlier one."""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import timedelta

import pytest

from bot.agentapi import Grant
from bot.agentapi.schemas import Uploaded
from bot.files.store import LocalObjectStore, ObjectKey
from bot.services.saves import SAVE_DOWNLOAD, SaveRefused, saves_stream
from tests.bot.services.harness import GUILD, MINUTE, BotProcess, member

MISSION = "Op Snowfall.miz"


def zipped(text: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("pretense.json", text)
    return buffer.getvalue()


async def session_saving(
    bot: BotProcess, store: LocalObjectStore, save: bytes, *, kind: str = "save"
) -> str:
    """A session of MISSION that ends after its server sent ``save`` back; its id."""
    started = await bot.services.sessions.start(member(), duration_minutes=60, mission_name=MISSION)
    await bot.services.background.drain()
    ready = await bot.services.sessions.check_ready(started.session_id)
    await bot.services.agents.credentials.mint(ready.session_id, ready.attempt)
    key = ObjectKey.debrief(GUILD, ready.session_id, f"{kind}-1")
    store.path(key).parent.mkdir(parents=True, exist_ok=True)
    store.path(key).write_bytes(save)
    uploaded = Uploaded(
        kind=kind,  # type: ignore[arg-type]
        name="Saves.zip",
        size=len(save),
        sha256=hashlib.sha256(save).hexdigest(),
        key=key,
    )
    grant = Grant(ready.session_id, ready.attempt)
    await bot.services.agents.transfers.accept_uploaded(grant, [uploaded])
    await bot.clock.advance(30 * MINUTE)
    await bot.services.sessions.terminate(ready.session_id, "stopped_by_user")
    await bot.services.background.drain()
    return ready.session_id


@pytest.fixture
async def squadron(bot: BotProcess) -> None:
    await bot.fund(5_000)
    await bot.services.squadrons.change_settings(
        member(manager=True), {"missions": MISSION, "campaign_save_folder": "Missions/Saves"}
    )


async def test_the_save_sent_back_is_kept_out_of_the_debriefs_and_given_to_the_next_session(
    bot: BotProcess, objects: LocalObjectStore, squadron: None
) -> None:
    first = zipped(b'{"turn": 1}')
    await session_saving(bot, objects, first)

    saves = await bot.services.saves.saves(GUILD, MISSION)
    assert saves.current is not None
    sha = hashlib.sha256(first).hexdigest()
    assert saves.current.key == ObjectKey.content(GUILD, sha)
    assert await objects.get(ObjectKey(saves.current.key)) == first
    download = await bot.services.saves.download(GUILD, MISSION, "Missions/Saves")
    assert download is not None
    assert (download.path, download.sha256, download.unpack_to) == (
        SAVE_DOWNLOAD,
        sha,
        "Missions/Saves",
    )


async def test_a_manager_rolls_back_to_an_earlier_save_and_a_newer_save_wins_again(
    bot: BotProcess, objects: LocalObjectStore, squadron: None
) -> None:
    saves = bot.services.saves
    await session_saving(bot, objects, zipped(b'{"turn": 1}'))
    await bot.clock.advance(timedelta(hours=1))
    await session_saving(bot, objects, zipped(b'{"turn": 2}'))
    first, second = reversed((await saves.saves(GUILD, MISSION)).saves)
    assert (await saves.saves(GUILD, MISSION)).current == second

    with pytest.raises(SaveRefused, match="managers"):
        await saves.choose(member(), GUILD, MISSION, first.key)
    with pytest.raises(SaveRefused, match="no such save"):
        await saves.choose(member(manager=True), GUILD, MISSION, "squadrons/1/sha256/" + "0" * 64)
    before = await bot.types(saves_stream(GUILD))
    await saves.choose(member(manager=True), GUILD, MISSION, first.key)
    assert (await saves.saves(GUILD, MISSION)).current == first
    assert await bot.types(saves_stream(GUILD)) == [*before, "CampaignSaveChosen"]

    await bot.clock.advance(timedelta(hours=1))
    await session_saving(bot, objects, zipped(b'{"turn": 3}'))
    current = (await saves.saves(GUILD, MISSION)).current
    assert current is not None and current.key not in (first.key, second.key)


async def test_a_save_that_is_not_a_safe_zip_is_not_kept(
    bot: BotProcess, objects: LocalObjectStore, squadron: None
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../../Scripts/Hooks/evil.lua", b"os.execute('x')")
    await session_saving(bot, objects, buffer.getvalue())

    assert (await bot.services.saves.saves(GUILD, MISSION)).current is None
    assert await bot.types(saves_stream(GUILD)) == []


async def test_the_upload_asks_for_the_squadrons_save_folder(
    bot: BotProcess, objects: LocalObjectStore, squadron: None
) -> None:
    started = await bot.services.sessions.start(member(), duration_minutes=60)
    await bot.services.background.drain()

    await bot.services.debriefs.request_upload(started)

    [upload] = bot.services.agents.instructions.pending(started.session_id)
    assert upload.uploads is not None
    assert [(t.kind, t.pattern) for t in upload.uploads][-1] == ("save", "Missions/Saves")


async def test_the_next_session_of_the_mission_downloads_the_current_save_others_do_not(
    bot: BotProcess, objects: LocalObjectStore, squadron: None
) -> None:
    save = zipped(b'{"turn": 1}')
    await session_saving(bot, objects, save)
    downloads = bot.services.agents.transfers.downloads

    started = await bot.services.sessions.start(member(), duration_minutes=60, mission_name=MISSION)
    await bot.services.background.drain()
    same = await bot.services.sessions.get(started.session_id)
    [download] = await downloads.downloads_for(same.session_id, same.attempt)
    assert (download.unpack_to, download.sha256) == (
        "Missions/Saves",
        hashlib.sha256(save).hexdigest(),
    )
    assert await downloads.downloads_for(same.session_id, same.attempt + 1) == ()
    await bot.services.sessions.terminate(same.session_id, "stopped_by_user")

    started = await bot.services.sessions.start(member(), duration_minutes=60)
    await bot.services.background.drain()
    other = await bot.services.sessions.get(started.session_id)
    assert await downloads.downloads_for(other.session_id, other.attempt) == []
    await bot.services.squadrons.change_settings(
        member(manager=True), {"campaign_save_folder": "none"}
    )
    assert await downloads.downloads_for(other.session_id, other.attempt) == []
