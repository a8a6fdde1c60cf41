"""Benchmark: warm single-event commands per backend, against the eventsourcing package.

Run ``python -m bench.store``. For each backend it prints warm commands per second (a
command loads a stream through the cached ``Repository`` and appends one event), p50 and p99
latency, DynamoDB HTTP requests per warm command (counted with botocore's ``before-send``
event, retries included) and ``read_all`` events per second. DynamoDB figures come from a
moto server this script starts on loopback: they show the request count, not AWS latency.

Then the comparison with the eventsourcing package's SQLite persistence, both at full
durability (every commit synced): the same workload runs through each in interleaved rounds
in this one process, the order rotating from round to round, so that what the machine does
meanwhile (other processes, disk flushes) weighs on both alike. The median of the per-round
ratios is the figure; the spread of the ratios shows how far one run can be trusted.
"""

import asyncio
import logging
import os
import socket
import sqlite3
import statistics
import tempfile
import time
from abc import ABC, abstractmethod
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
ROUNDS = 20
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


class Contender(ABC):
    """One side of the comparison: ``STREAMS`` streams of one event each, then commands run
    block by block, each block on the streams in turn (command ``n`` on stream ``n % STREAMS``).
    """

    name: str
    durability: str

    @abstractmethod
    def run(self, first: int, count: int) -> list[float]:
        """Run commands ``first`` to ``first + count`` one after another; their latencies."""

    @abstractmethod
    def close(self) -> None: ...


class Ours(Contender):
    """The cached ``Repository`` on SQLite at synchronous=FULL, on an event loop of its own
    that runs only while a block does (nothing else shares it)."""

    durability = "synchronous=FULL"

    def __init__(self, path: Path) -> None:
        self.name = "rr eventstore sqlite"
        self._loop = asyncio.new_event_loop()
        self._store = eventstore.open(f"sqlite:///{path}")
        self._repo: Repository[int] = Repository(self._store, _count, 0)
        self._streams = [f"squadron#{number}" for number in range(STREAMS)]
        self._loop.run_until_complete(self._commands(0, STREAMS))

    def run(self, first: int, count: int) -> list[float]:
        return self._loop.run_until_complete(self._commands(first, count))

    async def _commands(self, first: int, count: int) -> list[float]:
        latencies = []
        for number in range(first, first + count):
            started = time.perf_counter()
            await self._repo.execute(self._streams[number % STREAMS], _credit)
            latencies.append(time.perf_counter() - started)
        return latencies

    def close(self) -> None:
        self._loop.run_until_complete(self._store.close())
        self._loop.close()


class Theirs(Contender):
    """The eventsourcing package's application on its SQLite persistence, which sets WAL and
    leaves synchronous at SQLite's default."""

    def __init__(self, path: Path, *, cached: bool) -> None:
        env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}
        if cached:
            env["AGGREGATE_CACHE_MAXSIZE"] = str(STREAMS)
        self.name = f"eventsourcing {version('eventsourcing')}" + (" + cache" if cached else "")
        self.durability = f"WAL, synchronous={_default_synchronous()} (its default)"
        self._app: Application[UUID] = Application(env=env)
        self._ids: list[UUID] = []
        for _ in range(STREAMS):
            squadron = Squadron()
            squadron.credit(minutes=60)
            self._app.save(squadron)
            self._ids.append(squadron.id)

    def run(self, first: int, count: int) -> list[float]:
        latencies = []
        for number in range(first, first + count):
            started = time.perf_counter()
            squadron: Squadron = self._app.repository.get(self._ids[number % STREAMS])
            squadron.credit(minutes=60)
            self._app.save(squadron)
            latencies.append(time.perf_counter() - started)
        return latencies

    def close(self) -> None:
        self._app.close()


@dataclass
class Comparison:
    """Each contender's latencies, and per round the time each took for the same commands."""

    contenders: list[Contender]
    latencies: list[list[float]]
    round_times: list[list[float]]
    round_cpu: list[list[float]]
    """Per round, the CPU time (all threads) each contender used: what it costs apart from
    waiting for the disk and for other processes, so it hardly moves with the machine's load."""

    def figures(self, which: int) -> Figures:
        contender = self.contenders[which]
        rate, p50, p99 = _timed(self.latencies[which])
        return Figures(contender.name, contender.durability, rate, p50, p99)

    def ratios(self, which: int) -> list[float]:
        """Per round: how many times faster ours (contender 0) was than contender ``which``."""
        return [times[which] / times[0] for times in self.round_times]

    def cpu_ratio(self, which: int) -> float:
        """The median over rounds of contender ``which``'s CPU time over ours."""
        return statistics.median(cpu[which] / cpu[0] for cpu in self.round_cpu)

    def median_latency_ratio(self, which: int) -> float:
        """Contender ``which``'s median command latency over ours: the typical command, which
        a few commits stalled by other processes' disk traffic do not move."""
        return statistics.median(self.latencies[which]) / statistics.median(self.latencies[0])


def compare(directory: Path) -> Comparison:
    """The peer workload (``COMMANDS`` commands on ``STREAMS`` streams) cut into ``ROUNDS``
    blocks; in each round every contender runs the same block, in an order rotated by one each
    round, so a slow spell of the machine falls on all of them within a round or two."""
    contenders: list[Contender] = [
        Ours(directory / "ours.db"),
        Theirs(directory / "theirs.db", cached=False),
        Theirs(directory / "theirs-cached.db", cached=True),
    ]
    latencies: list[list[float]] = [[] for _ in contenders]
    round_times, round_cpu = [], []
    block = COMMANDS // ROUNDS
    try:
        for number in range(ROUNDS):
            times = [0.0] * len(contenders)
            cpu = [0.0] * len(contenders)
            for turn in range(len(contenders)):
                which = (number + turn) % len(contenders)
                started = time.process_time()
                taken = contenders[which].run(number * block, block)
                cpu[which] = time.process_time() - started
                latencies[which].extend(taken)
                times[which] = sum(taken)
            round_times.append(times)
            round_cpu.append(cpu)
    finally:
        for contender in contenders:
            contender.close()
    return Comparison(contenders, latencies, round_times, round_cpu)


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


def _print_comparison(comparison: Comparison) -> None:
    rows = [comparison.figures(which) for which in range(len(comparison.contenders))]
    print(
        f"\nSequential commands, {STREAMS} streams x {COMMANDS // STREAMS} commands, in "
        f"{ROUNDS} interleaved rounds of {COMMANDS // ROUNDS} commands each:"
    )
    _print(rows)
    for which in (1, 2):
        ratios = comparison.ratios(which)
        low, _, high = statistics.quantiles(ratios, n=4)
        print(
            f"{rows[0].name} / {rows[which].name}: median of the round ratios "
            f"{statistics.median(ratios):.2f}x (middle half {low:.2f}x to {high:.2f}x, all "
            f"{min(ratios):.2f}x to {max(ratios):.2f}x); median latencies "
            f"{comparison.median_latency_ratio(which):.2f}x; CPU time "
            f"{comparison.cpu_ratio(which):.2f}x"
        )
    print("target ≥ 2x against eventsourcing, both syncing every commit")


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
            comparison = compare(Path(directory))
    finally:
        server.stop()
    print(
        f"Each backend alone, {STREAMS} streams, {COMMANDS} commands "
        f"({DYNAMODB_COMMANDS} on DynamoDB):"
    )
    _print(ours)
    _print_comparison(comparison)


if __name__ == "__main__":
    main()
