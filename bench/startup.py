"""Benchmark of start-up: ``python -m bench.startup [--events N] [--tail N]``.

Builds a SQLite store of ``--events`` events (1,000,000 by default): whole session lifecycles
(13 events each, on their session's and squadron's streams, bench/view.py's), one booked
every 10 minutes of recorded time, then 1,000 sessions booked ahead. Times the view ready
(restored and caught up, as ``App.start`` does it) two ways: replaying the whole feed, and
from the view's checkpoint plus a tail of ``--tail`` events written after it (the median of
5 starts). Building the store is not measured (batched ``append_many``, synchronous=normal).
"""

import argparse
import asyncio
import statistics
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from random import Random

import eventstore
from bench.view import GUILDS, NOW, Plan, appends, booked_session, grants, whole_session
from bot.clock import SystemClock
from bot.mailbox import Mailbox
from bot.view import ScheduleConfig, View
from bot.view.checkpoint import CHECKPOINT_NAME, ViewCheckpoints
from bot.view.feeder import ViewFeeder

EVENTS = 1_000_000
TAIL = 2_000
AHEAD = 1_000
RUNS = 5
SESSION_PACE = timedelta(minutes=10)


class SteppingClock:
    """Recorded times for the store: each session's events at its own moment."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def history(events: int, first: int, rng: Random) -> list[Plan]:
    """Whole sessions from number ``first`` on, about ``events`` events, one plan each."""
    plans, count, number = [], 0, first
    while count < events:
        plan = whole_session(number, rng)
        plans.append(plan)
        count += len(plan)
        number += 1
    return plans


class Writer:
    """Appends plans to a store, knowing each stream's version across calls; the clock moves
    one pace per session."""

    def __init__(self, url: str, clock: SteppingClock) -> None:
        self._url = url
        self._clock = clock
        self._versions: dict[str, int] = defaultdict(int)
        self.written = 0

    async def write(self, plans: list[Plan], per_append: int) -> None:
        async with eventstore.open(self._url, clock=self._clock) as store:
            for offset in range(0, len(plans), per_append):
                chunk = plans[offset : offset + per_append]
                for batch in appends([step for plan in chunk for step in plan]):
                    await store.append_many(
                        [(stream, self._versions[stream], events) for stream, events in batch]
                    )
                    for stream, events in batch:
                        self._versions[stream] += len(events)
                        self.written += len(events)
                self._clock.now += SESSION_PACE * len(chunk)


async def ready_view(url: str, *, restore: bool, save: bool = False) -> tuple[float, int, int]:
    """Seconds until the view is ready (restored from its checkpoint if ``restore``, then
    caught up); the events read from the feed; the sessions in memory. ``save`` saves a
    checkpoint afterwards."""
    async with eventstore.open(url) as store:
        started = time.perf_counter()
        mailbox = Mailbox(View(ScheduleConfig()), name="view")
        mailbox.start()
        feeder = ViewFeeder(store, mailbox, SystemClock(), checkpoints=ViewCheckpoints(store))
        if restore and not await feeder.restore():
            raise RuntimeError("the checkpoint was not restored")
        delivered = await feeder.catch_up()
        elapsed = time.perf_counter() - started
        stats = await mailbox.ask(lambda view: view.stats())
        if save:
            await feeder.save_checkpoint(final=True)
        await mailbox.stop()
    return elapsed, delivered, stats.sessions_tracked


def median_of(runs: list[float]) -> str:
    return f"median {statistics.median(runs):.3f} s (min {min(runs):.3f}, max {max(runs):.3f})"


async def main(events: int, tail: int) -> None:
    rng = Random(1)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'startup.db'}?synchronous=normal"
        clock = SteppingClock(NOW - SESSION_PACE * (events // 13))
        started = time.perf_counter()
        writer = Writer(url, clock)
        await writer.write([grants()], per_append=1)
        plans = history(events - GUILDS - AHEAD * 2 - tail, 0, rng)
        await writer.write(plans, per_append=7)
        ahead = [booked_session(len(plans) + n, rng) for n in range(AHEAD)]
        await writer.write(ahead, per_append=50)
        print(f"store built: {writer.written:,} events in {time.perf_counter() - started:.0f} s")

        replay, delivered, kept = await ready_view(url, restore=False, save=True)
        print(
            f"full replay: {delivered:,} events in {replay:.2f} s; {kept:,} sessions in memory "
            "(a checkpoint saved after it)"
        )
        async with eventstore.open(url) as store:
            saved = await store.load_checkpoint(CHECKPOINT_NAME)
        if saved is None:
            raise RuntimeError("no checkpoint was saved")
        print(f"checkpoint: {len(saved.data) / 1024:,.0f} KiB")
        await writer.write(history(tail, len(plans) + AHEAD, rng), per_append=7)
        written = writer.written

        timings: list[float] = []
        for _ in range(RUNS):
            elapsed, delivered, kept = await ready_view(url, restore=True)
            timings.append(elapsed)
        replay = (await ready_view(url, restore=False))[0]
        print(
            f"start-up from the checkpoint + {delivered:,} tail events ({written:,} in the store): "
            f"{median_of(timings)}; {kept:,} sessions in memory"
        )
        print(f"start-up replaying all {written:,} events: {replay:.2f} s")


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=EVENTS, help="events in the store")
    parser.add_argument("--tail", type=int, default=TAIL, help="events after the checkpoint")
    return parser.parse_args()


if __name__ == "__main__":
    options = arguments()
    asyncio.run(main(options.events, options.tail))
