"""The agent's clock in tests: sleeping moves time at once, and every sleep is recorded."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

from tests.fakes.clock import FakeClock


class SteppingClock:
    def __init__(self, rr_clock: FakeClock | None = None) -> None:
        self.time = 1000.0
        self.sleeps: list[float] = []
        self.on_sleep: Callable[[int], Awaitable[None]] | None = None
        """Called after each sleep with how many there have been (to change the world)."""
        self._rr_clock = rr_clock

    def now(self) -> float:
        return self.time

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.time += seconds
        if self._rr_clock is not None:
            await self._rr_clock.advance(timedelta(seconds=seconds))
        if self.on_sleep is not None:
            await self.on_sleep(len(self.sleeps))
        await asyncio.sleep(0)
