"""rr's event store: streams of typed events with optimistic concurrency and a global feed.

Contract (every backend):

- A stream's versions start at 1 and have no gaps. ``append(stream, expected_version, events)``
  writes only if the stream is at ``expected_version`` (0: it must not exist yet), else raises
  ``ConcurrencyError``; ``append_many`` does the same for several streams, all or nothing. An
  ``idempotency_key`` makes an append happen at most once: a repeat writes nothing and raises
  ``AlreadyAppended``. One append holds at most 100 items (events, plus one for the key).
- An append without a key whose events (by id) are already stored at exactly those versions is
  recognised as a repeat of a write that landed (say, a retry after a timeout): it writes
  nothing and returns the stored events.
- An ``expected_version`` ahead of the stream is refused like a stale one. On DynamoDB a
  conditional put cannot see a *missing* previous version, so the store checks it against the
  head this process has seen stored (a warm stream: still one ``PutItem``) and, when it has
  seen none, adds a ``ConditionCheck`` that the expected version exists (a transaction).
- An idempotency key is remembered for ``IDEMPOTENCY_KEY_TTL`` (7 days, well past Stripe's 3
  days of retries) from the append that used it, then may be used again: on DynamoDB the key
  item carries a ``ttl`` attribute (the table's TTL deletes it, and until then the condition
  treats it as gone), on SQLite expired keys are swept hourly, on memory at each keyed append.
- ``data`` and ``metadata`` are JSON maps stored as JSON text and come back equal and of the
  same types (bool stays bool, ints of any size, finite floats, None, unicode, nesting).
  NaN, infinities, non-string keys, tuples and other non-JSON values are refused with
  ``ValueError``; an event whose stored item would exceed 400 KB with ``EventTooLarge``.
  Everything is checked before anything is sent.
- ``read(stream, after_version)`` yields the stream's events in version order; it sees every
  append that completed before it started.

The global feed, ``read_all(after=position)``; each event carries the ``position`` to resume
from (an ``int`` for memory and SQLite, a ``str`` for DynamoDB; opaque and JSON-friendly):

- memory and SQLite: a true global order. Every event is delivered exactly once, after every
  event committed before it, resuming strictly after ``position``.
- DynamoDB: a global secondary index keyed by an hour bucket (``gpk``) and ``ts#id`` (``gsk``).
  ``read_all()`` queries bucket by bucket from the table's first hour, page by page;
  ``read_all(after=position)`` from ``position`` up to the present, re-reading an overlap
  window (10 s by default, at least 2) before ``position``. Every event is delivered at least
  once: a write confirmed more than half the overlap after its stamp (slow network, paused
  process, retries) gets its feed key stamped again with the time it was confirmed, and a
  write botocore gave up on is sent again freshly stamped (so the abandoned request, should it
  arrive later, fails its condition). What is left for the other half of the overlap is
  writers' clock skew and the index's propagation lag. botocore's own limits (1 s to
  connect, 3 s to read, 3 attempts) keep both rare. Within a pass, events come in order of
  their feed key's millisecond, ties in (stream, version) order: that is version order within
  a stream as long as writers' clocks agree.

Consumers should read the feed through ``FeedReader``: it drops (stream, version) pairs it
has delivered and fills any gap from the stream itself (a consistent read), so whatever the
feed delivers reaches the consumer exactly once and in version order within its stream, on
every backend.

``Repository`` is the cached command path: a warm command is one conditional write.

Leases (``acquire_lease``, ``renew_lease``, ``release_lease``; see ``eventstore.lease``): one
holder per name at a time, taken over only after its expiry by the taker's clock (so clocks
must agree far better than the lease term), with a fencing token that grows with each
acquisition. An append with ``fence=lease`` is refused with ``LeaseLost``, atomically with the
append, unless the lease is still current and unexpired: on DynamoDB a ``ConditionCheck`` on
the lease item in the append's transaction, on SQLite a check inside its write transaction.

Checkpoints (``save_checkpoint``, ``load_checkpoint``): a named blob of any size; each save is
a new version and a load returns the latest whole. DynamoDB stores it in 350 KB chunks and
commits a save by replacing one head item.
"""

from eventstore.errors import (
    AlreadyAppended,
    ConcurrencyError,
    EventStoreError,
    EventTooLarge,
    LeaseLost,
)
from eventstore.events import Checkpoint, NewEvent, Position, StoredEvent
from eventstore.feed import FeedReader
from eventstore.lease import Lease
from eventstore.repository import Repository
from eventstore.snapshots import Snapshots
from eventstore.store import EventStore
from eventstore.urls import open_store as open

__all__ = [
    "AlreadyAppended",
    "Checkpoint",
    "ConcurrencyError",
    "EventStore",
    "EventStoreError",
    "EventTooLarge",
    "FeedReader",
    "Lease",
    "LeaseLost",
    "NewEvent",
    "Position",
    "Repository",
    "Snapshots",
    "StoredEvent",
    "open",
]
