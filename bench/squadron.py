"""Benchmark of one squadron with a long history: ``python -m bench.squadron``.

A squadron stream of 20,000 purchases (each a ``PurchaseStarted`` and its ``CreditsPurchased``,
40,000 events) is written to a SQLite file, then:

1. cold load: a fresh repository (as the bot builds it) loads the stream: the first from its
   events alone (which saves a snapshot), then repeatedly from the snapshot and its tail;
2. warm command: the repository, holding the stream, runs a member's checkout and its close
   (``StartPurchase`` then ``ClosePurchase``, each decided and appended), timed per command.
"""

import asyncio
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
from eventstore import EventStore, NewEvent

PURCHASES = 20_000
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


async def cold_loads(store: EventStore) -> list[float]:
    """The first load folds every event; it saves a snapshot the later ones start from."""
    timings = []
    for _ in range(COLD_LOADS + 1):
        started = time.perf_counter()
        state, _ = await squadron_repository(store).load(STREAM)
        timings.append(time.perf_counter() - started)
        assert len(state.purchases) == PURCHASES
    return timings


async def warm_commands(store: EventStore) -> list[float]:
    repo = squadron_repository(store)
    await repo.load(STREAM)
    member = Actor("bench-member", GUILD)
    stripe = Actor.system("stripe", "evt_bench")
    timings = []
    for n in range(WARM_COMMANDS // 2):
        purchase_id = f"bench{n}"
        start = squadrons.StartPurchase(
            actor=member,
            purchase_id=purchase_id,
            amount_cents=500,
            buyer_id=member.user_id,
            checkout_session_id=f"cs_bench{n}",
            lapsed_before=_LONG_AGO,
        )
        close = squadrons.ClosePurchase(actor=stripe, purchase_id=purchase_id, reason="expired")
        for command in (start, close):
            started = time.perf_counter()
            _, stored = await repo.execute(STREAM, partial(decide, command))
            timings.append(time.perf_counter() - started)
            assert stored
    return timings


def decide(command: squadrons.SquadronCommand, state: SquadronState) -> list[NewEvent]:
    return decide_squadron(command, state)


def quantiles(timings: list[float]) -> str:
    cuts = statistics.quantiles(timings, n=100, method="inclusive")
    return f"p50 {cuts[49] * 1000:7.2f} ms   p99 {cuts[98] * 1000:7.2f} ms"


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}?synchronous=normal"
        async with eventstore.open(url) as store:
            started = time.perf_counter()
            version = await write_history(store)
            written = time.perf_counter() - started
            print(f"squadron stream: {PURCHASES:,} purchases, {version:,} events (SQLite)")
            print(f"  written in {written:.1f} s")
            first, *cold = await cold_loads(store)
            print(f"  cold load from the events:      {first * 1000:7.2f} ms")
            print(f"  cold load from a snapshot ({COLD_LOADS}): {quantiles(cold)}")
            warm = await warm_commands(store)
            print(f"  warm command ({len(warm)}): {quantiles(warm)}")


if __name__ == "__main__":
    asyncio.run(main())
