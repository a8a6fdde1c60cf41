import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest

from bot.mailbox import Mailbox
from bot.scheduler import Scheduler
from bot.view import ScheduleConfig, View
from eventstore import StoredEvent
from tests.bot.view.history import START, History, RecordingSessions
from tests.fakes.clock import FakeClock, settle

HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
CONFIG = ScheduleConfig(heartbeat=timedelta(days=30))


@dataclass
class Rig:
    clock: FakeClock
    history: History
    view: Mailbox[View]
    sessions: RecordingSessions
    scheduler: Scheduler

    async def publish(self, events: list[StoredEvent]) -> None:
        self.view.tell(lambda view: view.apply_all(events))
        await settle()


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    clock = FakeClock(START)
    history = History(clock)
    await history.grant(1_000_000)
    view = Mailbox(View(CONFIG), name="view")
    view.start()
    sessions = RecordingSessions(history, view)
    scheduler = Scheduler(view, sessions, clock, CONFIG)
    yield Rig(clock, history, view, sessions, scheduler)
    await scheduler.stop()
    await view.stop()


async def start(rig: Rig) -> None:
    rig.view.tell(lambda view: view.apply_all(list(rig.history.events)))
    rig.scheduler.start()
    await settle()


async def test_it_sleeps_until_the_earliest_due_time(rig: Rig) -> None:
    await rig.history.book("m1", start_in=48 * HOUR)
    await start(rig)
    assert rig.clock.deadlines() == [START + 24 * HOUR]
    assert rig.sessions.calls == []
    assert rig.scheduler.alive
    assert rig.scheduler.last_tick_at == START


async def test_a_new_earlier_booking_wakes_it_early(rig: Rig) -> None:
    await rig.history.book("far", start_in=48 * HOUR)
    await start(rig)
    await rig.publish(await rig.history.book("near", start_in=2 * HOUR))
    assert rig.clock.deadlines() == [START + HOUR]
    await rig.clock.advance(HOUR)
    assert rig.sessions.calls == [("remind", "near", "start-60")]


async def test_a_whole_booked_session_runs_each_action_once(rig: Rig) -> None:
    await rig.history.book("m1", start_in=48 * HOUR, minutes=60)
    await start(rig)
    await rig.clock.advance(72 * HOUR)
    assert rig.sessions.calls == [
        ("remind", "m1", "start-1440"),
        ("remind", "m1", "start-60"),
        ("launch", "m1", ""),
        ("check_ready", "m1", ""),
        ("remind", "m1", "start-15"),
        ("remind", "m1", "end-15"),
        ("remind", "m1", "end-5"),
        ("terminate", "m1", "booked_time_over"),
    ]
    state = await rig.history.state("m1")
    assert state.ended_at == START + 49 * HOUR
    assert state.billed_minutes == 60
    assert rig.clock.deadlines() == [START + 49 * HOUR + CONFIG.heartbeat]


async def test_overdue_actions_happen_at_once_on_start_up(rig: Rig) -> None:
    await rig.history.book("m1", start_in=None, minutes=60)
    await rig.history.launch("m1")
    await rig.history.ready("m1")
    await rig.clock.set(START + 3 * HOUR)
    await start(rig)
    assert rig.sessions.calls == [("terminate", "m1", "booked_time_over")]
    state = await rig.history.state("m1")
    assert (state.billed_minutes, state.ended_at) == (60, START + HOUR)


class FailingFirst(RecordingSessions):
    """Reminders fail the first ``failures`` times."""

    failures = 2

    async def send_reminder(self, session_id: str, key: str) -> None:
        if self.failures:
            self.failures -= 1
            self.calls.append(("failed", session_id, key))
            raise ConnectionError("discord is down")
        await super().send_reminder(session_id, key)


