"""The contract every backend keeps; requests are checked here before a backend sees them."""

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Self

from eventstore.codec import Batch, Write, prepare, to_millisecond
from eventstore.events import Checkpoint, NewEvent, Position, StoredEvent
from eventstore.lease import Lease, check_request

Clock = Callable[[], datetime]
"""Returns the current aware UTC time; injected so tests can control recorded times."""


class EventStore(ABC):
    """Streams of events with optimistic concurrency, atomic multi-stream appends and a feed;
    leases with fencing tokens and named checkpoints, kept in the same engine."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        *,
        idempotency_key: str | None = None,
        fence: Lease | None = None,
    ) -> int:
        """Append to one stream at ``expected_version`` (0: a new stream); returns its new version.

        Raises ``ConcurrencyError`` if the stream is at another version, ``AlreadyAppended``
        if ``idempotency_key`` was used before and ``LeaseLost`` if ``fence`` is given and no
        longer the current lease; in every case nothing is written.
        """
        stored = await self.append_many(
            [(stream_id, expected_version, events)], idempotency_key=idempotency_key, fence=fence
        )
        return stored[-1].version

    async def append_many(
        self,
        batches: Iterable[Batch],
        *,
        idempotency_key: str | None = None,
        fence: Lease | None = None,
    ) -> list[StoredEvent]:
        """Append to several streams all or nothing; returns the stored events in input order.

        At most 100 items (events, plus one for an idempotency key) per call.
        """
        write = prepare(batches, idempotency_key, self._clock(), fence)
        return await self._write(write)

    async def acquire_lease(self, name: str, owner: str, duration: timedelta) -> Lease | None:
        """The lease ``name`` for ``owner`` until now + ``duration`` with a new fencing token,
        or None while another holder's lease has not expired."""
        check_request(name, owner, duration)
        now = to_millisecond(self._clock())
        return await self._acquire(name, owner, now, to_millisecond(now + duration))

    async def renew_lease(self, lease: Lease, duration: timedelta) -> Lease:
        """``lease`` extended to now + ``duration``, same token; ``LeaseLost`` if it expired or
        was taken over (acquire it again, with a new token, to go on)."""
        check_request(lease.name, lease.owner, duration)
        now = to_millisecond(self._clock())
        return await self._renew(lease, now, to_millisecond(now + duration))

    async def release_lease(self, lease: Lease) -> None:
        """Give the lease up now so another process may take it at once; nothing happens if
        it was already taken over. Its token stays spent."""
        await self._release(lease, to_millisecond(self._clock()))

    async def save_checkpoint(self, name: str, data: bytes) -> int:
        """Store ``data`` (any size) as the latest checkpoint ``name``; returns its version.

        Versions count the saves of a name from 1; of saves racing, the last to commit wins.
        """
        if not isinstance(name, str) or not name:
            raise ValueError(f"A checkpoint name must be a non-empty string, not {name!r}.")
        if not isinstance(data, bytes):
            raise ValueError(f"A checkpoint holds bytes, not a {type(data).__name__}.")
        return await self._save_checkpoint(name, data)

    @abstractmethod
    async def load_checkpoint(self, name: str) -> Checkpoint | None:
        """The latest checkpoint saved under ``name``, or None if there is none."""

    @abstractmethod
    async def _write(self, write: Write) -> list[StoredEvent]:
        """Store a checked write atomically, or raise the error saying why it was refused."""

    @abstractmethod
    async def _acquire(
        self, name: str, owner: str, now: datetime, expires_at: datetime
    ) -> Lease | None: ...

    @abstractmethod
    async def _renew(self, lease: Lease, now: datetime, expires_at: datetime) -> Lease: ...

    @abstractmethod
    async def _release(self, lease: Lease, now: datetime) -> None: ...

    @abstractmethod
    async def _save_checkpoint(self, name: str, data: bytes) -> int: ...

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
