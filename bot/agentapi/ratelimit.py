"""A token bucket per key (a launch's credential), on an injected clock."""

from collections.abc import Callable
from datetime import datetime

from cachetools import LRUCache

MAX_KEYS = 100_000
"""Buckets kept; the least recently used is dropped first (it would be full again anyway)."""


class RateLimiter:
    """``burst`` requests at once, then ``per_second`` on average."""

    def __init__(self, per_second: float, burst: int, now: Callable[[], datetime]) -> None:
        self._rate = per_second
        self._burst = float(burst)
        self._now = now
        self._buckets: LRUCache[str, tuple[float, float]] = LRUCache(MAX_KEYS)

    def take(self, key: str) -> float:
        """Take one token; 0.0 if allowed, else the seconds until a token is available."""
        now = self._now().timestamp()
        tokens, at = self._buckets.get(key, (self._burst, now))
        tokens = min(self._burst, tokens + (now - at) * self._rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self._rate
        self._buckets[key] = (tokens - 1.0, now)
        return 0.0
