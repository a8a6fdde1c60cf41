"""Following the global feed: each event once, and in version order within its stream.

``read_all`` may deliver an event more than once (DynamoDB re-reads an overlap window) and, on
DynamoDB, may show a stream's later event before an earlier one that the index has not caught
up with. A ``FeedReader`` remembers the last version it delivered per stream, drops what it
has already delivered, and fills a gap by reading the missing versions from the stream itself
(a consistent read) before delivering the event after it.
"""

from collections.abc import AsyncIterator, Collection, Iterable, Mapping

from eventstore.events import Position, StoredEvent
from eventstore.store import EventStore


class FeedReader:
    """Reads ``store.read_all`` pass after pass, resuming where the previous pass ended.

    Started with ``after=None`` it knows every stream from version 1 and delivers each event
    exactly once, in version order within its stream. Started from a saved ``after`` position,
    pass ``versions`` (the last version applied per stream) to keep that promise for streams
    seen before; a stream it knows nothing about is taken up from its first event delivered,
    unless ``complete`` says ``versions`` names every stream the consumer holds: then such a
    stream is new to it and is delivered from version 1 (the versions before the event read
    from the stream).

    ``prefixes`` limits the reader to the streams whose id starts with one of them; it skips
    and remembers nothing of the others. ``forget`` drops streams the consumer no longer holds:
    should one of them have another event, it is delivered again from version 1.
    """

    def __init__(
        self,
        store: EventStore,
        *,
        after: Position | None = None,
        versions: Mapping[str, int] | None = None,
        complete: bool = False,
        prefixes: tuple[str, ...] | None = None,
    ) -> None:
        self._store = store
        self._from_start = after is None or complete
        self._prefixes = prefixes
        self.position: Position | None = after
        """Where the next pass resumes: persist it with ``versions`` to resume after a restart."""
        self.versions: dict[str, int] = dict(versions or {})
        """The last version delivered per stream."""

    async def read(self) -> AsyncIterator[StoredEvent]:
        """One pass over the feed from ``position`` to its current end, without repeats."""
        present = self._store.present_position()
        prefixes = self._prefixes
        async for event in self._store.read_all(after=self.position):
            if prefixes is None or event.stream_id.startswith(prefixes):
                for new_event in await self.accept([event]):
                    yield new_event
            self.position = event.position
        if present is not None:
            self.position = _later(present, self.position)

    async def accept(self, events: Iterable[StoredEvent]) -> list[StoredEvent]:
        """The given events not yet delivered, each preceded by any earlier versions missed.

        Use it for events this process stored itself and applies before the feed brings them,
        so the feed does not deliver them again.
        """
        delivered: list[StoredEvent] = []
        for event in events:
            last = self.versions.get(event.stream_id, 0 if self._from_start else None)
            if last is not None and event.version <= last:
                continue
            if last is not None and event.version > last + 1:
                delivered.extend(await self._missing(event.stream_id, last, event.version))
            delivered.append(event)
            self.versions[event.stream_id] = event.version
        return delivered

    def forget(self, stream_ids: Collection[str]) -> None:
        """Remember nothing more of ``stream_ids`` (streams the consumer dropped)."""
        for stream_id in stream_ids:
            self.versions.pop(stream_id, None)

    async def _missing(self, stream_id: str, last: int, before: int) -> list[StoredEvent]:
        missing = []
        async for event in self._store.read(stream_id, after_version=last):
            if event.version >= before:
                break
            missing.append(event)
        return missing


def _later(present: Position, position: Position | None) -> Position:
    """The later of two positions of one store."""
    if position is None:
        return present
    if isinstance(present, int) and isinstance(position, int):
        return max(present, position)
    return max(str(present), str(position))
