"""Discord snowflake ids: 64-bit integers whose top 42 bits are milliseconds since 2015-01-01."""

import time
from datetime import datetime

DISCORD_EPOCH_MS = 1_420_070_400_000


class SnowflakeFactory:
    """Issues unique, strictly increasing snowflakes stamped with the wall-clock time of issue.

    discord.py derives ``created_at`` from an id's timestamp bits, so ids look like Discord's. The
    low 22 bits (worker, process, increment) are simply a counter.

    With ``fixed_epoch`` the ids instead count up from that instant and ignore the clock, so a
    world built in the same order gets the same ids every time (Discord's ids do not change
    between a bot's restarts either).
    """

    def __init__(self, fixed_epoch: datetime | None = None) -> None:
        self._fixed = fixed_epoch is not None
        self._last = 0 if fixed_epoch is None else _stamp(fixed_epoch.timestamp())

    def next(self) -> int:
        following = self._last + 1
        self._last = following if self._fixed else max(_stamp(time.time()), following)
        return self._last


def _stamp(unix_seconds: float) -> int:
    return (int(unix_seconds * 1000) - DISCORD_EPOCH_MS) << 22


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard that receives a guild's events, by Discord's formula."""
    return (guild_id >> 22) % shard_count
