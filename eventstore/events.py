"""The two event shapes: what a caller appends and what the store gives back."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

Position = int | str
"""Where a global-feed reader resumes from, passed back to ``read_all(after=...)``.

Opaque, totally ordered within one store, and JSON-friendly so a consumer can persist it: an
``int`` (the global sequence number) for memory and SQLite, a ``str`` ``"<bucket>|<ts>#<id>"``
for DynamoDB.
"""


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to append. ``id`` defaults to a new UUID4 string when it is appended.

    ``schema_version`` is the version of this event type's data shape; readers upcast old ones.
    """

    type: str
    data: Mapping[str, Any]
    metadata: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None
    schema_version: int = 1


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as recorded: its stream, its version in the stream and its place in the feed.

    ``recorded_at`` is an aware UTC datetime with millisecond precision.
    """

    stream_id: str
    version: int
    type: str
    data: Mapping[str, Any]
    metadata: Mapping[str, Any]
    id: str
    recorded_at: datetime
    position: Position
    schema_version: int = 1


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A named blob as last saved; ``version`` counts the saves of ``name`` (1 for the first)."""

    name: str
    version: int
    data: bytes
