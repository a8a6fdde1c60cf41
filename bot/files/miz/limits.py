"""How much of an uploaded mission rr is willing to read."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.domain.mission_quota import BYTES_PER_MB as MB
from bot.files.miz.luadata import LuaLimits


@dataclass(frozen=True, slots=True)
class MizLimits:
    """Bounds on an uploaded .miz; `max_file_bytes` comes from `RR_FILES_MISSION_MAX_MB`.

    Zip headers state each file's sizes, and Python's zipfile never unpacks more than stated
    (it checks the CRC at the end), so the stated sizes bound the work; a zip bomb is refused
    by its stated total or its ratio before anything is unpacked.
    """

    max_file_bytes: int = 100 * MB
    max_entries: int = 2000
    max_unpacked_bytes: int = 500 * MB
    max_compression_ratio: int = 200
    """Unpacked total over packed size; missions packed by DCS are near 40, zip bombs near 1000."""
    max_mission_bytes: int = 150 * MB
    """Each Lua data file (`mission`, `options`, dictionaries...) unpacked: all are parsed."""
    lua: LuaLimits = field(default_factory=LuaLimits)
    chunk_bytes: int = 256 * 1024
    """How much is unpacked at a time: peak memory is a few chunks, whatever the file's size."""
