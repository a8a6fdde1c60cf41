"""The embedded default: one SQLite file in WAL mode, durable commits, a true global order.

sqlite3 connections are not thread-safe and its calls block, so every call runs on one
dedicated worker thread that owns the connection; the event loop only awaits it.
"""

import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import quote

from eventstore import lease as leases
from eventstore.codec import (
    IDEMPOTENCY_KEY_TTL,
    Record,
    Write,
    format_time,
    int_position,
    parse_time,
    utc_now,
)
from eventstore.errors import AlreadyAppended, ConcurrencyError, LeaseLost
from eventstore.events import Checkpoint, Position, StoredEvent
from eventstore.lease import Lease
from eventstore.store import Clock, EventStore
from eventstore.worker import Worker

Synchronous = Literal["FULL", "NORMAL"]
T = TypeVar("T")

_PAGE = 500
_WAL_RETRY_SECONDS = 0.01
_BUSY_TIMEOUT_MS = 10_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    position INTEGER PRIMARY KEY,
    stream_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    type TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    data TEXT NOT NULL,
    metadata TEXT NOT NULL,
    id TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    UNIQUE (stream_id, version)
);
CREATE TABLE IF NOT EXISTS idempotency_keys (
    key TEXT PRIMARY KEY,
    recorded_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idempotency_keys_by_time ON idempotency_keys (recorded_at);
CREATE TABLE IF NOT EXISTS leases (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    token INTEGER NOT NULL,
    expires_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (
    name TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    data BLOB NOT NULL
);
"""
_SWEEP_EVERY = timedelta(hours=1)

_COLUMNS = "position, stream_id, version, type, schema_version, data, metadata, id, recorded_at"
_READ_STREAM = (
    f"SELECT {_COLUMNS} FROM events WHERE stream_id = ? AND version > ? ORDER BY version LIMIT ?"
)
_READ_FEED = f"SELECT {_COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?"


class SqliteEventStore(EventStore):
    """Events in one table whose rowid is the global position; idempotency keys in another.

    ``synchronous="FULL"`` (the default) syncs every commit to disk; ``"NORMAL"`` is faster and
    in WAL mode can lose the last commits on power loss, never corrupt the file.
    """

    def __init__(
        self,
        path: str,
        *,
        create: bool = True,
        synchronous: Synchronous = "FULL",
        clock: Clock = utc_now,
    ) -> None:
        super().__init__(clock)
        self._path = path
        self._create = create
        self._synchronous = synchronous
        self._connection: sqlite3.Connection | None = None
        self._closed = False
        self._swept_at: datetime | None = None
        """When expired idempotency keys were last deleted (only the worker thread uses it)."""
        self._worker = Worker("eventstore-sqlite")

    async def _write(self, write: Write) -> list[StoredEvent]:
        return await self._call(self._in_transaction, self._insert, write)

    async def _acquire(
        self, name: str, owner: str, now: datetime, expires_at: datetime
    ) -> Lease | None:
        def acquire(connection: sqlite3.Connection) -> Lease | None:
            lease = leases.taken(_lease(connection, name), name, owner, now, expires_at)
            if lease is not None:
                _store_lease(connection, lease)
            return lease

        return await self._call(self._in_transaction, acquire)

    async def _renew(self, lease: Lease, now: datetime, expires_at: datetime) -> Lease:
        def renew(connection: sqlite3.Connection) -> Lease:
            renewed = leases.renewed(_lease(connection, lease.name), lease, now, expires_at)
            _store_lease(connection, renewed)
            return renewed

        return await self._call(self._in_transaction, renew)

    async def _release(self, lease: Lease, now: datetime) -> None:
        def release(connection: sqlite3.Connection) -> None:
            released = leases.released(_lease(connection, lease.name), lease, now)
            if released is not None:
                _store_lease(connection, released)

        await self._call(self._in_transaction, release)

    async def _save_checkpoint(self, name: str, data: bytes) -> int:
        def save(connection: sqlite3.Connection) -> int:
            row = connection.execute(
                "SELECT version FROM checkpoints WHERE name = ?", (name,)
            ).fetchone()
            version = row[0] + 1 if row is not None else 1
            connection.execute(
                "INSERT INTO checkpoints (name, version, data) VALUES (?, ?, ?) ON CONFLICT "
                "(name) DO UPDATE SET version = excluded.version, data = excluded.data",
                (name, version, data),
            )
            return version

        return await self._call(self._in_transaction, save)

    async def load_checkpoint(self, name: str) -> Checkpoint | None:
        rows = await self._call(
            self._select, "SELECT version, data FROM checkpoints WHERE name = ?", name
        )
        if not rows:
            return None
        ((version, data),) = rows
        return Checkpoint(name, version, bytes(data))

    async def read(self, stream_id: str, after_version: int = 0) -> AsyncIterator[StoredEvent]:
        while True:
            rows = await self._call(self._select, _READ_STREAM, stream_id, after_version, _PAGE)
            for row in rows:
                yield _event(row)
            if len(rows) < _PAGE:
                return
            after_version = rows[-1][2]

    async def read_all(self, after: Position | None = None) -> AsyncIterator[StoredEvent]:
        position = int_position(after)
        while True:
            rows = await self._call(self._select, _READ_FEED, position, _PAGE)
            for row in rows:
                yield _event(row)
            if len(rows) < _PAGE:
                return
            position = rows[-1][0]

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._call(self._close_now)
        await self._worker.stop()

    async def _call(self, function: Callable[..., T], *arguments: Any) -> T:
        return await self._worker.call(function, *arguments)

    def _open(self) -> sqlite3.Connection:
        """The worker thread's connection, opened (and the schema made) on first use."""
        if self._connection is not None:
            return self._connection
        path = Path(self._path)
        if self._create:
            path.parent.mkdir(parents=True, exist_ok=True)
        mode = "rwc" if self._create else "rw"
        try:
            connection = sqlite3.connect(
                f"file:{quote(str(path))}?mode={mode}", uri=True, isolation_level=None
            )
        except sqlite3.OperationalError as error:
            raise ValueError(
                f"Cannot open the SQLite event store {str(path)!r} ({error}); check the path, "
                "or drop create=false to create it."
            ) from None
        connection.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        _switch_to_wal(connection)
        connection.execute(f"PRAGMA synchronous = {self._synchronous}")
        if not self._create and not _has_schema(connection):
            connection.close()
            raise ValueError(
                f"{str(path)!r} holds no event store tables; drop create=false to create them."
            )
        connection.executescript(_SCHEMA)
        self._connection = connection
        return connection

    def _in_transaction(self, function: Callable[..., T], *arguments: Any) -> T:
        """Run ``function(connection, *arguments)`` in one write transaction; raise to undo it.

        ``BEGIN IMMEDIATE`` takes SQLite's write lock (an operating-system lock on the file)
        at once, so every check made inside holds until the commit, across processes too.
        """
        connection = self._open()
        connection.execute("BEGIN IMMEDIATE")
        try:
            result = function(connection, *arguments)
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
        return result

    def _insert(self, connection: sqlite3.Connection, write: Write) -> list[StoredEvent]:
        now = parse_time(write.recorded_at)
        if write.idempotency_key is not None and (
            self._swept_at is None or now - self._swept_at >= _SWEEP_EVERY
        ):
            connection.execute(
                "DELETE FROM idempotency_keys WHERE recorded_at <= ?",
                (format_time(now - IDEMPOTENCY_KEY_TTL),),
            )
            self._swept_at = now
        return _insert(connection, write)

    def _select(self, query: str, *parameters: object) -> list[Any]:
        return self._open().execute(query, parameters).fetchall()

    def _close_now(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _insert(connection: sqlite3.Connection, write: Write) -> list[StoredEvent]:
    """Check and write inside the caller's write transaction; raise to refuse."""
    key = write.idempotency_key
    if key is not None:
        expired = format_time(parse_time(write.recorded_at) - IDEMPOTENCY_KEY_TTL)
        cursor = connection.execute(
            "INSERT INTO idempotency_keys (key, recorded_at) VALUES (?, ?) ON CONFLICT (key) "
            "DO UPDATE SET recorded_at = excluded.recorded_at WHERE recorded_at <= ?",
            (key, write.recorded_at, expired),
        )
        if cursor.rowcount == 0:
            raise AlreadyAppended(key)
    fence = write.fence
    if fence is not None:
        now = parse_time(write.recorded_at)
        if not leases.holds(_lease(connection, fence.name), fence, now):
            raise LeaseLost(fence.name, fence.token)
    for stream in write.streams:
        (version,) = connection.execute(
            "SELECT COALESCE(MAX(version), 0) FROM events WHERE stream_id = ?",
            (stream.stream_id,),
        ).fetchone()
        if version != stream.expected_version:
            landed = _landed(connection, write)
            if landed is None:
                raise ConcurrencyError(stream.stream_id, stream.expected_version)
            return landed
    stored = []
    for record in write.records:
        cursor = connection.execute(
            "INSERT INTO events (stream_id, version, type, schema_version, data, metadata, id, "
            "recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.stream_id,
                record.version,
                record.type,
                record.schema_version,
                record.data,
                record.metadata,
                record.id,
                record.recorded_at,
            ),
        )
        assert cursor.lastrowid is not None
        stored.append(record.to_event(cursor.lastrowid))
    return stored


def _landed(connection: sqlite3.Connection, write: Write) -> list[StoredEvent] | None:
    """The stored events if this exact write (same event ids and versions) already landed."""
    if write.idempotency_key is not None:
        return None
    stored = []
    for stream in write.streams:
        rows = connection.execute(
            _READ_STREAM, (stream.stream_id, stream.expected_version, len(stream.records))
        ).fetchall()
        events = [_event(row) for row in rows]
        if [event.id for event in events] != [record.id for record in stream.records]:
            return None
        stored.extend(events)
    return stored


def _lease(connection: sqlite3.Connection, name: str) -> Lease | None:
    row = connection.execute(
        "SELECT owner, token, expires_at FROM leases WHERE name = ?", (name,)
    ).fetchone()
    if row is None:
        return None
    owner, token, expires_at = row
    return Lease(name, owner, token, parse_time(expires_at))


def _store_lease(connection: sqlite3.Connection, lease: Lease) -> None:
    connection.execute(
        "INSERT INTO leases (name, owner, token, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT "
        "(name) DO UPDATE SET owner = excluded.owner, token = excluded.token, "
        "expires_at = excluded.expires_at",
        (lease.name, lease.owner, lease.token, format_time(lease.expires_at)),
    )


def _switch_to_wal(connection: sqlite3.Connection) -> None:
    """Turn on WAL, waiting while another connection holds the lock that needs.

    SQLite answers "database is locked" at once here, without its busy handler, when two
    processes open a new file together; this runs on the store's own thread, so waiting is fine.
    """
    deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(_WAL_RETRY_SECONDS)


def _has_schema(connection: sqlite3.Connection) -> bool:
    names = {
        name
        for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    return {"events", "idempotency_keys"} <= names


def _event(row: Any) -> StoredEvent:
    """A row in ``_COLUMNS`` order: the position, then the record's fields in their order."""
    return Record(*row[1:]).to_event(row[0])
