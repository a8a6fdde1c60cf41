"""The mission library's rules as plain functions: who adds and removes, names, content kept
once, the quota, and choosing a session's mission among the library and the image's."""

import pytest

from bot.domain import library
from bot.domain import squadron as sq
from bot.domain.actor import Actor
from bot.domain.errors import Conflict, InvalidRequest, NotAllowed, NotFound
from bot.domain.events import MissionAdded, MissionRemoved
from bot.domain.library import MissionChoice, MissionFacts
from bot.domain.mission_quota import MissionQuota
from bot.services.streams import decide_squadron
from tests.bot.domain.streams import RECORDED_AT, Stream

GUILD = "7"
MANAGER = Actor("43", GUILD, is_manager=True)
MEMBER = Actor("42", GUILD)
OPERATOR = Actor("1", None, is_operator=True, source="admin")
QUOTA = MissionQuota(max_count=3, max_bytes=10_000, max_file_bytes=5_000)
IMAGE = "C:/DCS/Missions/Training Caucasus.miz"


def facts(sha256: str, size: int = 1_000) -> MissionFacts:
    return MissionFacts(
        sha256=sha256,
        size=size,
        filename="upload.miz",
        terrain="Caucasus",
        sortie="Strike",
        mission_start="2016-06-21T08:00:00",
        required_modules=("F-16C bl.50",),
        client_slots={"blue": 4},
        desanitized_scripting=False,
    )


def squadron() -> Stream[sq.SquadronState]:
    stream = Stream(sq.squadron_stream(GUILD), sq.evolve, sq.initial_squadron)
    stream.append(
        decide_squadron(sq.ChangeSettings(actor=MANAGER, changes={"missions": IMAGE}), stream.state)
    )
    return stream


def add(
    stream: Stream[sq.SquadronState],
    name: str,
    sha: str,
    *,
    size: int = 1_000,
    actor: Actor = MANAGER,
) -> None:
    command = sq.AddMission(actor=actor, name=name, facts=facts(sha * 64, size), quota=QUOTA)
    stream.append(decide_squadron(command, stream.state))


def test_a_manager_adds_a_mission_with_what_rr_read_from_it() -> None:
    stream = squadron()

    events = sq.decide(
        sq.AddMission(actor=MANAGER, name="  Red Flag ", facts=facts("a" * 64), quota=QUOTA),
        stream.state,
    )
    add(stream, "Red Flag", "a")

    (added,) = events
    assert isinstance(added, MissionAdded)
    assert (added.name, added.terrain, added.uploaded_by) == ("Red Flag", "Caucasus", "43")
    mission = library.find(stream.state.missions, "red flag")
    assert mission.facts == facts("a" * 64)
    assert mission.added_at == RECORDED_AT


def test_an_operator_may_add_and_a_plain_member_may_not() -> None:
    stream = squadron()
    add(stream, "Ops", "a", actor=OPERATOR)

    with pytest.raises(NotAllowed, match="Only a squadron manager can add missions"):
        add(stream, "Mine", "b", actor=MEMBER)


@pytest.mark.parametrize(
    ("name", "sha", "refusal"),
    [
        ("RED FLAG", "b", "The library already has a mission named 'RED FLAG'"),
        ("training caucasus", "b", "on the image already has a mission named"),
        ("Another", "a", "That file is already in the library as 'Red Flag'."),
    ],
)
def test_names_are_unique_across_library_and_image_and_content_is_kept_once(
    name: str, sha: str, refusal: str
) -> None:
    stream = squadron()
    add(stream, "Red Flag", "a")

    with pytest.raises(Conflict, match=refusal):
        add(stream, name, sha)


@pytest.mark.parametrize(
    "name", ["", "../etc", "a/b", "x" * 65, ".hidden", "tab\there", "ends.", "CON", "nul.x", "C:x"]
)
def test_a_name_that_cannot_be_a_file_name_is_refused(name: str) -> None:
    with pytest.raises(InvalidRequest, match="cannot name a mission"):
        add(squadron(), name, "a")


def test_the_quota_counts_missions_and_their_bytes() -> None:
    stream = squadron()
    add(stream, "One", "a", size=4_000)
    add(stream, "Two", "b", size=4_000)

    with pytest.raises(InvalidRequest, match="does not fit"):
        add(stream, "Three", "c", size=2_001)
    add(stream, "Three", "c", size=2_000)
    with pytest.raises(InvalidRequest, match="holds 3 missions, its limit is 3"):
        add(stream, "Four", "d", size=1)
    with pytest.raises(InvalidRequest, match=r"at most 0\.0 MB"):
        add(squadron(), "Big", "e", size=5_001)


def test_removing_a_mission_frees_its_name_and_room() -> None:
    stream = squadron()
    add(stream, "Red Flag", "a")

    events = sq.decide(sq.RemoveMission(actor=MANAGER, name="red flag"), stream.state)
    stream.append(decide_squadron(sq.RemoveMission(actor=MANAGER, name="red flag"), stream.state))

    assert events == [MissionRemoved(name="Red Flag", sha256="a" * 64)]
    assert not stream.state.missions
    add(stream, "Red Flag", "a")


def test_removing_needs_a_manager_and_a_mission_by_that_name() -> None:
    stream = squadron()
    add(stream, "Red Flag", "a")

    with pytest.raises(NotAllowed, match="remove missions"):
        sq.decide(sq.RemoveMission(actor=MEMBER, name="Red Flag"), stream.state)
    with pytest.raises(NotFound) as missing:
        sq.decide(sq.RemoveMission(actor=MANAGER, name="Blue Flag"), stream.state)
    assert missing.value.what == "mission"


def test_a_session_chooses_a_library_mission_or_one_on_the_image() -> None:
    stream = squadron()
    add(stream, "Red Flag", "a")
    state = stream.state

    assert library.choose(state.missions, state.settings.missions, "red flag") == (
        MissionChoice("Red Flag", "a" * 64)
    )
    assert library.choose(state.missions, state.settings.missions, "Training Caucasus") == (
        MissionChoice(IMAGE, None)
    )
    assert library.choose(state.missions, state.settings.missions, IMAGE) == (
        MissionChoice(IMAGE, None)
    )
    with pytest.raises(InvalidRequest, match="no mission named 'Blue Flag'"):
        library.choose(state.missions, state.settings.missions, "Blue Flag")
