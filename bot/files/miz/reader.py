"""Reading an uploaded .miz: the archive checked, its Lua data parsed as data, a summary."""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Mapping
from typing import BinaryIO

from bot.files.miz.archive import DICTIONARY, MISSION, MizArchive
from bot.files.miz.errors import MizRejected
from bot.files.miz.limits import MizLimits
from bot.files.miz.luadata import WHOLE, Keep, LuaDataError, LuaValue, parse_lua_data
from bot.files.miz.scripting import SanitizedUses
from bot.files.miz.summary import (
    MISSION_KEEP,
    DesanitizedScripting,
    MissionSummary,
    sortie_key,
    summarise,
)

_AGAIN = "save the mission again from the DCS mission editor and upload that file"


def read_mission(file: BinaryIO, limits: MizLimits | None = None) -> MissionSummary:
    """The summary of the .miz in `file`, or `MizRejected` saying in one sentence why not.

    Every file DCS loads as Lua (the mission, options, warehouses, dictionaries) is parsed as
    data, because DCS would run whatever code a stranger hid in any of them.
    """
    limits = limits or MizLimits()
    uses = SanitizedUses()
    with MizArchive(file, limits) as archive:
        mission = _parse(archive, MISSION, MISSION_KEEP, uses, limits).get("mission")
        if not isinstance(mission, dict):
            raise MizRejected(f"The 'mission' file inside this .miz holds no mission, so {_AGAIN}.")
        key = sortie_key(mission)
        dictionary: LuaValue | None = None
        for name in archive.data_files():
            if name == DICTIONARY:
                keep = {"dictionary": Keep({key: WHOLE})} if key else {}
                dictionary = _parse(archive, name, keep, uses, limits).get("dictionary")
            elif name != MISSION:
                _parse(archive, name, {}, uses, limits)
        for name in archive.names():
            if name.lower().endswith(".lua"):
                deque(uses.scan(name, archive.chunks(name)), maxlen=0)
    scripting = DesanitizedScripting(
        likely_needed=bool(uses.modules), modules=sorted(uses.modules), found_in=uses.places
    )
    return summarise(mission, dictionary if isinstance(dictionary, dict) else {}, scripting)


def check_terrain(summary: MissionSummary, installed: Collection[str]) -> None:
    """Refuse a mission whose terrain rr's server image does not have."""
    if summary.terrain not in installed:
        raise MizRejected(
            f"This mission is set on {summary.terrain}, which rr's servers do not have "
            f"(they have {', '.join(sorted(installed)) or 'no terrain listed'}), so choose "
            "a mission on one of those."
        )


def _parse(
    archive: MizArchive,
    name: str,
    keep: Mapping[str, Keep],
    uses: SanitizedUses,
    limits: MizLimits,
) -> dict[str, LuaValue]:
    try:
        return parse_lua_data(uses.scan(name, archive.chunks(name)), keep, limits.lua)
    except LuaDataError as error:
        raise MizRejected(
            f"The {name!r} file inside this .miz is not plain mission data ({error}), "
            f"so rr will not load it; {_AGAIN}."
        ) from None
