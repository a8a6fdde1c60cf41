"""The mission library's quota: one mission's size, and the library's count and bytes."""

import pytest

from bot.domain.mission_quota import LibraryUsage, MissionQuota, quota_refusal

QUOTA = MissionQuota.from_settings(quota_count=3, quota_mb=10, max_mb=4)
MB = 1_000_000


def test_settings_are_in_megabytes_of_a_million_bytes() -> None:
    assert MissionQuota(max_count=3, max_bytes=10 * MB, max_file_bytes=4 * MB) == QUOTA


@pytest.mark.parametrize(
    ("usage", "size"),
    [
        (LibraryUsage(0, 0), 1),
        (LibraryUsage(0, 0), 4 * MB),
        (LibraryUsage(2, 6 * MB), 4 * MB),
    ],
)
def test_a_mission_within_every_limit_is_taken(usage: LibraryUsage, size: int) -> None:
    assert quota_refusal(QUOTA, usage, size) is None


@pytest.mark.parametrize(
    ("usage", "size", "says"),
    [
        (LibraryUsage(0, 0), 0, "empty"),
        (
            LibraryUsage(0, 0),
            4 * MB + 1,
            "4,000,001 bytes; a mission may be at most 4.0 MB (4,000,000 bytes)",
        ),
        (LibraryUsage(3, MB), 1, "holds 3 missions, its limit is 3"),
        (LibraryUsage(2, 6 * MB + 1), 4 * MB, "has 3.9 MB free of 10.0 MB"),
        (LibraryUsage(1, 12 * MB), 1, "has 0.0 MB free of 10.0 MB"),
    ],
)
def test_a_mission_over_a_limit_is_refused_saying_which(
    usage: LibraryUsage, size: int, says: str
) -> None:
    refusal = quota_refusal(QUOTA, usage, size)
    assert refusal is not None and says in refusal
