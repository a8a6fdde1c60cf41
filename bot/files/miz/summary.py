"""What squadrons care about in a mission, taken from its parsed `mission` table."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Final

from pydantic import BaseModel, ConfigDict, computed_field

from bot.files.miz.errors import MizRejected
from bot.files.miz.luadata import ANY, WHOLE, Keep, LuaTable, LuaValue

CLIENT_SKILLS: Final = ("Client", "Player")
COALITIONS: Final = ("blue", "red", "neutrals")
_TERRAIN = re.compile(r"[A-Za-z0-9_ -]{1,64}")
_LATEST_START = 366 * 24 * 3600
_AGAIN = "save it again in the DCS mission editor"


def _client_type(unit: LuaTable) -> LuaValue | None:
    """A unit a player flies is kept as its aircraft type; any other unit is dropped."""
    if unit.get("skill") not in CLIENT_SKILLS:
        return None
    kind = unit.get("type")
    return kind if isinstance(kind, str) else "unknown"


def _with_units(group: LuaTable) -> LuaValue | None:
    return group if group.get("units") else None


_UNIT = Keep({"skill": WHOLE, "type": WHOLE}, _client_type)
_GROUP = Keep({"units": Keep({ANY: _UNIT})}, _with_units)
_SIDE = Keep({"country": Keep({ANY: Keep({ANY: Keep({"group": Keep({ANY: _GROUP})})})})})
MISSION_KEEP: Final = {
    "mission": Keep(
        {
            "theatre": WHOLE,
            "sortie": WHOLE,
            "date": WHOLE,
            "start_time": WHOLE,
            "requiredModules": WHOLE,
            "coalition": Keep(dict.fromkeys(COALITIONS, _SIDE)),
        }
    )
}
"""The parts of the `mission` file a summary needs; the rest is checked and dropped."""


class CoalitionSlots(BaseModel):
    model_config = ConfigDict(frozen=True)

    total: int
    by_type: dict[str, int]
    """Aircraft type (as DCS names it) -> slots."""


class DesanitizedScripting(BaseModel):
    """A heuristic; see `bot.files.miz.scripting`."""

    model_config = ConfigDict(frozen=True)

    likely_needed: bool
    modules: list[str]
    """Which of os, io, lfs and require the scripts mention."""
    found_in: list[str]


class MissionSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    terrain: str
    """The `theatre` DCS names the map by, such as Caucasus or PersianGulf."""
    sortie: str
    date: date
    start_time_seconds: int
    """Seconds after midnight of `date`; beyond a day, the mission starts on a later day."""
    required_modules: list[str]
    client_slots: dict[str, CoalitionSlots]
    desanitized_scripting: DesanitizedScripting

    @computed_field  # type: ignore[prop-decorator]
    @property
    def starts_at(self) -> datetime:
        """Local time in the mission's world when it starts."""
        return datetime.combine(self.date, datetime.min.time()) + timedelta(
            seconds=self.start_time_seconds
        )


def sortie_key(mission: LuaTable) -> str | None:
    """The dictionary key the sortie name is kept under, when it is one."""
    sortie = mission.get("sortie")
    return sortie if isinstance(sortie, str) and sortie.startswith("DictKey_") else None


def summarise(
    mission: LuaTable, dictionary: LuaTable, scripting: DesanitizedScripting
) -> MissionSummary:
    """The summary of a parsed `mission` table (kept by `MISSION_KEEP`) and its dictionary."""
    sortie = mission.get("sortie")
    if sortie_key(mission) is not None:
        sortie = dictionary.get(str(sortie))
    return MissionSummary(
        terrain=_terrain(mission.get("theatre")),
        sortie=sortie if isinstance(sortie, str) else "",
        date=_date(mission.get("date")),
        start_time_seconds=_start_time(mission.get("start_time")),
        required_modules=_modules(mission.get("requiredModules")),
        client_slots=_slots(mission.get("coalition")),
        desanitized_scripting=scripting,
    )


def _terrain(theatre: LuaValue | None) -> str:
    if not isinstance(theatre, str) or not _TERRAIN.fullmatch(theatre):
        raise MizRejected(f"The mission does not say which terrain it is set on, so {_AGAIN}.")
    return theatre


def _date(value: LuaValue | None) -> date:
    parts = value if isinstance(value, dict) else {}
    numbers = [parts.get(name) for name in ("Year", "Month", "Day")]
    try:
        if not all(isinstance(number, int) for number in numbers):
            raise ValueError
        return date(*numbers)  # type: ignore[arg-type]
    except ValueError:
        raise MizRejected(f"The mission has no valid start date, so {_AGAIN}.") from None


def _start_time(value: LuaValue | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MizRejected(f"The mission has no start time, so {_AGAIN}.")
    if not 0 <= value < _LATEST_START:
        raise MizRejected(
            f"The mission's start time is not within a year of its date, so {_AGAIN}."
        )
    return int(value)


def _modules(value: LuaValue | None) -> list[str]:
    """`requiredModules` maps each module to its name (or to true, or lists names)."""
    names = set()
    for key, item in (value if isinstance(value, dict) else {}).items():
        if isinstance(item, str):
            names.add(item)
        elif isinstance(key, str):
            names.add(key)
    return sorted(names)


def _slots(coalitions: LuaValue | None) -> dict[str, CoalitionSlots]:
    """Units a player flies, per coalition: `coalition.<side>.country[].<category>.group[]`."""
    sides = coalitions if isinstance(coalitions, dict) else {}
    slots = {}
    for side in COALITIONS:
        side_table = sides.get(side)
        if not isinstance(side_table, dict):
            continue
        types = Counter(
            kind
            for country in _tables(side_table.get("country"))
            for category in _tables(country)
            for group in _tables(category.get("group"))
            for kind in _fields(group.get("units"))
            if isinstance(kind, str)
        )
        slots[side] = CoalitionSlots(total=sum(types.values()), by_type=dict(sorted(types.items())))
    return slots


def _fields(value: LuaValue | None) -> Iterator[LuaValue]:
    """A table's values; anything else has none."""
    if isinstance(value, dict):
        yield from value.values()


def _tables(value: LuaValue | None) -> Iterator[LuaTable]:
    """The tables among a table's values: a hostile file may put anything anywhere."""
    for item in _fields(value):
        if isinstance(item, dict):
            yield item
