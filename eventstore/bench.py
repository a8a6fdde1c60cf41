"""Benchmark: warm single-event commands per backend, against the eventsourcing package.

Run ``python -m eventstore.bench``. For each backend it prints warm commands per second (a
command loads a stream through the cached ``Repository`` and appends one event), p50 and p99
latency, DynamoDB HTTP requests per warm command (counted with botocore's ``before-send``
event, retries included) and ``read_all`` events per second. The same workload then runs
through the eventsourcing package's SQLite persistence, and the ratio is printed. DynamoDB
figures come from a moto server this script starts on loopback: they show the request count,
not AWS latency.
"""

import asyncio
import logging
import os
import socket
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from moto.server import ThreadedMotoServer

import eventstore
from eventstore import EventStore, NewEvent, Repository, StoredEvent
from eventstore.dynamodb import DynamoDBEventStore

STREAMS = 200
COMMANDS = 4000
DYNAMODB_COMMANDS = 600
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "eu-west-1",
}


@dataclass(frozen=True)
class Figures:
    name: str
    durability: str
    commands_per_second: float
    p50_ms: float
    p99_ms: float
    requests_per_command: float | None = None
    read_all_per_second: float | None = None


class RequestCounter:
    """Counts HTTP requests a boto3 client sends, retries included."""

    def __init__(self, store: DynamoDBEventStore) -> None:
        self.count = 0
        store.client.meta.events.register("before-send.dynamodb", self._count)

    def _count(self, **_: Any) -> None:
        self.count += 1


def _count(state: int, _: StoredEvent) -> int:
    return state + 1


def _credit(_: int) -> list[NewEvent]:
    return [NewEvent("Credited", {"minutes": 60})]


def _timed(latencies: list[float]) -> tuple[float, float, float]:
    cuts = statistics.quantiles(latencies, n=100)
    return len(latencies) / sum(latencies), cuts[49] * 1000, cuts[98] * 1000


async def bench_store(name: str, durability: str, store: EventStore, commands: int) -> Figures:
    repo: Repository[int] = Repository(store, _count, 0)
    streams = [f"squadron#{number}" for number in range(STREAMS)]
    for stream in streams:
        await repo.execute(stream, _credit)
    counter = RequestCounter(store) if isinstance(store, DynamoDBEventStore) else None
    latencies = []
    for number in range(commands):
        started = time.perf_counter()
        await repo.execute(streams[number % STREAMS], _credit)
        latencies.append(time.perf_counter() - started)
    requests = counter.count / commands if counter else None
    started = time.perf_counter()
    delivered = sum([1 async for _ in store.read_all()])
    read_all_per_second = delivered / (time.perf_counter() - started)
    await store.close()
    rate, p50, p99 = _timed(latencies)
    return Figures(name, durability, rate, p50, p99, requests, read_all_per_second)


class Squadron(Aggregate):
    def __init__(self) -> None:
        self.credits = 0

    @event("Credited")
    def credit(self, minutes: int) -> None:
        self.credits += 1


def bench_eventsourcing(path: Path, *, cached: bool) -> Figures:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}
    if cached:
        env["AGGREGATE_CACHE_MAXSIZE"] = str(STREAMS)
    app: Application[UUID] = Application(env=env)
    ids = []
    for _ in range(STREAMS):
        squadron = Squadron()
        squadron.credit(minutes=60)
        app.save(squadron)
        ids.append(squadron.id)
    latencies = []
    for number in range(COMMANDS):
        started = time.perf_counter()
        squadron = app.repository.get(ids[number % STREAMS])
        squadron.credit(minutes=60)
        app.save(squadron)
        latencies.append(time.perf_counter() - started)
    app.close()
    rate, p50, p99 = _timed(latencies)
    name = f"eventsourcing {version('eventsourcing')}" + (" + its cache" if cached else "")
    return Figures(name, f"WAL, synchronous={_default_synchronous()} (its default)", rate, p50, p99)


def _default_synchronous() -> str:
    """The synchronous level a connection gets when, like eventsourcing's, it sets none."""
    with sqlite3.connect(":memory:") as connection:
        (level,) = connection.execute("PRAGMA synchronous").fetchone()
    return {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}[level]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def run(directory: Path, endpoint: str) -> list[Figures]:
    runs: list[tuple[str, str, Callable[[], EventStore], int]] = [
        ("memory", "none", lambda: eventstore.open("memory://"), COMMANDS),
        (
            "sqlite",
            "synchronous=FULL",
            lambda: eventstore.open(f"sqlite:///{directory}/full.db"),
            COMMANDS,
        ),
        (
            "sqlite",
            "synchronous=NORMAL",
            lambda: eventstore.open(f"sqlite:///{directory}/normal.db?synchronous=normal"),
            COMMANDS,
        ),
        (
            "dynamodb (moto)",
            "DynamoDB",
            lambda: eventstore.open(f"dynamodb://bench?region=eu-west-1&endpoint_url={endpoint}"),
            DYNAMODB_COMMANDS,
        ),
    ]
    return [await bench_store(name, durability, open_(), n) for name, durability, open_, n in runs]


def _print(figures: list[Figures]) -> None:
    print(
        f"{'backend':<30} {'durability':<38} {'cmd/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'req/cmd':>8} {'read_all ev/s':>14}"
    )
    for row in figures:
        requests = (
            f"{row.requests_per_command:.2f}" if row.requests_per_command is not None else "-"
        )
        reads = f"{row.read_all_per_second:,.0f}" if row.read_all_per_second is not None else "-"
        print(
            f"{row.name:<30} {row.durability:<38} {row.commands_per_second:>8,.0f} "
            f"{row.p50_ms:>7.3f} {row.p99_ms:>7.3f} {requests:>8} {reads:>14}"
        )


def main() -> None:
    for name, value in FAKE_AWS_ENV.items():
        os.environ.setdefault(name, value)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        with tempfile.TemporaryDirectory() as directory:
            ours = asyncio.run(run(Path(directory), f"http://127.0.0.1:{port}"))
            theirs = bench_eventsourcing(Path(directory) / "eventsourcing.db", cached=False)
            theirs_cached = bench_eventsourcing(Path(directory) / "cached.db", cached=True)
    finally:
        server.stop()
    _print([*ours, theirs, theirs_cached])
    sqlite_full = next(row for row in ours if row.durability == "synchronous=FULL")
    ours_rate = sqlite_full.commands_per_second
    print(
        f"\nsqlite (FULL) / eventsourcing: {ours_rate / theirs.commands_per_second:.1f}x "
        f"(against it with its own aggregate cache: "
        f"{ours_rate / theirs_cached.commands_per_second:.1f}x); target ≥ 2x"
    )
    print(
        f"{STREAMS} streams, {COMMANDS} commands ({DYNAMODB_COMMANDS} on DynamoDB), one event "
        "each, one after another; eventsourcing replays the stream on every command unless cached."
    )


if __name__ == "__main__":
    main()
