"""Helpers for tests of the lease on a fake clock over stores that answer from threads."""

import asyncio
from collections.abc import AsyncIterator, Iterable
from datetime import datetime, timedelta

from bot.leadership import FencedStore
from eventstore import EventStore, Lease, StoredEvent
from eventstore.codec import Batch
from tests.fakes.clock import FakeClock, settle

QUIET_LIMIT_SECONDS = 30.0


class Tracked(FencedStore):
    """A store counting the calls under way, so that a test lets them finish before it moves
    the fake clock on (SQLite and DynamoDB answer from threads the clock knows nothing of)."""

    def __init__(self, inner: EventStore) -> None:
        super().__init__(inner)
        self.busy = 0

    async def append_many(
        self,
        batches: Iterable[Batch],
        *,
        idempotency_key: str | None = None,
        fence: Lease | None = None,
    ) -> list[StoredEvent]:
        self.busy += 1
        try:
            return await super().append_many(batches, idempotency_key=idempotency_key, fence=fence)
        finally:
            self.busy -= 1

    async def _acquire(
        self, name: str, owner: str, now: datetime, expires_at: datetime
    ) -> Lease | None:
        self.busy += 1
        try:
            return await super()._acquire(name, owner, now, expires_at)
        finally:
            self.busy -= 1

    async def _renew(self, lease: Lease, now: datetime, expires_at: datetime) -> Lease:
        self.busy += 1
        try:
            return await super()._renew(lease, now, expires_at)
        finally:
            self.busy -= 1

    async def read(self, stream_id: str, after_version: int = 0) -> AsyncIterator[StoredEvent]:
        self.busy += 1
        try:
            async for event in self.inner.read(stream_id, after_version):
                yield event
        finally:
            self.busy -= 1

    async def quiet(self) -> None:
        """Return once no call is under way and the loop has nothing left to run."""
        async with asyncio.timeout(QUIET_LIMIT_SECONDS):
            while True:
                await settle()
                if self.busy == 0:
                    await settle()
                    if self.busy == 0:
                        return
                await asyncio.sleep(0.001)


async def walk(clock: FakeClock, until: datetime, store: Tracked, step: timedelta) -> None:
    """Move the clock to ``until`` in steps, letting the store's calls finish after each."""
    await store.quiet()
    while clock.now() < until:
        await clock.set(min(until, clock.now() + step))
        await store.quiet()
