"""Two bot processes over one store (memory, one SQLite file, DynamoDB on a moto server), as the
app runs them: the lease holder runs the scheduler, the other waits. When the active process
stops renewing (paused, or killed), the standby takes over within the lease's term, and every
reminder, warning and termination of a session is recorded and sent once; the deposed process
acting late (its scheduler still running) is refused and writes nothing."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import eventstore
from bot.domain.session import SessionStatus, session_stream
from bot.domain.squadron import squadron_stream
from bot.leadership import FencedStore, Leadership
from bot.notify import (
    BookingConfirmedNotice,
    EndWarningNotice,
    ReadyNotice,
    ReminderNotice,
    SessionEndedNotice,
)
from eventstore import EventStore, LeaseLost
from tests.bot.domain.streams import LONG_AGO
from tests.bot.leases import Tracked, walk
from tests.bot.services.fake_provider import FakeProvider
from tests.bot.services.harness import (
    GUILD,
    HOUR,
    MEMBER,
    MINUTE,
    START,
    BotProcess,
    member,
    operator,
)
from tests.fakes.clock import FakeClock
from tests.fakes.moto_server import FAKE_AWS_ENV

BOOKED_START = START + 2 * HOUR
BOOKED_END = BOOKED_START + HOUR
TERM = 3 * MINUTE
RENEW_EVERY = MINUTE
RETRY_EVERY = MINUTE
STEP = MINUTE / 2
"""The clock moves in steps short beside the term, letting the store answer after each."""


@pytest.fixture(params=["memory", "sqlite", pytest.param("dynamodb", marks=pytest.mark.e2e)])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[Tracked]:
    if request.param == "memory":
        url = "memory://"
    elif request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/rr.db"
    else:
        endpoint = request.getfixturevalue("moto_endpoint")
        table = f"rr-standby-{uuid.uuid4().hex[:12]}"
        region = FAKE_AWS_ENV["AWS_DEFAULT_REGION"]
        url = f"dynamodb://{table}?region={region}&endpoint_url={endpoint}"
    opened: EventStore = eventstore.open(url, clock=clock.now)
    yield Tracked(opened)
    await opened.close()


class Process:
    """A bot process with its lease: once active, it catches up and runs the scheduler."""

    def __init__(self, bot: BotProcess, clock: FakeClock) -> None:
        self.bot = bot
        fenced = bot.services.store
        assert isinstance(fenced, FencedStore)
        self.leadership = Leadership(
            fenced, clock, term=TERM, renew_every=RENEW_EVERY, retry_every=RETRY_EVERY
        )
        self.leading: asyncio.Task[str] | None = None

    async def take_over(self) -> None:
        await self.bot.feeder.catch_up()
        self.bot.scheduler.start()

    async def start(self) -> None:
        """As the app starts: the first process to ask takes over at once, renewing meanwhile."""
        await self.bot.start()
        acquired = await self.leadership.try_acquire()
        self.leading = asyncio.create_task(self.leadership.lead(self.take_over))
        if acquired:
            await self.take_over()


@pytest.fixture
async def processes(store: Tracked, clock: FakeClock) -> AsyncIterator[list[Process]]:
    cloud = FakeProvider(clock)
    both = [Process(BotProcess(store, clock, cloud), clock) for _ in range(2)]
    yield both
    for process in both:
        if process.leading is not None:
            process.leading.cancel()
            await asyncio.gather(process.leading, return_exceptions=True)
        await process.bot.stop()


async def test_the_standby_takes_over_a_paused_active_process_with_nothing_lost_or_doubled(
    processes: list[Process], store: Tracked, clock: FakeClock
) -> None:
    first, second = processes
    await first.start()
    await second.start()
    await store.quiet()
    assert (first.leadership.role, second.leadership.role) == ("active", "standby")
    await first.bot.fund(1_000)
    booked = await first.bot.services.sessions.book(
        member(), start_at=BOOKED_START, duration_minutes=60
    )
    await walk(clock, BOOKED_START - HOUR, store, STEP)
    assert [n.key for n in first.bot.notifier.of_type(ReminderNotice)] == ["start-60"]
    assert second.bot.notifier.notices == []

    assert first.leading is not None
    first.leading.cancel()  # paused: it renews no more, but its scheduler runs on
    paused_at = clock.now()
    while second.leadership.role == "standby":
        await walk(clock, clock.now() + STEP, store, STEP)
    took_over_after = clock.now() - paused_at
    await walk(clock, BOOKED_END + 5 * MINUTE, store, STEP)

    assert took_over_after <= TERM + RETRY_EVERY
    notices = first.bot.notifier.notices + second.bot.notifier.notices
    reminders = [n.key for n in notices if isinstance(n, ReminderNotice)]
    assert sorted(reminders) == ["start-15", "start-60"]
    assert len([n for n in notices if isinstance(n, ReadyNotice)]) == 1
    assert sorted(n.minutes_left for n in notices if isinstance(n, EndWarningNotice)) == [5, 15]
    assert len([n for n in notices if isinstance(n, SessionEndedNotice)]) == 1
    assert first.bot.notifier.of_type(ReadyNotice) == []  # the deposed process did nothing
    session = await second.bot.services.sessions.get(booked.session_id)
    assert session.status is SessionStatus.ENDED
    events = await second.bot.stream(session_stream(booked.session_id))
    types = [event.type for event in events]
    sent = sorted(event.data["key"] for event in events if event.type == "ReminderSent")
    assert sent == ["end-15", "end-5", "start-15", "start-60"]
    assert types.count("InstanceLaunchRequested") == 1
    assert types.count("TerminationRequested") == 1
    assert types.count("SessionEnded") == 1


async def test_a_deposed_process_late_command_is_refused_and_writes_nothing(
    processes: list[Process], store: Tracked, clock: FakeClock
) -> None:
    first, second = processes
    await first.start()
    await second.start()
    assert first.leading is not None
    first.leading.cancel()
    while second.leadership.role == "standby":
        await walk(clock, clock.now() + STEP, store, STEP)
    before = await first.bot.stream(squadron_stream(GUILD))

    with pytest.raises(LeaseLost):
        await first.bot.services.squadrons.grant(operator(), GUILD, 500, "late")

    assert await first.bot.stream(squadron_stream(GUILD)) == before
    await second.bot.services.squadrons.grant(operator(), GUILD, 500, "on time")
    assert (await second.bot.squadron_in_store()).available_cents == 500


async def test_a_payment_the_standby_records_is_carried_out_once_by_the_active_process(
    processes: list[Process], store: Tracked
) -> None:
    first, second = processes
    await first.start()
    await second.start()
    await store.quiet()
    intent = {"action": "start", "size": "medium", "duration_minutes": 60}
    await first.bot.services.squadrons.record_purchase_started(
        member(MEMBER), GUILD, "p1", 240, "cs_1", intent, lapsed_before=LONG_AGO
    )
    second.bot.services.squadrons.carries_out_paid_requests = False  # as the app's standby

    credited = await second.bot.services.squadrons.record_purchase(
        GUILD, "p1", 240, MEMBER, "cs_1", "evt_1"
    )
    await second.bot.services.background.drain()
    left = (await second.bot.squadron_in_store()).unsettled_paid_requests

    await first.bot.feeder.catch_up()  # the active process's feed pass brings the payment
    taken = await first.bot.services.squadrons.resume_paid_requests()
    again = await first.bot.services.squadrons.resume_paid_requests()  # under way: skipped
    await first.bot.services.background.drain()

    assert credited and [request.purchase_id for request in left] == ["p1"]
    assert second.bot.notifier.notices == []
    assert (taken, again) == (1, 0)
    [confirmed] = first.bot.notifier.of_type(BookingConfirmedNotice)
    assert confirmed.purchase_id == "p1"
    assert (await first.bot.squadron_in_store()).unsettled_paid_requests == ()
