"""``/mission saves`` through the emulator: everyone sees a mission's campaign saves; a manager
rolls back to an earlier one from the menu, a plain member gets no menu."""

import io
import zipfile
from datetime import UTC, datetime, timedelta

import pytest

from bot.agentapi.events import DebriefFileStored
from bot.files.store import LocalObjectStore, ObjectKey
from bot.services.saves import saves_stream
from tests.cogs.conftest import World

pytestmark = pytest.mark.e2e

MISSION = "Op Snowfall"


def zipped(text: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("pretense.json", text)
    return buffer.getvalue()


async def keep_save(w: World, session_id: str, data: bytes, ended_at: datetime) -> None:
    store = w.app.files
    assert isinstance(store, LocalObjectStore)
    key = ObjectKey.debrief(w.guild_id, session_id, "save-1")
    store.path(key).parent.mkdir(parents=True, exist_ok=True)
    store.path(key).write_bytes(data)
    sent = DebriefFileStored(
        session_id=session_id,
        attempt=1,
        kind="save",
        name="Saves.zip",
        key=key,
        size=len(data),
        sha256="0" * 64,
    )
    assert await w.app.services.saves.keep(w.guild_id, MISSION, ended_at, sent) is not None


async def test_a_manager_rolls_the_campaign_back_a_member_only_sees_the_saves(
    world: World,
) -> None:
    w = world
    first_end = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)
    await keep_save(w, "session-one", zipped(b'{"turn": 1}'), first_end)
    await keep_save(w, "session-two", zipped(b'{"turn": 2}'), first_end + timedelta(days=1))

    looked = await w.emu.invoke(w.guild, w.pilot, "mission saves", {"mission": MISSION})
    shown = await looked.message()
    assert shown.ephemeral and not shown.custom_ids()
    lines = str(shown.embeds[0]["description"]).splitlines()
    assert len(lines) == 2 and lines[0].endswith("the next session loads this one")

    handle = await w.emu.invoke(w.guild, w.manager, "mission saves", {"mission": MISSION})
    menu = await handle.message()
    assert "rollback" in menu.custom_ids()
    chosen = await handle.click("rollback", values=["1"])
    await chosen.response()
    done = await w.emu.until(
        lambda: next((m for m in handle.messages if "loads the save of" in m.content), None),
        "the roll-back",
    )
    assert f"<t:{int(first_end.timestamp())}:f>" in done.content
    current = (await w.app.services.saves.saves(w.guild_id, MISSION)).current
    assert current is not None and current.session_id == "session-one"
    types = [e.type for e in await w.events() if e.stream_id == saves_stream(w.guild_id)]
    assert types == ["CampaignSaveKept", "CampaignSaveKept", "CampaignSaveChosen"]