async def test_a_failing_action_is_logged_and_retried_with_backoff(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    sessions = FailingFirst(rig.history, rig.view)
    rig.scheduler = Scheduler(rig.view, sessions, rig.clock, CONFIG)
    await rig.history.book("m1", start_in=2 * HOUR)
    await rig.history.book("m2", start_in=2 * HOUR)
    with caplog.at_level(logging.ERROR, logger="rr.scheduler"):
        await start(rig)
        await rig.clock.advance(HOUR)
    assert sessions.calls == [
        ("failed", "m1", "start-60"),
        ("failed", "m2", "start-60"),
    ]
    assert any("session=m1" in record.getMessage() for record in caplog.records)
    await rig.clock.advance(CONFIG.failure_backoff - timedelta(seconds=1))
    assert len(sessions.calls) == 2
    await rig.clock.advance(timedelta(seconds=1))
    assert sessions.calls[2:] == [("remind", "m1", "start-60"), ("remind", "m2", "start-60")]
    assert rig.scheduler.alive


class Blocking(RecordingSessions):
    """Launches wait for ``release``."""

    def __init__(self, history: History, view: Mailbox[View]) -> None:
        super().__init__(history, view)
        self.release = asyncio.Event()

    async def launch(self, session_id: str) -> None:
        self.calls.append(("launch-started", session_id, ""))
        await self.release.wait()
        await super().launch(session_id)


async def test_only_one_action_per_session_is_in_flight(rig: Rig) -> None:
    sessions = Blocking(rig.history, rig.view)
    rig.scheduler = Scheduler(rig.view, sessions, rig.clock, CONFIG)
    await rig.history.book("m1", start_in=30 * MINUTE)
    await rig.history.book("m2", start_in=48 * HOUR)
    await start(rig)
    await rig.clock.advance(20 * MINUTE)
    assert sessions.calls == [("launch-started", "m1", "")]
    assert rig.clock.deadlines() == [START + 24 * HOUR]
    await rig.clock.advance(5 * MINUTE)
    assert sessions.calls == [("launch-started", "m1", "")]
    sessions.release.set()
    await settle()
    assert sessions.calls[1:] == [("launch", "m1", ""), ("remind", "m1", "start-15")]


async def test_stop_ends_the_loop(rig: Rig) -> None:
    await start(rig)
    await rig.scheduler.stop()
    assert not rig.scheduler.alive


class SlowToBoot(RecordingSessions):
    """The server answers the third readiness probe."""

    probes = 0

    async def check_ready(self, session_id: str) -> None:
        self.probes += 1
        if self.probes < 3:
            self.calls.append(("not_ready_yet", session_id, ""))
            return
        await super().check_ready(session_id)


async def test_readiness_is_probed_every_interval_until_the_server_answers(rig: Rig) -> None:
    sessions = SlowToBoot(rig.history, rig.view)
    rig.scheduler = Scheduler(rig.view, sessions, rig.clock, CONFIG)
    await rig.history.book("m1", start_in=None)
    await rig.history.launch("m1")
    await start(rig)
    probe = CONFIG.readiness_probe_interval
    await rig.clock.advance(probe)
    assert [call[0] for call in sessions.calls] == ["not_ready_yet"]
    await rig.clock.advance(probe - timedelta(seconds=1))
    assert [call[0] for call in sessions.calls] == ["not_ready_yet"]
    await rig.clock.advance(timedelta(seconds=1) + probe)
    assert [call[0] for call in sessions.calls] == ["not_ready_yet", "not_ready_yet", "check_ready"]
    await rig.clock.advance(10 * MINUTE)
    assert len(sessions.calls) == 3


async def test_an_immediate_session_the_service_launched_is_left_to_it(rig: Rig) -> None:
    await rig.history.book("m1", start_in=None)
    await start(rig)
    await rig.publish(await rig.history.launch("m1"))
    await rig.publish(await rig.history.ready("m1"))
    await rig.clock.advance(10 * MINUTE)
    assert rig.sessions.calls == []


class RemindersAlwaysFail(RecordingSessions):
    async def send_reminder(self, session_id: str, key: str) -> None:
        raise ConnectionError("discord is down")


async def test_failure_counts_are_forgotten_when_their_session_ends(rig: Rig) -> None:
    rig.scheduler = Scheduler(
        rig.view, RemindersAlwaysFail(rig.history, rig.view), rig.clock, CONFIG
    )
    await rig.history.book("m1", start_in=2 * HOUR, minutes=60)
    await start(rig)

    await rig.clock.advance(HOUR)
    assert rig.scheduler.failing_actions == 1
    await rig.clock.advance(72 * HOUR)

    assert (await rig.history.state("m1")).ended_at is not None
    assert rig.scheduler.failing_actions == 0


async def test_a_booked_session_launches_the_measured_boot_lead_before_its_start(rig: Rig) -> None:
    for number in range(5):
        await rig.history.book(f"b{number}", start_in=None, minutes=30)
        await rig.history.launch(f"b{number}")
        await rig.clock.advance(14 * MINUTE)
        await rig.history.ready(f"b{number}")
    await rig.history.book("m1", start_in=3 * HOUR)
    starts_at = (await rig.history.state("m1")).start_at
    assert CONFIG.boot_lead != 14 * MINUTE
    await start(rig)

    await rig.clock.set(starts_at - 14 * MINUTE - timedelta(seconds=1))
    assert ("launch", "m1", "") not in rig.sessions.calls
    await rig.clock.advance(timedelta(seconds=1))

    assert ("launch", "m1", "") in rig.sessions.calls
    assert (await rig.history.state("m1")).launched_at == starts_at - 14 * MINUTE
