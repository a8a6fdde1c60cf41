"""Whole sessions over the real stores (SQLite, DynamoDB on a moto server) and the real local
compute provider (stand-in DCS processes on loopback), driven by the scheduler on a fake clock.

Two ``BotProcess`` objects over one store are two bot processes; two ``LocalProvider`` objects
over one folder see the same servers, as two processes see one cloud account.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

import eventstore
from bot.cloud.local import LocalProvider
from bot.domain import session as sessions
from bot.domain.errors import Conflict
from bot.domain.session import SessionState, SessionStatus, session_stream
from bot.domain.squadron import squadron_stream
from bot.notify import (
    BookingConfirmedNotice,
    EndWarningNotice,
    LaunchFailedNotice,
    ReadyNotice,
    ReminderNotice,
    SessionEndedNotice,
)
from bot.services.lifecycle import SCHEDULER
from bot.services.streams import decide_session
from bot.view import Balance
from eventstore import EventStore
from tests.bot.domain.streams import LONG_AGO
from tests.bot.services.harness import (
    DEPLOYMENT,
    GUILD,
    HOUR,
    MEMBER,
    MINUTE,
    SCHEDULE,
    START,
    BotProcess,
    member,
)
from tests.fakes.clock import FakeClock
from tests.fakes.moto_server import FAKE_AWS_ENV

pytestmark = pytest.mark.e2e

BOOKED_START = START + 2 * HOUR
BOOKED_END = BOOKED_START + HOUR
LAUNCH_AT = BOOKED_START - 20 * MINUTE
"""The scheduler launches a booked server the boot lead (20 minutes) before its start."""
RUN_CENTS = 60 * 4
"""From the booked start to the booked end: 60 minutes at 4 cents a minute (the boot lead
before the start is not billed)."""

Cloud = Callable[..., LocalProvider]


@pytest.fixture(params=["sqlite", "dynamodb"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/rr.db"
    endpoint = request.getfixturevalue("moto_endpoint")
    table = f"rr-services-{uuid.uuid4().hex[:12]}"
    return f"dynamodb://{table}?region={FAKE_AWS_ENV['AWS_DEFAULT_REGION']}&endpoint_url={endpoint}"


@pytest.fixture
async def store(store_url: str, clock: FakeClock) -> AsyncIterator[EventStore]:
    opened = eventstore.open(store_url, clock=clock.now)
    yield opened
    await opened.close()


@pytest.fixture
async def cloud(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Cloud]:
    """Makes local providers over one instances folder; stops every stand-in at the end."""
    root = tmp_path / "instances"

    def provider(**options: float) -> LocalProvider:
        return LocalProvider(root, DEPLOYMENT, now=clock.now, **options)

    yield provider
    cleanup = provider()
    for info in await cleanup.list_managed():
        await cleanup.terminate(info.instance_id)


@pytest.fixture
async def processes(
    store: EventStore, clock: FakeClock, cloud: Cloud
) -> AsyncIterator[list[BotProcess]]:
    """Two bot processes over the one store and cloud; started by the tests."""
    both = [BotProcess(store, clock, cloud()), BotProcess(store, clock, cloud())]
    yield both
    for process in both:
        if process.view_mailbox.running:
            await process.stop()


async def running_session(bot: BotProcess) -> SessionState:
    await bot.fund(1_000)
    started = await bot.services.sessions.start(member(), duration_minutes=60)
    await bot.notifier.wait_for(ReadyNotice)
    return await bot.services.sessions.get(started.session_id)


async def test_a_booked_session_runs_from_reminders_to_termination_and_is_billed(
    processes: list[BotProcess], clock: FakeClock
) -> None:
    bot = processes[0]
    await bot.start(scheduler=True)
    await bot.fund(1_000)
    booked = await bot.services.sessions.book(member(), start_at=BOOKED_START, duration_minutes=60)
    assert await bot.services.squadrons.balance(GUILD) == Balance(1_000, 240, 760)

    await clock.set(BOOKED_START - HOUR)
    await bot.notifier.wait_for(ReminderNotice, lambda n: n.key == "start-60")
    await clock.set(LAUNCH_AT)
    ready = await bot.notifier.wait_for(ReadyNotice)
    await clock.set(BOOKED_START - 15 * MINUTE)
    await bot.notifier.wait_for(ReminderNotice, lambda n: n.key == "start-15")
    await clock.set(BOOKED_END - 15 * MINUTE)
    warning = await bot.notifier.wait_for(EndWarningNotice)
    await clock.set(BOOKED_END)
    ended = await bot.notifier.wait_for(SessionEndedNotice)

    assert await bot.provider.game_port_open(ready.address, ready.port) is False
    assert warning.minutes_left == 15
    assert (ended.reason, ended.billed_minutes, ended.amount_cents) == (
        "booked_time_over",
        60,
        RUN_CENTS,
    )
    session = await bot.services.sessions.get(booked.session_id)
    assert (session.status, session.launched_at, session.ended_at) == (
        SessionStatus.ENDED,
        LAUNCH_AT,
        BOOKED_END,
    )
    assert session.instance_id is not None
    assert (await bot.provider.describe(session.instance_id)).state == "terminated"
    assert await bot.services.squadrons.balance(GUILD) == Balance(760, 0, 760)


async def test_a_restart_does_not_repeat_reminders_already_sent(
    processes: list[BotProcess], clock: FakeClock
) -> None:
    first, second = processes
    await first.start(scheduler=True)
    await first.fund(1_000)
    await first.services.sessions.book(member(), start_at=BOOKED_START, duration_minutes=60)
    await clock.set(BOOKED_START - HOUR)
    await first.notifier.wait_for(ReminderNotice, lambda n: n.key == "start-60")
    await first.stop()

    await clock.set(BOOKED_START - 50 * MINUTE)
    await second.start(scheduler=True)
    assert second.notifier.notices == []
    await clock.set(BOOKED_START - 15 * MINUTE)
    await second.notifier.wait_for(ReminderNotice, lambda n: n.key == "start-15")

    assert [n.key for n in second.notifier.of_type(ReminderNotice)] == ["start-15"]


async def test_a_reminder_recorded_just_before_a_crash_is_sent_once_after_the_restart(
    processes: list[BotProcess], clock: FakeClock
) -> None:
    first, second = processes
    await first.start()
    await first.fund(1_000)
    booked = await first.services.sessions.book(
        member(), start_at=BOOKED_START, duration_minutes=60
    )
    await clock.set(BOOKED_START - HOUR)
    stream = session_stream(booked.session_id)
    reminded = decide_session(
        sessions.RecordReminder(actor=SCHEDULER, now=clock.now(), key="start-60"),
        await first.services.sessions.get(booked.session_id),
    )
    await first.store.append(stream, len(await first.stream(stream)), reminded)
    await first.stop()

    await second.start(scheduler=True)
    await clock.advance(SCHEDULE.delivery_retry)
    await second.notifier.wait_for(ReminderNotice, lambda n: n.key == "start-60")
    await second.services.background.drain()  # the delivery is confirmed in the background
    await clock.set(BOOKED_START - 16 * MINUTE)

    assert [n.key for n in second.notifier.of_type(ReminderNotice)] == ["start-60"]
    assert (await second.types(stream)).count("NoticeDelivered") == 1


async def test_a_server_whose_time_ran_out_while_the_bot_was_down_is_ended_at_start_up(
    processes: list[BotProcess], clock: FakeClock
) -> None:
    first, second = processes
    await first.start(scheduler=True)
    await first.fund(1_000)
    booked = await first.services.sessions.book(
        member(), start_at=BOOKED_START, duration_minutes=60
    )
    await clock.set(LAUNCH_AT)
    await first.notifier.wait_for(ReadyNotice)
    await first.stop()

    await clock.set(BOOKED_END + 2 * HOUR)
    await second.start(scheduler=True)
    ended = await second.notifier.wait_for(SessionEndedNotice)

    assert [type(notice) for notice in second.notifier.notices] == [SessionEndedNotice]
    assert (ended.reason, ended.billed_minutes, ended.amount_cents) == (
        "booked_time_over",
        60,
        RUN_CENTS,
    )
    session = await second.services.sessions.get(booked.session_id)
    assert session.ended_at == BOOKED_END
    assert session.instance_id is not None
    assert (await second.provider.describe(session.instance_id)).state == "terminated"


async def test_stop_racing_extend_in_two_processes_ends_once_with_nothing_left_reserved(
    processes: list[BotProcess], clock: FakeClock
) -> None:
    first, second = processes
    for process in processes:
        await process.start()
    session = await running_session(first)
    await second.feeder.catch_up()
    await clock.advance(30 * MINUTE)

    stopped, extended = await asyncio.gather(
        first.services.sessions.stop(member(), session.session_id),
        second.services.sessions.extend(member(), session.session_id, 30),
        return_exceptions=True,
    )

    assert isinstance(stopped, SessionState) and stopped.status is SessionStatus.ENDED
    assert isinstance(extended, SessionState | Conflict)
    squadron = await second.squadron_in_store()
    assert squadron.reservations == {}
    assert squadron.balance_cents == 1_000 - 120
    types = await first.types(squadron_stream(GUILD))
    assert types.count("SessionCharged") == 1


async def test_an_extension_in_one_process_outlives_the_end_another_process_knew(
    processes: list[BotProcess], clock: FakeClock
) -> None:
    first, second = processes
    for process in processes:
        await process.start()
    session = await running_session(first)
    await clock.set(session.end_at - 15 * MINUTE)
    await second.services.sessions.send_reminder(session.session_id, "end-15")
    await clock.set(session.end_at - 5 * MINUTE)
    await first.services.sessions.extend(member(), session.session_id, 30)
    await clock.set(session.end_at)

    kept = await second.services.sessions.terminate(session.session_id, "booked_time_over")

    assert (kept.status, kept.end_at) == (SessionStatus.RUNNING, session.end_at + 30 * MINUTE)
    assert session.instance_id is not None
    assert (await second.provider.describe(session.instance_id)).state == "running"
    assert "TerminationRequested" not in await first.types(session_stream(session.session_id))


async def test_two_processes_terminating_one_session_bill_it_once(
    processes: list[BotProcess], clock: FakeClock
) -> None:
    first, second = processes
    for process in processes:
        await process.start()
    session = await running_session(first)
    await second.feeder.catch_up()
    await clock.advance(45 * MINUTE)

    await asyncio.gather(
        first.services.sessions.terminate(session.session_id, "admin"),
        second.services.sessions.terminate(session.session_id, "admin"),
    )

    assert (await first.types(squadron_stream(GUILD))).count("SessionCharged") == 1
    ended = [n for p in processes for n in p.notifier.of_type(SessionEndedNotice)]
    assert [(n.billed_minutes, n.amount_cents) for n in ended] == [(45, 180)]
    squadron = await second.squadron_in_store()
    assert (squadron.balance_cents, squadron.reservations) == (820, {})


async def test_a_failed_launch_releases_the_reservation(
    store: EventStore, clock: FakeClock, cloud: Cloud
) -> None:
    bot = BotProcess(store, clock, cloud(start_timeout=0.0))
    await bot.start()
    try:
        await bot.fund(1_000)

        started = await bot.services.sessions.start(member(), duration_minutes=60)
        failed = await bot.notifier.wait_for(LaunchFailedNotice)
        await bot.services.background.drain()

        assert "did not start" in failed.message
        session = await bot.services.sessions.get(started.session_id)
        assert (session.status, session.termination_reason, session.charged_cents) == (
            SessionStatus.ENDED,
            "launch_failed",
            0,
        )
        assert await bot.services.squadrons.balance(GUILD) == Balance(1_000, 0, 1_000)
    finally:
        await bot.stop()


async def test_a_payment_reported_to_two_processes_is_credited_once(
    processes: list[BotProcess],
) -> None:
    for process in processes:
        await process.start()

    results = await asyncio.gather(
        *(
            process.services.squadrons.record_purchase(
                GUILD, "p1", 2_000, MEMBER, "cs_1", f"evt_{n}_{i}"
            )
            for i, process in enumerate(processes)
            for n in range(4)
        )
    )

    assert sorted(results) == [False] * 7 + [True]
    squadron = await processes[1].squadron_in_store()
    assert squadron.balance_cents == 2_000


async def test_a_paid_start_is_carried_out_once_when_two_processes_hear_of_the_payment(
    processes: list[BotProcess],
) -> None:
    for process in processes:
        await process.start()
    await processes[0].services.squadrons.record_purchase_started(
        member(MEMBER),
        GUILD,
        "p1",
        240,
        "cs_1",
        {"action": "start", "duration_minutes": 60},
        lapsed_before=LONG_AGO,
    )

    credited = await asyncio.gather(
        *(
            process.services.squadrons.record_purchase(GUILD, "p1", 240, MEMBER, "cs_1", "evt_1")
            for process in processes
        )
    )
    [carrier] = [process for process, won in zip(processes, credited, strict=True) if won]
    ready = await carrier.notifier.wait_for(ReadyNotice)
    await carrier.services.background.drain()

    confirmed = [n for p in processes for n in p.notifier.of_type(BookingConfirmedNotice)]
    assert [n.session.session_id for n in confirmed] == [ready.session_id]
    sessions = await carrier.view.sessions_for_guild(GUILD)
    assert [(m.booked_by, m.status) for m in sessions] == [(MEMBER, SessionStatus.RUNNING)]
