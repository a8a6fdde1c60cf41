"""The embedded default: one SQLite file in WAL mode, durable commits, a true global order.

sqlite3 connections are not thread-safe and its calls block, so every call runs on one
dedicated worker thread that owns the connection; the event loop only awaits it.
"""

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import quote

from eventstore.codec import Record, Write, int_position, utc_now
from eventstore.errors import AlreadyAppended, ConcurrencyError
from eventstore.events import Position, StoredEvent
from eventstore.store import Clock, EventStore

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
"""

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
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="eventstore-sqlite")

    async def _write(self, write: Write) -> list[StoredEvent]:
        return await self._call(self._write_now, write)

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
        await asyncio.to_thread(self._worker.shutdown)

    async def _call(self, function: Callable[..., T], *arguments: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._worker, function, *arguments)

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
        if self._create:
            connection.executescript(_SCHEMA)
        elif not _has_schema(connection):
            connection.close()
            raise ValueError(
                f"{str(path)!r} holds no event store tables; drop create=false to create them."
            )
        self._connection = connection
        return connection

    def _write_now(self, write: Write) -> list[StoredEvent]:
        connection = self._open()
        connection.execute("BEGIN IMMEDIATE")
        try:
            stored = _insert(connection, write)
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
        return stored

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
        try:
            connection.execute(
                "INSERT INTO idempotency_keys (key, recorded_at) VALUES (?, ?)",
                (key, write.streams[0].records[0].recorded_at),
            )
        except sqlite3.IntegrityError:
            raise AlreadyAppended(key) from None
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
