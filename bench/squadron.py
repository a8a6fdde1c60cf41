"""Benchmark of one squadron with a long history: ``python -m bench.squadron``.

A squadron stream of 20,000 purchases (each a ``PurchaseStarted`` and its ``CreditsPurchased``,
40,000 events) is written to a SQLite file, then:

1. cold load: a repository without snapshots folds every event; fresh repositories (as the
   bot builds them) load the stream from its snapshot and tail, and then look at a past
   purchase's credit once (which parses the credits the snapshot keeps as text);
2. warm command: the repository, holding the stream, runs a member's checkout and its close
   (``StartPurchase`` then ``ClosePurchase``, each decided and appended), timed per command.

The machine is shared and noisy, so this runs in ``ROUNDS`` rounds and prints the median over
the rounds of each figure (of each round's p50 and p99).
"""

import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import eventstore
from bot.domain import squadron as squadrons
from bot.domain.actor import Actor
from bot.domain.events import CreditsPurchased, DomainEvent, PurchaseStarted, to_new_event
from bot.domain.squadron import SquadronState, squadron_stream
from bot.services.streams import decide_squadron, squadron_repository
from eventstore import EventStore, NewEvent, Repository

PURCHASES = 20_000
ROUNDS = 5
COLD_LOADS = 10
WARM_COMMANDS = 1_000
GUILD = "100000000000000001"
STREAM = squadron_stream(GUILD)
_BATCH = 100
_METADATA = {"guild_id": GUILD, "user_id": "bench", "source": "bench", "source_id": None}
_LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


def history() -> Iterator[DomainEvent]:
    for n in range(PURCHASES):
        purchase_id, buyer_id, session_id = f"p{n:06d}", f"u{n % 50}", f"cs_{n:06d}"
        yield PurchaseStarted(
            purchase_id=purchase_id,
            amount_cents=500,
            buyer_id=buyer_id,
            checkout_session_id=session_id,
            intent=None,
        )
        yield CreditsPurchased(
            purchase_id=purchase_id,
            amount_cents=500,
            buyer_id=buyer_id,
            checkout_session_id=session_id,
            payment_event_id=f"evt_{n:06d}",
        )


async def write_history(store: EventStore) -> int:
    version = 0
    batch = []
    for event in history():
        batch.append(to_new_event(event, _METADATA))
        if len(batch) == _BATCH:
            version = await store.append(STREAM, version, batch)
            batch = []
    if batch:
        version = await store.append(STREAM, version, batch)
    return version


async def cold_from_events(store: EventStore) -> float:
    """A repository without snapshots folds every event."""
    started = time.perf_counter()
    state, _ = await Repository(store, squadrons.evolve, squadrons.initial_squadron).load(STREAM)
    elapsed = time.perf_counter() - started
    assert state.balance_cents == PURCHASES * 500
    return elapsed


async def cold_loads(store: EventStore) -> tuple[list[float], list[float]]:
    """Fresh repositories load the stream from its snapshot and tail (the first load of the
    run saves the snapshot); then the first look at a past purchase's credit, which parses
    the credits the snapshot keeps as text."""
    await squadron_repository(store).load(STREAM)
    loads, first_looks = [], []
    for _ in range(COLD_LOADS):
        started = time.perf_counter()
        state, _ = await squadron_repository(store).load(STREAM)
        loads.append(time.perf_counter() - started)
        assert state.balance_cents == PURCHASES * 500
        started = time.perf_counter()
        assert "p000000" in state.credited
        first_looks.append(time.perf_counter() - started)
    return loads, first_looks


async def warm_commands(store: EventStore, round_number: int) -> tuple[list[float], float]:
    """Each command's time, and the process's CPU time per command (steadier than the time on
    a shared machine: a command preempted by another process waits without using the CPU)."""
    repo = squadron_repository(store)
    await repo.load(STREAM)
    member = Actor("bench-member", GUILD)
    stripe = Actor.system("stripe", "evt_bench")
    timings = []
    cpu_started = time.process_time()
    for n in range(WARM_COMMANDS // 2):
        purchase_id = f"bench{round_number}-{n}"
        start = squadrons.StartPurchase(
            actor=member,
            purchase_id=purchase_id,
            amount_cents=500,
            buyer_id=member.user_id,
            checkout_session_id=f"cs_{purchase_id}",
            lapsed_before=_LONG_AGO,
        )
        close = squadrons.ClosePurchase(actor=stripe, purchase_id=purchase_id, reason="expired")
        for command in (start, close):
            started = time.perf_counter()
            _, stored = await repo.execute(STREAM, partial(decide, command))
            timings.append(time.perf_counter() - started)
            assert stored
    return timings, (time.process_time() - cpu_started) / len(timings)


def decide(command: squadrons.SquadronCommand, state: SquadronState) -> list[NewEvent]:
    return decide_squadron(command, state)


def quantiles(rounds: list[list[float]]) -> str:
    """The median over the rounds of each round's p50 and p99."""
    cuts = [statistics.quantiles(timings, n=100, method="inclusive") for timings in rounds]
    p50 = statistics.median(round_cuts[49] for round_cuts in cuts)
    p99 = statistics.median(round_cuts[98] for round_cuts in cuts)
    return f"p50 {ms(p50)}   p99 {ms(p99)}"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.2f} ms"


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}?synchronous=normal"
        async with eventstore.open(url) as store:
            started = time.perf_counter()
            version = await write_history(store)
            written = time.perf_counter() - started
            print(f"squadron stream: {PURCHASES:,} purchases, {version:,} events (SQLite)")
            print(f"  written in {written:.1f} s; {ROUNDS} rounds, medians of the rounds' figures")
            from_events, loads, first_looks, warm, cpu = [], [], [], [], []
            for round_number in range(ROUNDS):
                from_events.append(await cold_from_events(store))
                round_loads, round_looks = await cold_loads(store)
                loads.append(round_loads)
                first_looks.append(round_looks)
                round_warm, round_cpu = await warm_commands(store, round_number)
                warm.append(round_warm)
                cpu.append(round_cpu)
            print(f"  cold load from the events:      {ms(statistics.median(from_events))}")
            print(f"  cold load from a snapshot ({COLD_LOADS}): {quantiles(loads)}")
            print(f"  first look at a credit ({COLD_LOADS}):    {quantiles(first_looks)}")
            print(f"  warm command ({WARM_COMMANDS}):         {quantiles(warm)}")
            print(f"  warm command, CPU time:         {ms(statistics.median(cpu))}")
            print(f"  load average: {' '.join(f'{load:.1f}' for load in os.getloadavg())}")


if __name__ == "__main__":
    asyncio.run(main())
