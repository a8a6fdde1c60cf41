"""An in-process store for tests and experiments: the same contract, nothing persisted."""

from collections.abc import AsyncIterator

from eventstore.codec import Record, Write, int_position, utc_now
from eventstore.errors import AlreadyAppended, ConcurrencyError
from eventstore.events import Position, StoredEvent
from eventstore.store import Clock, EventStore


class MemoryEventStore(EventStore):
    """Keeps records (JSON text, like every backend) in lists; the position is the feed index.

    Each write completes without awaiting, so it is atomic with respect to other coroutines.
    """

    def __init__(self, clock: Clock = utc_now) -> None:
        super().__init__(clock)
        self._feed: list[Record] = []
        self._streams: dict[str, list[int]] = {}
        self._idempotency_keys: set[str] = set()

    async def _write(self, write: Write) -> list[StoredEvent]:
        if write.idempotency_key is not None and write.idempotency_key in self._idempotency_keys:
            raise AlreadyAppended(write.idempotency_key)
        for stream in write.streams:
            if len(self._streams.get(stream.stream_id, ())) != stream.expected_version:
                landed = self._landed(write)
                if landed is None:
                    raise ConcurrencyError(stream.stream_id, stream.expected_version)
                return landed
        if write.idempotency_key is not None:
            self._idempotency_keys.add(write.idempotency_key)
        stored = []
        for record in write.records:
            self._feed.append(record)
            position = len(self._feed)
            self._streams.setdefault(record.stream_id, []).append(position)
            stored.append(record.to_event(position))
        return stored

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

    async def close(self) -> None:
        """Nothing to release; the events live as long as the object."""
