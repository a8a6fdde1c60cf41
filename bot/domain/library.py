"""The squadron's mission library: which missions it holds, and the rules for adding, removing
and choosing them (the squadron decider applies them; `bot.domain.squadron`).

A library mission is a .miz a manager uploaded: its bytes are in the object store under its
SHA-256 (stored before `MissionAdded` is recorded), its facts (terrain, sortie, slots) are in
the event. The squadron's ``missions`` setting lists paths of missions that are on rr's server
image; they are shown and chosen beside the library's by their file name ("on the image"), and
change only with that setting. Names are unique whatever their case, across both; the same
content is kept once.
"""

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from immutables import Map

from bot.domain.errors import Conflict, InvalidRequest, NotFound
from bot.domain.mission_quota import LibraryUsage

MAX_NAME_LENGTH = 64
_NAME = re.compile(r"\w([\w .()'&+,-]*[\w)])?")
"""Letters, digits and a few marks: the name is also the mission's file name on the server
(Windows), so it neither ends in a dot or space nor is a device name."""
_DEVICE_NAMES = frozenset(
    ["con", "prn", "aux", "nul", *(f"{port}{n}" for port in ("com", "lpt") for n in range(1, 10))]
)
NAME_RULE = (
    f"1 to {MAX_NAME_LENGTH} letters, digits, spaces and . ( ) ' & + , - _, "
    "starting and ending with a letter or digit"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class MissionFacts:
    """What rr read from an uploaded .miz (the reader's summary, flattened for the event)."""

    sha256: str
    size: int
    filename: str
    """The name the file was uploaded under."""
    terrain: str
    sortie: str
    mission_start: str
    """When the mission starts in its own world, ISO-8601 without offset ("2016-06-21T08:00")."""
    required_modules: tuple[str, ...]
    client_slots: Mapping[str, int]
    """Slots players may fly, per coalition (blue, red, neutrals)."""
    desanitized_scripting: bool
    """Its scripts likely need DCS's scripting environment de-sanitized."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LibraryMission:
    name: str
    facts: MissionFacts
    uploaded_by: str
    added_at: datetime


@dataclass(frozen=True, slots=True)
class MissionChoice:
    """The mission a session runs: a library mission (its content named by ``sha256``) or a
    path on rr's server image (``sha256`` None, ``name`` the path)."""

    name: str
    sha256: str | None


def name_key(name: str) -> str:
    """Names compare without case or Unicode form: "Red Flag" and "red flag" are one."""
    return unicodedata.normalize("NFKC", name).casefold()


def image_name(path: str) -> str:
    """How a mission on the image is named: its file name without ``.miz``."""
    file_name = path.replace("\\", "/").rsplit("/", 1)[-1]
    return file_name[: -len(".miz")] if file_name.lower().endswith(".miz") else file_name


def check_name(typed: str) -> str:
    """The name as kept (trimmed), or `InvalidRequest` saying what a name may be."""
    name = unicodedata.normalize("NFC", typed.strip())
    if (
        len(name) > MAX_NAME_LENGTH
        or not _NAME.fullmatch(name)
        or name.split(".")[0].casefold() in _DEVICE_NAMES
    ):
        raise InvalidRequest(f"{typed.strip()[:80]!r} cannot name a mission: use {NAME_RULE}.")
    return name


def usage(missions: Map[str, LibraryMission]) -> LibraryUsage:
    return LibraryUsage(
        count=len(missions), bytes=sum(mission.facts.size for mission in missions.values())
    )


def require_new(
    missions: Map[str, LibraryMission], image_paths: Iterable[str], name: str, sha256: str
) -> None:
    """Refuse a name the library or the image list already has, or content already kept."""
    require_free_name(missions, image_paths, name)
    for mission in missions.values():
        if mission.facts.sha256 == sha256:
            raise Conflict(f"That file is already in the library as {mission.name!r}.")


def require_free_name(
    missions: Map[str, LibraryMission], image_paths: Iterable[str], name: str
) -> None:
    key = name_key(name)
    taken = missions.get(key)
    if taken is not None or any(name_key(image_name(path)) == key for path in image_paths):
        where = "the library" if taken is not None else "the squadron's missions on the image"
        raise Conflict(
            f"{where.capitalize()} already has a mission named {name!r}; remove it first "
            "or give this one another name."
        )


def find(missions: Map[str, LibraryMission], name: str) -> LibraryMission:
    found = missions.get(name_key(name.strip()))
    if found is None:
        raise NotFound("mission", name)
    return found


def choose(
    missions: Map[str, LibraryMission], image_paths: Iterable[str], typed: str
) -> MissionChoice:
    """The mission ``typed`` names: a library mission by name, else a mission on the image by
    its name or path; `InvalidRequest` when neither has it."""
    found = missions.get(name_key(typed.strip()))
    if found is not None:
        return MissionChoice(found.name, found.facts.sha256)
    key = name_key(typed.strip())
    for path in image_paths:
        if typed == path or name_key(image_name(path)) == key:
            return MissionChoice(path, None)
    raise InvalidRequest(
        f"The squadron has no mission named {typed.strip()[:80]!r}; pick one from the list."
    )
