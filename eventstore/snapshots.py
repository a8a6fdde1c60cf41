"""Stream snapshots: a long stream's folded state kept as a checkpoint, to load it from there.

A snapshot of stream ``s`` is the checkpoint ``snapshot#s``: the stream version it covers, a
newline, then the state as the aggregate's ``encode`` wrote it. Loading reads the snapshot and
only the events after that version. ``decode(stream_id, bytes)`` may read the stream itself
(what a snapshot must not hold, such as secrets kept sealed only in events); it returns None
for a state written by other code (its own schema tag), and the stream is then folded from its
first event, as without a snapshot; a snapshot that cannot be read at all is treated the same
way.
"""

import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from eventstore.store import EventStore

log = logging.getLogger("eventstore.snapshots")

S = TypeVar("S")

SNAPSHOT_PREFIX = "snapshot#"


class Snapshots(Generic[S]):
    """Saves a stream's state at most once per ``every`` events and loads the latest."""

    def __init__(
        self,
        store: EventStore,
        encode: Callable[[S], bytes],
        decode: Callable[[str, bytes], Awaitable[S | None]],
        *,
        every: int = 500,
    ) -> None:
        if every < 1:
            raise ValueError(f"Snapshots are taken every one event or more, not {every}.")
        self._store = store
        self._encode = encode
        self._decode = decode
        self.every = every

    async def load(self, stream_id: str) -> tuple[S, int] | None:
        """The latest snapshot's state and the version it covers, or None if there is none
        this code can read."""
        checkpoint = await self._store.load_checkpoint(SNAPSHOT_PREFIX + stream_id)
        if checkpoint is None:
            return None
        header, _, body = checkpoint.data.partition(b"\n")
        try:
            version = int(header)
            state = await self._decode(stream_id, body)
        except (ValueError, KeyError, TypeError) as error:
            log.warning("snapshot unreadable, folding from events stream=%s: %s", stream_id, error)
            return None
        return None if state is None else (state, version)

    async def save(self, stream_id: str, state: S, version: int) -> None:
        data = str(version).encode() + b"\n" + self._encode(state)
        await self._store.save_checkpoint(SNAPSHOT_PREFIX + stream_id, data)
