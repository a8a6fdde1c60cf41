"""Turning decided `NewEvent`s into `StoredEvent`s and folding them, as the store would."""

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from eventstore import NewEvent, StoredEvent

S = TypeVar("S")

RECORDED_AT = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)
"""A `lapsed_before` that lets every open checkout count."""


def stored(event: NewEvent, stream_id: str, version: int) -> StoredEvent:
    """`event` as read back from a store: data through real JSON text, like every backend."""
    return StoredEvent(
        stream_id=stream_id,
        version=version,
        type=event.type,
        data=json.loads(json.dumps(event.data)),
        metadata=json.loads(json.dumps(event.metadata)),
        id=f"{stream_id}-{version}",
        recorded_at=RECORDED_AT,
        position=version,
        schema_version=event.schema_version,
    )


def stored_from_json(stream_id: str, item: dict[str, Any]) -> StoredEvent:
    """One event of a fixture file."""
    return StoredEvent(
        stream_id=stream_id,
        version=item["version"],
        type=item["type"],
        data=item["data"],
        metadata=item["metadata"],
        id=item["id"],
        recorded_at=datetime.fromisoformat(item["recorded_at"]),
        position=item["version"],
        schema_version=item["schema_version"],
    )


class Stream(Generic[S]):
    """An in-memory stream: decide, then fold what was decided, one command at a time."""

    def __init__(
        self,
        stream_id: str,
        evolve: Callable[[S, StoredEvent], S],
        initial: S,
    ) -> None:
        self.stream_id = stream_id
        self.evolve = evolve
        self.state = initial
        self.events: list[StoredEvent] = []

    def append(self, events: Iterable[NewEvent]) -> list[StoredEvent]:
        added = []
        for event in events:
            record = stored(event, self.stream_id, len(self.events) + 1)
            self.state = self.evolve(self.state, record)
            self.events.append(record)
            added.append(record)
        return added
