"""How much a squadron's mission library may hold: a pure rule over what it holds already.

The usage comes from the library's events (missions added less missions removed); the bytes
are in the object store. Settings: RR_FILES_MISSION_MAX_MB (one mission), and
RR_FILES_MISSION_QUOTA_COUNT and RR_FILES_MISSION_QUOTA_MB (the whole library). A megabyte here
is 1,000,000 bytes. A mission whose content the library holds already is not a new one (the
store keeps one copy per content): the caller does not ask for it.
"""

from dataclasses import dataclass

BYTES_PER_MB = 1_000_000


@dataclass(frozen=True)
class MissionQuota:
    max_count: int
    max_bytes: int
    max_file_bytes: int

    @classmethod
    def from_settings(cls, quota_count: int, quota_mb: int, max_mb: int) -> "MissionQuota":
        return cls(quota_count, quota_mb * BYTES_PER_MB, max_mb * BYTES_PER_MB)


@dataclass(frozen=True)
class LibraryUsage:
    """What a squadron's library holds now."""

    count: int
    bytes: int


def quota_refusal(quota: MissionQuota, usage: LibraryUsage, size: int) -> str | None:
    """Why the library may not take a new mission of ``size`` bytes, in a sentence for the
    member; None when it may."""
    if size <= 0:
        return "That file is empty: a mission has at least one byte."
    if size > quota.max_file_bytes:
        return (
            f"That mission is {size:,} bytes; a mission may be at most "
            f"{_mb(quota.max_file_bytes)} ({quota.max_file_bytes:,} bytes)."
        )
    if usage.count + 1 > quota.max_count:
        return (
            f"Your squadron's library holds {usage.count} missions, its limit is "
            f"{quota.max_count}: remove one to add another."
        )
    if usage.bytes + size > quota.max_bytes:
        free = max(quota.max_bytes - usage.bytes, 0)
        return (
            f"That mission ({_mb(size)}) does not fit: your squadron's library has "
            f"{_mb(free)} free of {_mb(quota.max_bytes)}. Remove missions to make room."
        )
    return None


def _mb(size: int) -> str:
    """Rounded down to 0.1 MB, so that a size over a limit never shows as equal to it."""
    return f"{size // (BYTES_PER_MB // 10) / 10:,.1f} MB"
