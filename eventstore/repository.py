"""The cached command path: fold a stream once, then append at the version it is known at.

A warm command reads nothing: the repository keeps recently used streams folded at their
version and appends at that version. Only a ``ConcurrencyError`` makes it read the events it
missed, fold them and decide again. Commands on one stream within this process wait for each
other, so they never conflict among themselves and cost no extra requests.

With ``snapshots``, a cold load starts from the stream's latest snapshot and reads only the
events after it; a snapshot is saved whenever a load or a command takes the stream past a
multiple of ``snapshots.every`` events.
"""

import asyncio
import logging
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Generic, TypeVar

from cachetools import LRUCache

from eventstore.errors import ConcurrencyError
from eventstore.events import NewEvent, StoredEvent
from eventstore.snapshots import Snapshots
from eventstore.store import EventStore

log = logging.getLogger("eventstore.repository")

S = TypeVar("S")


class Repository(Generic[S]):
    """Loads aggregates by folding ``evolve`` over their stream and runs commands on them.

    ``evolve(state, stored_event) -> state`` must be pure; ``initial`` is the state of a
    stream with no events. At most ``max_streams`` folded streams are cached (LRU).
    """

    def __init__(
        self,
        store: EventStore,
        evolve: Callable[[S, StoredEvent], S],
        initial: S,
        *,
        max_streams: int = 10_000,
        snapshots: Snapshots[S] | None = None,
    ) -> None:
        self._store = store
        self._snapshots = snapshots
        self._evolve = evolve
        self._initial = initial
        self._cache: LRUCache[str, tuple[S, int]] = LRUCache(maxsize=max_streams)
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def load(self, stream_id: str) -> tuple[S, int]:
        """The stream's folded state and version (0 and ``initial`` for a new stream)."""
        cached = self._cache.get(stream_id)
        if cached is not None:
            return cached
        start = (self._initial, 0)
        if self._snapshots is not None:
            start = await self._snapshots.load(stream_id) or start
        folded = await self._catch_up(stream_id, *start)
        self._cache[stream_id] = folded
        await self._snapshot(stream_id, start[1], folded)
        return folded

    async def execute(
        self,
        stream_id: str,
        decide: Callable[[S], Sequence[NewEvent]],
        *,
        idempotency_key: str | None = None,
        retries: int = 3,
        metadata: Mapping[str, Any] | None = None,
    ) -> tuple[S, list[StoredEvent]]:
        """Run ``decide(state)`` and append what it returns at the state's version.

        On a conflict, reads the missed events and decides again, up to ``retries`` times, then
        lets the ``ConcurrencyError`` through. ``metadata`` is merged under each event's own
        metadata. Returns the new state and the events just stored; an empty decision stores
        nothing and returns the current state. ``AlreadyAppended`` passes through unchanged.
        """
        lock = self._locks.setdefault(stream_id, asyncio.Lock())
        async with lock:
            state, version = await self.load(stream_id)
            retries_left = retries
            while True:
                events = [_with_metadata(event, metadata) for event in decide(state)]
                if not events:
                    return state, []
                try:
                    stored = await self._store.append_many(
                        [(stream_id, version, events)], idempotency_key=idempotency_key
                    )
                except ConcurrencyError:
                    if retries_left <= 0:
                        raise
                    retries_left -= 1
                    state, version = await self._catch_up(stream_id, state, version)
                    self._cache[stream_id] = (state, version)
                    continue
                state = self._fold(state, stored)
                self._cache[stream_id] = (state, stored[-1].version)
                await self._snapshot(stream_id, version, (state, stored[-1].version))
                return state, stored

    def remember(self, stream_id: str, stored_events: Sequence[StoredEvent]) -> None:
        """Fold events this process wrote to ``stream_id`` by other means (``append_many``).

        Keeps the cache warm when they follow the cached version, or start a stream this
        process created (version 1); otherwise the stream is forgotten and the next command
        reads it again.
        """
        events = [event for event in stored_events if event.stream_id == stream_id]
        cached = self._cache.get(stream_id)
        if cached is None and events and events[0].version == 1:
            cached = (self._initial, 0)
        if cached is None or not events:
            return
        state, version = cached
        expected = list(range(version + 1, version + 1 + len(events)))
        if [event.version for event in events] != expected:
            self.forget(stream_id)
            return
        self._cache[stream_id] = (self._fold(state, events), events[-1].version)

    def forget(self, stream_id: str) -> None:
        """Drop the cached state; the next command on the stream reads it from the store."""
        self._cache.pop(stream_id, None)

    async def _snapshot(self, stream_id: str, before: int, folded: tuple[S, int]) -> None:
        """Save ``folded`` as the stream's snapshot if it passed a multiple of ``every`` since
        version ``before``."""
        snapshots = self._snapshots
        state, version = folded
        if snapshots is None or version // snapshots.every <= before // snapshots.every:
            return
        try:
            await snapshots.save(stream_id, state, version)
        except Exception:
            log.warning(
                "snapshot not saved stream=%s version=%d", stream_id, version, exc_info=True
            )

    async def _catch_up(self, stream_id: str, state: S, version: int) -> tuple[S, int]:
        async for event in self._store.read(stream_id, after_version=version):
            state = self._evolve(state, event)
            version = event.version
        return state, version

    def _fold(self, state: S, events: Sequence[StoredEvent]) -> S:
        for event in events:
            state = self._evolve(state, event)
        return state


def _with_metadata(event: NewEvent, metadata: Mapping[str, Any] | None) -> NewEvent:
    if not metadata:
        return event
    return replace(event, metadata={**metadata, **event.metadata})
