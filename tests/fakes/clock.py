"""A clock that only moves when a test moves it; nothing ever sleeps for real."""

import asyncio
import heapq
import itertools
from datetime import datetime, timedelta

_SETTLE_ROUNDS = 100
"""Loop turns given to woken sleepers after each wake-up: enough for a chain of actor hops,
tasks and in-memory store appends to finish, and no real time at all."""


class FakeClock:
    """A Clock for tests: ``sleep_until`` resolves only when ``advance``/``set`` reaches it.

    Time moves from deadline to deadline: each sleeper whose deadline falls inside the step is
    woken with ``now()`` equal to its deadline, in deadline order, and the loop is given turns
    to let it run (and perhaps go back to sleep) before the next one.
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware UTC start time.")
        self._now = start
        self._sleepers: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> datetime:
        return self._now

    async def sleep_until(self, when: datetime) -> None:
        if when <= self._now:
            await asyncio.sleep(0)
            return
        waiter = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (when, next(self._order), waiter))
        await waiter

    def deadlines(self) -> list[datetime]:
        """The deadlines of everyone still sleeping, earliest first."""
        return sorted(when for when, _, waiter in self._sleepers if not waiter.done())

    async def advance(self, delta: timedelta) -> None:
        if delta < timedelta(0):
            raise ValueError("A clock cannot go backwards.")
        await self.set(self._now + delta)

    async def set(self, when: datetime) -> None:
        if when < self._now:
            raise ValueError("A clock cannot go backwards.")
        while self._sleepers and self._sleepers[0][0] <= when:
            deadline, _, waiter = heapq.heappop(self._sleepers)
            if waiter.done():
                continue
            self._now = deadline
            waiter.set_result(None)
            await settle()
        self._now = when
        await settle()


async def settle() -> None:
    """Give the loop enough turns for everything runnable right now to run to its next wait."""
    for _ in range(_SETTLE_ROUNDS):
        await asyncio.sleep(0)
