"""Rate-limit headers consistent with Discord's, from a fixed window per bucket.

Each bucket (method, route and its major parameter) allows ``limit`` requests per ``window``
seconds of real monotonic time; the headers report what is left and when it resets, so
discord.py paces itself exactly as against Discord. Deliberate difference: the emulator never
answers 429 itself, it only reports; windows use real time, not the injectable interaction clock,
because they pace a real HTTP client.
"""

import hashlib
import time
from collections.abc import Callable

from aiohttp import web

from discord_emulator.core import API
from discord_emulator.http import Handler

SWEEP_FROM = 1024
"""Buckets tracked before passed windows are swept out (then twice as many as remain)."""
MAJOR_PARAMETERS = ("channel_id", "guild_id", "webhook_id", "token", "interaction_id")


class RateLimits:
    def __init__(
        self, limit: int = 50, window: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}
        self._sweep_at = SWEEP_FROM

    def __len__(self) -> int:
        """How many buckets are tracked: those whose window has passed are forgotten from time to
        time (each interaction token is a bucket of its own, so they would pile up for ever)."""
        return len(self._windows)

    def take(self, bucket: str) -> dict[str, str]:
        """Count one request against ``bucket`` and return the headers describing the rest."""
        now = self._clock()
        if len(self._windows) >= self._sweep_at:
            self._forget_passed_windows(now)
        start, used = self._windows.get(bucket, (now, 0))
        if now - start >= self._window:
            start, used = now, 0
        used += 1
        self._windows[bucket] = (start, used)
        reset_after = max(start + self._window - now, 0.0)
        return {
            "X-RateLimit-Limit": str(self._limit),
            "X-RateLimit-Remaining": str(max(self._limit - used, 0)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": hashlib.sha256(bucket.encode()).hexdigest()[:32],
        }

    def _forget_passed_windows(self, now: float) -> None:
        self._windows = {
            bucket: (start, used)
            for bucket, (start, used) in self._windows.items()
            if now - start < self._window
        }
        self._sweep_at = max(SWEEP_FROM, 2 * len(self._windows))

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if request.path.startswith(API):
            response.headers.update(self.take(_bucket(request)))
        return response


def _bucket(request: web.Request) -> str:
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else request.path
    major = [request.match_info.get(name, "") for name in MAJOR_PARAMETERS]
    return " ".join([request.method, route, *major])
