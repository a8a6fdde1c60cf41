"""Time, injected, so the agent's timers are tested without sleeping."""

import asyncio
import time
from typing import Protocol


class AgentClock(Protocol):
    def now(self) -> float:
        """Seconds on a clock that never goes backwards."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class MonotonicClock:
    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
