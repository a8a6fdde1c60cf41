"""/healthz's checks of the store, the view and the scheduler, each on its own."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import eventstore
from bot.entrypoints.app import scheduler_alive, store_reachable, view_caught_up
from bot.mailbox import Mailbox
from bot.view import ScheduleConfig, View
from bot.view.handle import ViewHandle
from tests.fakes.clock import FakeClock

START = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)
HEARTBEAT = timedelta(minutes=1)


@dataclass
class Status:
    alive: bool
    last_tick_at: datetime | None


async def test_store_check_passes_when_a_read_answers() -> None:
    store = eventstore.open("memory://")

    result = await store_reachable(store)()

    assert result.ok and result.detail == "reachable"


async def test_store_check_raises_when_the_store_cannot_be_read(tmp_path: Path) -> None:
    store = eventstore.open(f"sqlite:///{tmp_path}/missing/rr.db?create=false")

    with pytest.raises(ValueError, match="Cannot open the SQLite event store"):
        await store_reachable(store)()  # the web app reports the failed check
    await store.close()


async def test_view_check_passes_while_the_feeder_keeps_the_view_at_the_head() -> None:
    clock = FakeClock(START)
    mailbox = Mailbox(View(ScheduleConfig()), name="view")
    mailbox.start()
    await mailbox.ask(lambda view: view.mark_caught_up(7, START))
    await clock.advance(timedelta(seconds=20))

    result = await view_caught_up(ViewHandle(mailbox), Status(True, None), clock, HEARTBEAT)()

    assert result.ok
    assert result.detail.startswith("at the store's head 20 s ago (position 7")
    await mailbox.stop()


async def test_view_check_fails_when_the_view_fell_behind_or_is_not_fed() -> None:
    clock = FakeClock(START)
    mailbox = Mailbox(View(ScheduleConfig()), name="view")
    mailbox.start()
    view = ViewHandle(mailbox)

    never = await view_caught_up(view, Status(True, None), clock, HEARTBEAT)()
    await mailbox.ask(lambda v: v.mark_caught_up(7, START))
    await clock.advance(timedelta(minutes=2))
    behind = await view_caught_up(view, Status(True, None), clock, HEARTBEAT)()
    unfed = await view_caught_up(view, Status(False, None), clock, timedelta(hours=1))()

    assert not never.ok and never.detail == "the view is not following the store"
    assert not behind.ok and behind.detail.startswith("at the store's head 120 s ago")
    assert not unfed.ok
    await mailbox.stop()


async def test_scheduler_check_follows_its_ticks() -> None:
    clock = FakeClock(START)
    await clock.advance(timedelta(minutes=2))

    recent = await scheduler_alive(Status(True, START + timedelta(minutes=1)), clock, HEARTBEAT)()
    silent = await scheduler_alive(Status(True, START - timedelta(minutes=2)), clock, HEARTBEAT)()
    stopped = await scheduler_alive(Status(False, START), clock, HEARTBEAT)()
    never = await scheduler_alive(Status(True, None), clock, HEARTBEAT)()

    assert recent.ok and recent.detail == "last tick 60 s ago"
    assert not silent.ok and silent.detail == "last tick 240 s ago"
    assert not stopped.ok and stopped.detail == "the scheduler is not running"
    assert not never.ok
