"""The mission library service over both object stores (a local folder, S3 on a moto server):
an upload is read safely and stored before it is recorded, a refused one records and keeps
nothing, and a session booked with a library mission carries its content and object key."""

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import dcs
import pytest

from bot.domain.actor import Actor
from bot.domain.errors import Conflict, InvalidRequest, NotAllowed, NotFound
from bot.domain.mission_quota import MissionQuota
from bot.domain.squadron import squadron_stream
from bot.files.store import ObjectKey, ObjectNotFound
from bot.services.missions import MissionLibrary
from tests.bot.files.miz.missions import MissionPlan, build_mission
from tests.bot.files.store.conftest import (
    Backend,
    local_backend,
    s3,
    s3_backend,
    s3_server,
)
from tests.bot.files.store.conftest import backend as backend_fixture
from tests.bot.services.fake_provider import FakeProvider
from tests.bot.services.harness import GUILD, HOUR, START, BotProcess, member

__all__ = ["local_backend", "s3", "s3_backend", "s3_server"]
backend = backend_fixture
QUOTA = MissionQuota(max_count=2, max_bytes=10_000_000, max_file_bytes=5_000_000)


@pytest.fixture(scope="module")
def caucasus(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    folder = tmp_path_factory.mktemp("missions")
    return build_mission(MissionPlan(sortie="Red Flag"), folder / "red_flag.miz").read_bytes()


@pytest.fixture(scope="module")
def nevada(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    folder = tmp_path_factory.mktemp("missions")
    plan = MissionPlan(terrain=dcs.terrain.Nevada, sortie="Vegas")
    return build_mission(plan, folder / "vegas.miz").read_bytes()


@pytest.fixture
async def missions(bot: BotProcess, backend: Backend) -> AsyncIterator[MissionLibrary]:
    yield MissionLibrary(
        streams=bot.services.streams,
        files=backend.store,
        quota=QUOTA,
        installed_terrains=("Caucasus", "Syria"),
    )


class Downloads:
    """Serves the file as Discord's CDN would, counting how often it was fetched."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.count = 0

    async def __call__(self) -> bytes:
        self.count += 1
        return self.data


async def upload(
    missions: MissionLibrary,
    data: bytes,
    filename: str = "red_flag.miz",
    *,
    name: str | None = None,
    size: int | None = None,
    actor: Actor | None = None,
) -> Downloads:
    download = Downloads(data)
    await missions.upload(
        actor or member(manager=True),
        filename=filename,
        size=len(data) if size is None else size,
        download=download,
        name=name,
    )
    return download


async def test_an_upload_is_stored_by_content_then_recorded_with_its_summary(
    bot: BotProcess, missions: MissionLibrary, backend: Backend, caucasus: bytes
) -> None:
    await upload(missions, caucasus)

    mission = await missions.mission(GUILD, "RED_FLAG")
    sha256 = hashlib.sha256(caucasus).hexdigest()
    assert mission.name == "red_flag"
    assert (mission.facts.sha256, mission.facts.size) == (sha256, len(caucasus))
    assert (mission.facts.terrain, mission.facts.sortie) == ("Caucasus", "Red Flag")
    assert mission.facts.mission_start == "2016-06-21T12:30:15"
    assert mission.facts.client_slots == {"blue": 2, "red": 0}
    assert await backend.store.get(ObjectKey.content(GUILD, sha256)) == caucasus
    assert await bot.types(squadron_stream(GUILD)) == ["MissionAdded"]


async def test_the_library_lists_uploads_and_the_missions_on_the_image(
    bot: BotProcess, missions: MissionLibrary, caucasus: bytes
) -> None:
    await bot.services.squadrons.change_settings(
        member(manager=True), {"missions": "C:/Missions/Training.miz"}
    )
    await upload(missions, caucasus, name="Red Flag 26-1")

    shown = await missions.library(GUILD)

    assert [m.name for m in shown.missions] == ["Red Flag 26-1"]
    assert shown.on_image == ("C:/Missions/Training.miz",)
    assert shown.used_bytes == len(caucasus)


@pytest.mark.parametrize(
    ("data", "filename", "refusal"),
    [
        (b"PK\x03\x04 not really", "broken.miz", "This file is not a DCS mission"),
        (b"-- mission = {}", "mission.lua", r"'mission\.lua' is not a \.miz file"),
    ],
)
async def test_a_file_that_is_not_a_mission_is_refused_and_nothing_kept(
    bot: BotProcess,
    missions: MissionLibrary,
    backend: Backend,
    data: bytes,
    filename: str,
    refusal: str,
) -> None:
    with pytest.raises(InvalidRequest, match=refusal):
        await upload(missions, data, filename)

    assert await bot.types(squadron_stream(GUILD)) == []
    with pytest.raises(ObjectNotFound):
        await backend.store.get(ObjectKey.content(GUILD, hashlib.sha256(data).hexdigest()))


async def test_a_mission_on_a_terrain_rr_lacks_is_refused_naming_it(
    bot: BotProcess, missions: MissionLibrary, backend: Backend, nevada: bytes
) -> None:
    with pytest.raises(InvalidRequest, match="set on Nevada, which rr's servers do not have"):
        await upload(missions, nevada, "vegas.miz")

    assert await bot.types(squadron_stream(GUILD)) == []
    assert (
        await backend.store.head(ObjectKey.content(GUILD, hashlib.sha256(nevada).hexdigest()))
        is None
    )


async def test_a_file_over_the_size_cap_is_refused_before_it_is_downloaded(
    bot: BotProcess, missions: MissionLibrary, caucasus: bytes
) -> None:
    download = Downloads(caucasus)

    with pytest.raises(InvalidRequest, match=r"a mission may be at most 5\.0 MB"):
        await missions.upload(
            member(manager=True), filename="big.miz", size=5_000_001, download=download, name=None
        )

    assert download.count == 0
    assert await bot.types(squadron_stream(GUILD)) == []


async def test_uploads_over_the_quota_and_by_members_are_refused_before_downloading(
    bot: BotProcess, missions: MissionLibrary, caucasus: bytes, tmp_path: Path
) -> None:
    await upload(missions, caucasus, name="One")
    other = build_mission(MissionPlan(sortie="Two"), tmp_path / "two.miz").read_bytes()
    await upload(missions, other, name="Two")
    third = Downloads(caucasus)

    with pytest.raises(InvalidRequest, match="holds 2 missions, its limit is 2"):
        await missions.upload(
            member(manager=True), filename="x.miz", size=10, download=third, name="Three"
        )
    with pytest.raises(NotAllowed, match="Only a squadron manager"):
        await missions.upload(member(), filename="x.miz", size=10, download=third, name="Four")

    assert third.count == 0
    assert await bot.types(squadron_stream(GUILD)) == ["MissionAdded", "MissionAdded"]


async def test_removing_a_mission_records_it_and_deletes_its_bytes(
    bot: BotProcess, missions: MissionLibrary, backend: Backend, caucasus: bytes
) -> None:
    await upload(missions, caucasus, name="Red Flag")

    removed = await missions.remove(member(manager=True), "red flag")

    assert removed.name == "Red Flag"
    assert (await missions.library(GUILD)).missions == []
    assert await backend.store.head(ObjectKey.content(GUILD, removed.facts.sha256)) is None
    with pytest.raises(NotFound):
        await missions.remove(member(manager=True), "Red Flag")


async def test_a_session_booked_with_a_library_mission_carries_its_content_and_key(
    bot: BotProcess, missions: MissionLibrary, caucasus: bytes
) -> None:
    await upload(missions, caucasus, name="Red Flag")
    await bot.fund(10_000)
    sha256 = hashlib.sha256(caucasus).hexdigest()

    booked = await bot.services.sessions.book(
        member(manager=True),
        start_at=START + 2 * HOUR,
        duration_minutes=60,
        mission_name="red flag",
    )

    assert booked.mission_name == "Red Flag"
    assert booked.mission_sha256 == sha256
    assert booked.mission_key == f"squadrons/{GUILD}/sha256/{sha256}"
    with pytest.raises(Conflict, match="booked or running with 'Red Flag'"):
        await missions.remove(member(manager=True), "Red Flag")


async def test_a_server_started_with_a_library_mission_lists_it_where_it_fetches_it(
    bot: BotProcess, missions: MissionLibrary, provider: FakeProvider, caucasus: bytes
) -> None:
    await upload(missions, caucasus, name="Red Flag")
    await bot.fund(10_000)

    await bot.services.sessions.start(
        member(manager=True), duration_minutes=60, mission_name="Red Flag"
    )
    await bot.services.background.drain()

    (launch,) = provider.launch_calls
    server_settings = launch.files["Config/serverSettings.lua"].decode()
    assert '"Missions/Red Flag.miz"' in server_settings
