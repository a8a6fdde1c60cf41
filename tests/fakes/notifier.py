"""A notifier that remembers every notice, for tests to look at or wait for, and can refuse the
notices that must arrive, as Discord failing would."""

import asyncio
from collections.abc import Callable
from typing import TypeVar

from bot.notify import DeliveryFailed, Notice, must_arrive

N = TypeVar("N")

WAIT_LIMIT_SECONDS = 30.0
"""How long ``wait_for`` waits before failing the test (a bound, not a timer the test needs)."""


class RecordingNotifier:
    def __init__(self) -> None:
        self.notices: list[Notice] = []
        self.failing = 0
        """The next this many notices that must arrive fail, as Discord refusing them would."""
        self._waiters: list[tuple[Callable[[Notice], bool], asyncio.Future[Notice]]] = []

    async def notify(self, notice: Notice) -> None:
        if self.failing and must_arrive(notice):
            self.failing -= 1
            raise DeliveryFailed(f"{type(notice).__name__} refused")
        self.notices.append(notice)
        for matches, waiter in list(self._waiters):
            if not waiter.done() and matches(notice):
                waiter.set_result(notice)

    def of_type(self, kind: type[N]) -> list[N]:
        return [notice for notice in self.notices if isinstance(notice, kind)]

    async def wait_for(
        self,
        kind: type[N],
        where: Callable[[N], bool] = lambda _: True,
        *,
        limit: float = WAIT_LIMIT_SECONDS,
    ) -> N:
        """The first notice of ``kind`` matching ``where``, waiting for it if none came yet."""

        def matches(notice: Notice) -> bool:
            return isinstance(notice, kind) and where(notice)

        for notice in self.notices:
            if matches(notice):
                return notice  # type: ignore[return-value]
        waiter: asyncio.Future[Notice] = asyncio.get_running_loop().create_future()
        entry = (matches, waiter)
        self._waiters.append(entry)
        try:
            async with asyncio.timeout(limit):
                return await waiter  # type: ignore[return-value]
        finally:
            self._waiters.remove(entry)
