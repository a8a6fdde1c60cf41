"""The contract every backend keeps; appends are checked here before a backend sees them."""

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Self

from eventstore.codec import Batch, Write, prepare
from eventstore.events import NewEvent, Position, StoredEvent

Clock = Callable[[], datetime]
"""Returns the current aware UTC time; injected so tests can control recorded times."""


class EventStore(ABC):
    """Streams of events with optimistic concurrency, atomic multi-stream appends and a feed."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        *,
        idempotency_key: str | None = None,
    ) -> int:
        """Append to one stream at ``expected_version`` (0: a new stream); returns its new version.

        Raises ``ConcurrencyError`` if the stream is at another version and ``AlreadyAppended``
        if ``idempotency_key`` was used before; either way nothing is written.
        """
        stored = await self.append_many(
            [(stream_id, expected_version, events)], idempotency_key=idempotency_key
        )
        return stored[-1].version

    async def append_many(
        self, batches: Iterable[Batch], *, idempotency_key: str | None = None
    ) -> list[StoredEvent]:
        """Append to several streams all or nothing; returns the stored events in input order.

        At most 100 items (events, plus one for an idempotency key) per call.
        """
        write = prepare(batches, idempotency_key, self._clock())
        return await self._write(write)

    @abstractmethod
    async def _write(self, write: Write) -> list[StoredEvent]:
        """Store a checked write atomically, or raise the error saying why it was refused."""

    @abstractmethod
    def read(self, stream_id: str, after_version: int = 0) -> AsyncIterator[StoredEvent]:
        """The stream's events after ``after_version``, in version order (consistent read)."""

    @abstractmethod
    def read_all(self, after: Position | None = None) -> AsyncIterator[StoredEvent]:
        """Every stream's events after the ``after`` position; see the package docstring."""

    def present_position(self) -> Position | None:
        """Where the feed may resume once a ``read_all`` pass started now has been read to its end.

        A pass resumes from its last event, so a quiet feed would otherwise keep resuming from
        an old position; where that costs a request per hour passed (DynamoDB's bucket walk),
        this gives a later one. None where resuming from the last event costs nothing extra.
        """
        return None

    @abstractmethod
    async def close(self) -> None:
        """Release connections and threads; the store is unusable afterwards."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
