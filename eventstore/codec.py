"""Checking appends and turning them into records, and records back into events.

Every backend stores the same record: data and metadata as JSON text, so a boolean stays a
boolean and the string "true" stays a string, whatever the storage engine does with numbers.
The limits are DynamoDB's, applied everywhere so that code tested on SQLite behaves the same
in production.
"""

import json
import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from eventstore.errors import EventTooLarge
from eventstore.events import NewEvent, Position, StoredEvent
from eventstore.lease import Lease

IDEMPOTENCY_KEY_TTL = timedelta(days=7)
"""How long an idempotency key is remembered: far past any retry (Stripe retries for 3 days)."""

MAX_ITEM_BYTES = 400 * 1024
"""DynamoDB's item size limit: attribute names plus values, in bytes."""

MAX_WRITE_ITEMS = 100
"""DynamoDB's TransactWriteItems limit: events plus one item for an idempotency key."""

MAX_WRITE_BYTES = 4 * 1024 * 1024
"""DynamoDB's limit on the total size of one TransactWriteItems request."""

KEY_PREFIX = "idem#"
LEASE_PREFIX = "lease#"
CHECKPOINT_PREFIX = "checkpoint#"
META_PREFIX = "meta#"
RESERVED_PREFIXES = (KEY_PREFIX, LEASE_PREFIX, CHECKPOINT_PREFIX, META_PREFIX)
"""Stream ids with these prefixes are reserved: DynamoDB keeps idempotency keys, leases,
checkpoints and its own bookkeeping beside the events."""

_NUMBER_BYTES = 21
"""The most a DynamoDB number attribute can take, used for the version attributes."""

_ATTRIBUTE_NAMES_BYTES = len("pksktypevdatametaidtsgpkgsk")

Batch = tuple[str, int, Sequence[NewEvent]]
"""One stream's part of an append: stream id, the version it must be at, the new events."""


@dataclass(frozen=True, slots=True)
class Record:
    """One event ready to store: JSON text for data and metadata, ISO text for its time."""

    stream_id: str
    version: int
    type: str
    schema_version: int
    data: str
    metadata: str
    id: str
    recorded_at: str

    def to_event(self, position: Position) -> StoredEvent:
        return StoredEvent(
            stream_id=self.stream_id,
            version=self.version,
            type=self.type,
            data=json.loads(self.data),
            metadata=json.loads(self.metadata),
            id=self.id,
            recorded_at=parse_time(self.recorded_at),
            position=position,
            schema_version=self.schema_version,
        )


@dataclass(frozen=True, slots=True)
class StreamWrite:
    """The records for one stream and the version the stream must be at before they land."""

    stream_id: str
    expected_version: int
    records: tuple[Record, ...]


@dataclass(frozen=True, slots=True)
class Write:
    """One checked, all-or-nothing append across one or more streams."""

    streams: tuple[StreamWrite, ...]
    idempotency_key: str | None
    fence: Lease | None = None

    @property
    def records(self) -> list[Record]:
        return [record for stream in self.streams for record in stream.records]

    @property
    def recorded_at(self) -> str:
        """The time every record of the write carries (one clock reading per write)."""
        return self.streams[0].records[0].recorded_at


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_time(moment: datetime) -> str:
    """ISO-8601 in UTC with milliseconds and a ``Z``: sorts as text in time order."""
    utc = moment.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def to_millisecond(moment: datetime) -> datetime:
    """``moment`` as every backend stores it: UTC, cut to the millisecond."""
    return parse_time(format_time(moment))


def int_position(after: Position | None) -> int:
    """The sequence number a memory or SQLite feed resumes after (0: from the start)."""
    if after is None:
        return 0
    if not isinstance(after, int) or isinstance(after, bool) or after < 0:
        raise ValueError(f"A position in this store is an int ≥ 0 from read_all, not {after!r}.")
    return after


def prepare(
    batches: Iterable[Batch],
    idempotency_key: str | None,
    now: datetime,
    fence: Lease | None = None,
) -> Write:
    """Check an append completely and build its records; raises before anything is sent."""
    if fence is not None and not isinstance(fence, Lease):
        raise ValueError(f"An append is fenced by a Lease from acquire_lease, not {fence!r}.")
    if idempotency_key is not None and (
        not isinstance(idempotency_key, str) or not idempotency_key
    ):
        raise ValueError("The idempotency key must be a non-empty string or None.")
    batch_list = list(batches)
    if not batch_list:
        raise ValueError("An append needs at least one stream with events; none were given.")
    recorded_at = format_time(now)
    streams: list[StreamWrite] = []
    seen: set[str] = set()
    for stream_id, expected_version, events in batch_list:
        _check_stream(stream_id, expected_version, events)
        if stream_id in seen:
            raise ValueError(
                f"Stream {stream_id!r} appears twice in one append; put all its events in one "
                "entry."
            )
        seen.add(stream_id)
        records = tuple(
            _record(stream_id, expected_version + offset, event, recorded_at)
            for offset, event in enumerate(events, start=1)
        )
        streams.append(StreamWrite(stream_id, expected_version, records))
    write = Write(tuple(streams), idempotency_key, fence)
    _check_write_limits(write)
    return write


