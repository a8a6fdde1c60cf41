"""Discord snowflake ids: 64-bit integers whose top 42 bits are milliseconds since 2015-01-01."""

import time

DISCORD_EPOCH_MS = 1_420_070_400_000


class SnowflakeFactory:
    """Issues unique, strictly increasing snowflakes stamped with the wall-clock time of issue.

    discord.py derives ``created_at`` from an id's timestamp bits, so ids look like Discord's. The
    low 22 bits (worker, process, increment) are simply a counter.
    """

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        stamped = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last = max(stamped, self._last + 1)
        return self._last


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard that receives a guild's events, by Discord's formula."""
    return (guild_id >> 22) % shard_count
