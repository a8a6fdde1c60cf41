"""Time, injected: every timer in rr reads and waits through a Clock so tests can drive it."""

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, an aware UTC datetime."""
        ...

    async def sleep_until(self, when: datetime) -> None:
        """Return once ``now()`` has reached ``when`` (at once if it already has)."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, when: datetime) -> None:
        # Loop: asyncio's timers may fire a hair early, and the wall clock can be stepped while
        # the loop sleeps on the monotonic one.
        while (remaining := (when - self.now()).total_seconds()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(remaining)


class ScaledClock:
    """Sandbox time that runs ``scale`` times faster than real time, starting at ``origin``.

    ``now() = origin + real time elapsed since construction × scale``, measured on the monotonic
    clock so wall-clock steps do not move it; sleeping for a scaled hour takes ``1 h / scale``.
    """

    def __init__(self, scale: float, origin: datetime | None = None) -> None:
        if scale <= 0:
            raise ValueError(f"The time scale must be a positive number, not {scale}.")
        if origin is not None and origin.tzinfo is None:
            raise ValueError("The origin of a scaled clock must be an aware UTC datetime.")
        self.scale = scale
        self._origin = datetime.now(UTC) if origin is None else origin.astimezone(UTC)
        self._started = time.monotonic()

    def now(self) -> datetime:
        elapsed = time.monotonic() - self._started
        return self._origin + timedelta(seconds=elapsed * self.scale)

    def resume_at(self, when: datetime) -> None:
        """Show ``when`` now and run on from there (carrying an earlier run's time on)."""
        self._origin = when.astimezone(UTC)
        self._started = time.monotonic()

    async def sleep_until(self, when: datetime) -> None:
        while (remaining := (when - self.now()).total_seconds()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(remaining / self.scale)
