"""An in-process store for tests and experiments: the same contract, nothing persisted."""

from collections.abc import AsyncIterator
from datetime import datetime

from eventstore import lease as leases
from eventstore.codec import IDEMPOTENCY_KEY_TTL, Record, Write, int_position, parse_time, utc_now
from eventstore.errors import AlreadyAppended, ConcurrencyError, LeaseLost
from eventstore.events import Checkpoint, Position, StoredEvent
from eventstore.lease import Lease
from eventstore.store import Clock, EventStore


class MemoryEventStore(EventStore):
    """Keeps records (JSON text, like every backend) in lists; the position is the feed index.

    Each request completes without awaiting, so it is atomic with respect to other coroutines.
    """

    def __init__(self, clock: Clock = utc_now) -> None:
        super().__init__(clock)
        self._feed: list[Record] = []
        self._streams: dict[str, list[int]] = {}
        self._idempotency_keys: dict[str, datetime] = {}
        self._leases: dict[str, Lease] = {}
        self._checkpoints: dict[str, Checkpoint] = {}

    async def _write(self, write: Write) -> list[StoredEvent]:
        now = parse_time(write.recorded_at)
        key = write.idempotency_key
        used = self._idempotency_keys.get(key) if key is not None else None
        if key is not None and used is not None and now - used < IDEMPOTENCY_KEY_TTL:
            raise AlreadyAppended(key)
        fence = write.fence
        if fence is not None and not leases.holds(self._leases.get(fence.name), fence, now):
            raise LeaseLost(fence.name, fence.token)
        for stream in write.streams:
            if len(self._streams.get(stream.stream_id, ())) != stream.expected_version:
                landed = self._landed(write)
                if landed is None:
                    raise ConcurrencyError(stream.stream_id, stream.expected_version)
                return landed
        if key is not None:
            self._sweep(now)
            self._idempotency_keys.pop(key, None)
            self._idempotency_keys[key] = now
        stored = []
        for record in write.records:
            self._feed.append(record)
            position = len(self._feed)
            self._streams.setdefault(record.stream_id, []).append(position)
            stored.append(record.to_event(position))
        return stored

    def _sweep(self, now: datetime) -> None:
        """Forget expired idempotency keys (they are kept in insertion, hence time, order)."""
        for key, recorded in list(self._idempotency_keys.items()):
            if now - recorded < IDEMPOTENCY_KEY_TTL:
                return
            del self._idempotency_keys[key]

    def _landed(self, write: Write) -> list[StoredEvent] | None:
        """The stored events if this exact write (same event ids and versions) already landed."""
        if write.idempotency_key is not None:
            return None
        stored = []
        for stream in write.streams:
            positions = self._streams.get(stream.stream_id, [])
            start = stream.expected_version
            for record, position in zip(stream.records, positions[start:], strict=False):
                if self._feed[position - 1].id != record.id:
                    return None
                stored.append(self._feed[position - 1].to_event(position))
        return stored if len(stored) == len(write.records) else None

    async def read(self, stream_id: str, after_version: int = 0) -> AsyncIterator[StoredEvent]:
        positions = self._streams.get(stream_id, [])
        for position in positions[max(after_version, 0) :]:
            yield self._feed[position - 1].to_event(position)

    async def read_all(self, after: Position | None = None) -> AsyncIterator[StoredEvent]:
        position = int_position(after)
        while position < len(self._feed):
            position += 1
            yield self._feed[position - 1].to_event(position)

    async def _acquire(
        self, name: str, owner: str, now: datetime, expires_at: datetime
    ) -> Lease | None:
        lease = leases.taken(self._leases.get(name), name, owner, now, expires_at)
        if lease is not None:
            self._leases[name] = lease
        return lease

    async def _renew(self, lease: Lease, now: datetime, expires_at: datetime) -> Lease:
        renewed = leases.renewed(self._leases.get(lease.name), lease, now, expires_at)
        self._leases[lease.name] = renewed
        return renewed

    async def _release(self, lease: Lease, now: datetime) -> None:
        released = leases.released(self._leases.get(lease.name), lease, now)
        if released is not None:
            self._leases[lease.name] = released

    async def _save_checkpoint(self, name: str, data: bytes) -> int:
        previous = self._checkpoints.get(name)
        version = previous.version + 1 if previous is not None else 1
        self._checkpoints[name] = Checkpoint(name, version, data)
        return version

    async def load_checkpoint(self, name: str) -> Checkpoint | None:
        return self._checkpoints.get(name)

    async def close(self) -> None:
        """Nothing to release; the events live as long as the object."""