def _check_stream(stream_id: object, expected_version: object, events: object) -> None:
    if not isinstance(stream_id, str) or not stream_id:
        raise ValueError(f"A stream id must be a non-empty string, not {stream_id!r}.")
    for prefix in RESERVED_PREFIXES:
        if stream_id.startswith(prefix):
            raise ValueError(
                f"Stream id {stream_id!r} starts with {prefix!r}, which the store reserves for "
                "its own items; choose another name."
            )
    if (
        not isinstance(expected_version, int)
        or isinstance(expected_version, bool)
        or expected_version < 0
    ):
        raise ValueError(
            f"The expected version of stream {stream_id!r} must be an int ≥ 0 (0 for a new "
            f"stream), not {expected_version!r}."
        )
    if not isinstance(events, Sequence) or isinstance(events, str) or not events:
        raise ValueError(f"The append to stream {stream_id!r} needs a non-empty list of events.")
    for event in events:
        if not isinstance(event, NewEvent):
            raise ValueError(
                f"The append to stream {stream_id!r} holds {event!r}; append NewEvent objects."
            )


def _record(stream_id: str, version: int, event: NewEvent, recorded_at: str) -> Record:
    if not isinstance(event.type, str) or not event.type:
        raise ValueError(f"An event type must be a non-empty string, not {event.type!r}.")
    if (
        not isinstance(event.schema_version, int)
        or isinstance(event.schema_version, bool)
        or event.schema_version < 1
    ):
        raise ValueError(
            f"Event {event.type!r} has schema_version {event.schema_version!r}; use an int ≥ 1."
        )
    if event.id is not None and (not isinstance(event.id, str) or not event.id):
        raise ValueError(f"Event {event.type!r} has id {event.id!r}; use a non-empty string.")
    record = Record(
        stream_id=stream_id,
        version=version,
        type=event.type,
        schema_version=event.schema_version,
        data=encode_json(event.data, f"The data of event {event.type!r}"),
        metadata=encode_json(event.metadata, f"The metadata of event {event.type!r}"),
        id=event.id or str(uuid.uuid4()),
        recorded_at=recorded_at,
    )
    size = item_size(record)
    if size > MAX_ITEM_BYTES:
        raise EventTooLarge(stream_id, event.type, size, MAX_ITEM_BYTES)
    return record


def item_size(record: Record) -> int:
    """An upper bound of the record's DynamoDB item size, the measure of every size limit."""
    texts = (record.stream_id, record.type, record.data, record.metadata, record.id)
    text_bytes = sum(len(text.encode()) for text in texts)
    time_bytes = len(record.recorded_at) * 2 + len("YYYY-MM-DDTHH") + len("#") + len(record.id)
    return _ATTRIBUTE_NAMES_BYTES + 2 * _NUMBER_BYTES + text_bytes + time_bytes


def _check_write_limits(write: Write) -> None:
    records = write.records
    items = len(records) + (write.idempotency_key is not None)
    if items > MAX_WRITE_ITEMS:
        raise ValueError(
            f"One append writes at most {MAX_WRITE_ITEMS} items (events, plus one for an "
            f"idempotency key) and this one has {items}; split it into smaller appends."
        )
    total = sum(item_size(record) for record in records)
    if total > MAX_WRITE_BYTES:
        raise ValueError(
            f"One append writes at most {MAX_WRITE_BYTES} bytes and this one has {total}; split "
            "it into smaller appends."
        )


def encode_json(value: Mapping[str, Any], what: str) -> str:
    """Serialise a map to JSON that decodes to an equal value of the same types, or refuse it."""
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} must be a map, not a {type(value).__name__}.")
    problem = _json_problem(dict(value))
    if problem is not None:
        path, reason = problem
        raise ValueError(f"{what} {reason} at {path or 'the top'}; {_ADVICE}")
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    try:
        text.encode()
    except UnicodeEncodeError:
        raise ValueError(
            f"{what} holds a string with a lone surrogate, which is not valid Unicode; "
            "fix the text before storing it."
        ) from None
    return text


_ADVICE = "store only maps with string keys, lists, strings, finite numbers, booleans and None."


def _json_problem(value: object) -> tuple[str, str] | None:
    """Where and why a value would not survive a JSON round trip unchanged, or None."""
    if value is None or isinstance(value, str | int):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else ("", f"holds {value}, which JSON cannot hold,")
    if isinstance(value, list):
        for index, item in enumerate(value):
            problem = _json_problem(item)
            if problem is not None:
                return f"[{index}]{problem[0]}", problem[1]
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return "", f"has the non-string key {key!r}"
            problem = _json_problem(item)
            if problem is not None:
                return f"[{key!r}]{problem[0]}", problem[1]
        return None
    return "", f"holds a {type(value).__name__}, which does not round-trip through JSON,"
