"""Benchmark of the read model: ``python -m bench.view``.

1. 10,000 booked sessions (500 guilds, starts spread over 30 days) loaded into a view; the
   scheduler's tick — ``ask(due_actions)`` then ``ask(next_due_at)`` through the view's mailbox —
   timed over 2,000 ticks a minute apart (due actions are put off a day afterwards, as if
   performed), and the view's memory measured with tracemalloc.
2. 100,000 events of whole session lifecycles written to a SQLite file with ``append_many``, then
   the start-up rebuild timed: ``read_all`` alone, and ``read_all`` folded into a fresh view
   through its mailbox (``ViewFeeder.catch_up``, the start-up path).
"""

import asyncio
import gc
import statistics
import tempfile
import time
import tracemalloc
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from random import Random

import eventstore
from bot.clock import SystemClock
from bot.domain.events import (
    CreditsGranted,
    CreditsReserved,
    DomainEvent,
    InstanceLaunched,
    InstanceLaunchRequested,
    InstanceReady,
    ReminderSent,
    SessionBooked,
    SessionCharged,
    SessionEnded,
    TerminationRequested,
    to_new_event,
)
from bot.domain.session import session_stream
from bot.domain.squadron import squadron_stream
from bot.mailbox import Mailbox
from bot.view import ScheduleConfig, View
from bot.view.feeder import ViewFeeder
from eventstore import EventStore, NewEvent, StoredEvent

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SESSIONS = 10_000
GUILDS = 500
TICKS = 2_000
REBUILD_EVENTS = 100_000
RATE = 600
_MAX_APPEND_ITEMS = 100
_METADATA = {"guild_id": None, "user_id": "bench", "source": "bench", "source_id": None}

Plan = list[tuple[str, DomainEvent]]
"""(stream id, event) in the order they happen."""


