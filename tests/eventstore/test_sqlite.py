"""SQLite specifics: WAL, durable commits, the unique (stream, version) constraint, every call off
the event loop, and two stores (two bot processes) writing one file."""

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import eventstore
from eventstore import ConcurrencyError, EventStore, NewEvent
from eventstore.codec import IDEMPOTENCY_KEY_TTL
from tests.eventstore.support import FakeClock, collect, current_version


def trace_statements(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, str]]:
    """(thread id, SQL) of every statement the store's connections run from now on."""
    statements: list[tuple[int, str]] = []
    connect: Callable[..., sqlite3.Connection] = sqlite3.connect

    def traced(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        connection = connect(*args, **kwargs)
        connection.set_trace_callback(
            lambda statement: statements.append((threading.get_ident(), statement))
        )
        return connection

    monkeypatch.setattr(sqlite3, "connect", traced)
    return statements


async def test_every_statement_runs_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    statements = trace_statements(monkeypatch)

    async with eventstore.open(f"sqlite:///{tmp_path}/events.db") as store:
        await store.append("s", 0, [NewEvent("X", {})], idempotency_key="k")
        await collect(store.read("s"))
        await collect(store.read_all())

    assert any("INSERT INTO events" in sql for _, sql in statements)
    assert threading.get_ident() not in {thread for thread, _ in statements}


async def test_the_file_is_in_wal_mode_with_every_commit_synced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    statements = trace_statements(monkeypatch)
    path = tmp_path / "events.db"

    async with eventstore.open(f"sqlite:///{path}") as store:
        await store.append("s", 0, [NewEvent("X", {})])

    assert "PRAGMA synchronous = FULL" in [sql for _, sql in statements]
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_the_schema_refuses_a_second_event_at_one_version(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    async with eventstore.open(f"sqlite:///{path}") as store:
        await store.append("s", 0, [NewEvent("X", {})])

    connection = sqlite3.connect(path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
            connection.execute(
                "INSERT INTO events (stream_id, version, type, schema_version, data, metadata, "
                "id, recorded_at) VALUES ('s', 1, 'X', 1, '{}', '{}', 'other', 'now')"
            )
    finally:
        connection.close()


async def test_two_stores_on_one_file_never_write_a_version_twice(tmp_path: Path) -> None:
    """Two processes sharing a SQLite file: each store has its own connection and thread."""
    url = f"sqlite:///{tmp_path}/shared.db"
    stores = [eventstore.open(url), eventstore.open(url)]
    written: dict[int, int] = {}

    async def appender(store: EventStore, number: int) -> None:
        version = 0
        for _ in range(40):
            try:
                new_version = await store.append("race", version, [NewEvent("X", {"n": number})])
            except ConcurrencyError:
                version = await current_version(store, "race", version)
            else:
                assert new_version not in written, f"version {new_version} written twice"
                written[new_version] = number
                return
        pytest.fail(f"appender {number} never got its turn")

    try:
        await asyncio.gather(*(appender(stores[n % 2], n) for n in range(20)))
        events = [await collect(store.read("race")) for store in stores]
        feed = await collect(stores[1].read_all())
    finally:
        for store in stores:
            await store.close()

    assert events[0] == events[1]
    assert {e.version: e.data["n"] for e in events[0]} == written
    assert sorted(written) == list(range(1, 21))
    assert [e.position for e in feed] == list(range(1, 21))


async def test_stores_opening_a_new_file_at_the_same_moment_all_open_it(tmp_path: Path) -> None:
    """Bot processes starting together on a fresh file: switching it to WAL must wait for the
    other connection's lock rather than fail with "database is locked"."""
    for attempt in range(60):
        url = f"sqlite:///{tmp_path}/new-{attempt}.db"
        stores = [eventstore.open(url) for _ in range(4)]
        try:
            versions = await asyncio.gather(
                *(store.append(f"s{n}", 0, [NewEvent("X", {})]) for n, store in enumerate(stores))
            )
            assert versions == [1, 1, 1, 1]
        finally:
            await asyncio.gather(*(store.close() for store in stores))


async def test_expired_idempotency_keys_are_swept_from_the_file(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 11, 28, 3, 15, tzinfo=UTC))
    path = tmp_path / "events.db"
    async with eventstore.open(f"sqlite:///{path}", clock=clock) as store:
        await store.append("s", 0, [NewEvent("X", {})], idempotency_key="old")
        clock.advance(IDEMPOTENCY_KEY_TTL - timedelta(hours=1))
        await store.append("s", 1, [NewEvent("X", {})], idempotency_key="recent")
        clock.advance(timedelta(hours=1))
        await store.append("s", 2, [NewEvent("X", {})], idempotency_key="new")

    with sqlite3.connect(path) as connection:
        remaining = connection.execute("SELECT key FROM idempotency_keys ORDER BY key").fetchall()
    assert remaining == [("new",), ("recent",)]


async def test_a_closed_store_refuses_requests_at_once(tmp_path: Path) -> None:
    store = eventstore.open(f"sqlite:///{tmp_path}/events.db")
    await store.append("s", 0, [NewEvent("X", {})])
    await store.close()

    with pytest.raises(RuntimeError):
        await asyncio.wait_for(store.append("s", 1, [NewEvent("X", {})]), timeout=30)
