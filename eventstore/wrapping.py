"""A store that hands everything to another one: the base of stores that change one thing on
the way (sealing secrets, fencing appends) and keep the inner store's leases, checkpoints and
reads as they are."""

from collections.abc import AsyncIterator, Iterable
from datetime import datetime

from eventstore.codec import Batch, Write
from eventstore.events import Checkpoint, Position, StoredEvent
from eventstore.lease import Lease
from eventstore.store import EventStore


class WrappingStore(EventStore):
    def __init__(self, inner: EventStore) -> None:
        super().__init__(inner._clock)
        self.inner = inner

    async def append_many(
        self,
        batches: Iterable[Batch],
        *,
        idempotency_key: str | None = None,
        fence: Lease | None = None,
    ) -> list[StoredEvent]:
        return await self.inner.append_many(batches, idempotency_key=idempotency_key, fence=fence)

    async def _write(self, write: Write) -> list[StoredEvent]:
        raise NotImplementedError(f"{type(self).__name__} writes through append_many")

    def read(self, stream_id: str, after_version: int = 0) -> AsyncIterator[StoredEvent]:
        return self.inner.read(stream_id, after_version)

    def read_all(self, after: Position | None = None) -> AsyncIterator[StoredEvent]:
        return self.inner.read_all(after)

    def present_position(self) -> Position | None:
        return self.inner.present_position()

    async def _acquire(
        self, name: str, owner: str, now: datetime, expires_at: datetime
    ) -> Lease | None:
        return await self.inner._acquire(name, owner, now, expires_at)

    async def _renew(self, lease: Lease, now: datetime, expires_at: datetime) -> Lease:
        return await self.inner._renew(lease, now, expires_at)

    async def _release(self, lease: Lease, now: datetime) -> None:
        await self.inner._release(lease, now)

    async def _save_checkpoint(self, name: str, data: bytes) -> int:
        return await self.inner._save_checkpoint(name, data)

    async def load_checkpoint(self, name: str) -> Checkpoint | None:
        return await self.inner.load_checkpoint(name)

    async def close(self) -> None:
        await self.inner.close()