def booked_session(number: int, rng: Random) -> Plan:
    session_id = f"m{number:06d}"
    guild_id = f"g{number % GUILDS:04d}"
    start_at = NOW + timedelta(minutes=rng.randrange(30, 30 * 24 * 60))
    minutes = rng.choice((60, 90, 120, 180, 240))
    booked = SessionBooked(
        session_id=session_id,
        guild_id=guild_id,
        booked_by=f"u{number}",
        size="medium",
        region="eu-west-1",
        start_at=start_at,
        duration_minutes=minutes,
        rate_cents_per_hour=RATE,
        immediate=False,
        mission_name=None,
    )
    reserved = CreditsReserved(session_id=session_id, amount_cents=(minutes + 20) * RATE // 60)
    return [(session_stream(session_id), booked), (squadron_stream(guild_id), reserved)]


def whole_session(number: int, rng: Random) -> Plan:
    """A booked session from booking to charge: 13 events."""
    plan = booked_session(number, rng)
    stream, booked = plan[0]
    assert isinstance(booked, SessionBooked)
    launched_at = booked.start_at - timedelta(minutes=20)
    ended_at = booked.start_at + timedelta(minutes=booked.duration_minutes)
    billed = booked.duration_minutes
    cents = billed * RATE // 60
    steps: list[DomainEvent] = [
        ReminderSent(key="start-1440"),
        ReminderSent(key="start-60"),
        InstanceLaunchRequested(
            attempt=1,
            client_token=f"{booked.session_id}-1",
            size="medium",
            region="eu-west-1",
            login_ref=None,
        ),
        InstanceLaunched(
            attempt=1, instance_id=f"i-{number:08x}", provider="bench", launched_at=launched_at
        ),
        ReminderSent(key="start-15"),
        InstanceReady(address="10.0.0.1", port=10308, ready_at=launched_at + timedelta(minutes=8)),
        ReminderSent(key="end-15"),
        ReminderSent(key="end-5"),
        TerminationRequested(reason="booked_time_over", stop_at=ended_at),
        SessionEnded(
            reason="booked_time_over",
            ended_at=ended_at,
            billed_minutes=billed,
            amount_cents=cents,
            instance_id=f"i-{number:08x}",
        ),
    ]
    plan.extend((stream, step) for step in steps)
    charged = SessionCharged(session_id=booked.session_id, minutes=billed, amount_cents=cents)
    plan.append((squadron_stream(booked.guild_id), charged))
    return plan


def grants() -> Plan:
    return [
        (squadron_stream(f"g{guild:04d}"), CreditsGranted(amount_cents=10**9, reason="bench"))
        for guild in range(GUILDS)
    ]


def appends(plan: Plan) -> Iterator[list[tuple[str, list[NewEvent]]]]:
    """The plan cut into appends of at most 100 items, each stream at most once per append."""
    pending: dict[str, list[NewEvent]] = defaultdict(list)
    items = 0
    for stream_id, event in plan:
        if items == _MAX_APPEND_ITEMS:
            yield list(pending.items())
            pending, items = defaultdict(list), 0
        pending[stream_id].append(to_new_event(event, _METADATA))
        items += 1
    if pending:
        yield list(pending.items())


async def write(store: EventStore, plan: Plan) -> list[StoredEvent]:
    versions: dict[str, int] = defaultdict(int)
    stored: list[StoredEvent] = []
    for batch in appends(plan):
        written = await store.append_many(
            [(stream_id, versions[stream_id], events) for stream_id, events in batch]
        )
        for stream_id, events in batch:
            versions[stream_id] += len(events)
        stored.extend(written)
    return stored


def percentile(samples: Sequence[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def bench_ticks(events: list[StoredEvent]) -> None:
    view = View(ScheduleConfig())
    started = time.perf_counter()
    view.apply_all(events)
    load = time.perf_counter() - started
    mailbox = Mailbox(view, name="view")
    mailbox.start()
    samples: list[float] = []
    due_total = 0
    for tick in range(TICKS):
        now = NOW + timedelta(minutes=tick)
        began = time.perf_counter_ns()
        due = await mailbox.ask(partial(View.due_actions, now=now))
        await mailbox.ask(lambda v: v.next_due_at())
        samples.append((time.perf_counter_ns() - began) / 1000)
        due_total += len(due)
        for action in due:
            mailbox.tell(partial(View.postpone, action=action, until=now + timedelta(days=1)))
    idle: list[float] = []
    quiet = NOW - timedelta(days=1)
    for _ in range(TICKS):
        began = time.perf_counter_ns()
        await mailbox.ask(lambda v: v.due_actions(quiet))
        await mailbox.ask(lambda v: v.next_due_at())
        idle.append((time.perf_counter_ns() - began) / 1000)
    await mailbox.stop()
    print(f"view load: {SESSIONS:,} booked sessions ({len(events):,} events) in {load:.2f} s")
    print(
        f"scheduler tick over {TICKS:,} ticks a minute apart ({due_total:,} due actions): "
        f"p50 {statistics.median(samples):.0f} µs, p99 {percentile(samples, 0.99):.0f} µs"
    )
    print(
        f"scheduler tick with nothing due: p50 {statistics.median(idle):.0f} µs, "
        f"p99 {percentile(idle, 0.99):.0f} µs"
    )


def bench_memory(events: list[StoredEvent]) -> None:
    gc.collect()
    tracemalloc.start()
    view = View(ScheduleConfig())
    view.apply_all(events)
    gc.collect()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"view memory for {view.stats().sessions_tracked:,} sessions: {current / 2**20:.1f} MiB "
        f"({current / SESSIONS:,.0f} B per session), peak while loading {peak / 2**20:.1f} MiB"
    )


async def bench_rebuild(folder: Path) -> None:
    rng = Random(2)
    plan = grants()
    number = 0
    while len(plan) < REBUILD_EVENTS:
        plan.extend(whole_session(number, rng))
        number += 1
    plan = plan[:REBUILD_EVENTS]
    url = f"sqlite:///{folder / 'bench.db'}?synchronous=normal"
    async with eventstore.open(url) as store:
        started = time.perf_counter()
        await write(store, plan)
        print(f"sqlite write: {len(plan):,} events in {time.perf_counter() - started:.1f} s")
    async with eventstore.open(url) as store:
        started = time.perf_counter()
        read = sum([1 async for _ in store.read_all()])
        print(f"sqlite read_all: {read:,} events in {time.perf_counter() - started:.2f} s")
    async with eventstore.open(url) as store:
        mailbox = Mailbox(View(ScheduleConfig()), name="view")
        mailbox.start()
        feeder = ViewFeeder(store, mailbox, SystemClock())
        started = time.perf_counter()
        delivered = await feeder.catch_up()
        elapsed = time.perf_counter() - started
        stats = await mailbox.ask(lambda v: v.stats())
        await mailbox.stop()
    print(
        f"start-up rebuild (read_all + view fold): {delivered:,} events in {elapsed:.2f} s "
        f"({delivered / elapsed:,.0f} events/s); {stats.sessions_tracked:,} sessions, "
        f"{stats.active_sessions:,} active"
    )


async def main() -> None:
    rng = Random(1)
    plan = grants()
    for number in range(SESSIONS):
        plan.extend(booked_session(number, rng))
    events = await write(eventstore.open("memory://", clock=lambda: NOW), plan)
    await bench_ticks(events)
    bench_memory(events)
    with tempfile.TemporaryDirectory() as folder:
        await bench_rebuild(Path(folder))


if __name__ == "__main__":
    asyncio.run(main())
