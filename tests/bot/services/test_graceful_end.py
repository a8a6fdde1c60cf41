"""The graceful end: before terminating a server whose agent reports a mission, rr asks it to end
the mission (so DCS writes its Tacview, track and save files) and waits, within a bound, on the
clock and never inside a call; those minutes are not billed. And the notices pilots should not
miss while flying, posted in the game's chat once each."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest

import eventstore
from bot.domain.session import SessionState, SessionStatus, session_stream
from bot.notify import EndWarningNotice, SessionEndedNotice
from bot.services.game_chat import GRACEFUL_END_LINE
from bot.services.lifecycle import DEFAULT_GRACEFUL_END
from eventstore import EventStore
from tests.bot.services.agent_reports import kinds, report
from tests.bot.services.fake_provider import FakeProvider
from tests.bot.services.harness import GRACE, GUILD, MINUTE, SCHEDULE, BotProcess, member
from tests.fakes.clock import FakeClock

SECOND = timedelta(seconds=1)
WAIT = DEFAULT_GRACEFUL_END


async def running(bot: BotProcess, minutes: int = 60) -> SessionState:
    await bot.fund(1_000)
    started = await bot.services.sessions.start(member(), duration_minutes=minutes)
    await bot.services.background.drain()
    return await bot.services.sessions.get(started.session_id)


@pytest.fixture
async def store(clock: FakeClock) -> AsyncIterator[EventStore]:
    """One store for the bot processes of a test, one after the other."""
    async with eventstore.open("memory://", clock=clock.now) as opened:
        yield opened


@asynccontextmanager
async def process(
    store: EventStore, clock: FakeClock, provider: FakeProvider, *, scheduler: bool = True
) -> AsyncIterator[BotProcess]:
    """One bot process over ``store`` (left open: a restart may follow)."""
    bot = BotProcess(store, clock, provider)
    await bot.start(scheduler=scheduler)
    try:
        yield bot
    finally:
        await bot.stop()


# --- the graceful end -------------------------------------------------------------------------


async def test_a_server_whose_agent_reports_a_mission_is_asked_to_end_it_before_termination(
    bot: BotProcess, provider: FakeProvider
) -> None:
    session = await running(bot)
    await report(bot.services, session, "running")
    await bot.clock.advance(20 * MINUTE)

    stopping = await bot.services.sessions.stop(member(), session.session_id)

    now = bot.clock.now()
    assert stopping.status is SessionStatus.TERMINATING
    assert (stopping.stop_at, stopping.graceful_end_until) == (now, now + WAIT)
    assert provider.terminated == []
    assert kinds(bot.services, session) == [("chat", GRACEFUL_END_LINE), ("end_mission", None)]
    assert (await bot.types(session_stream(session.session_id)))[-2:] == [
        "TerminationRequested",
        "GracefulEndStarted",
    ]
    assert bot.notifier.of_type(SessionEndedNotice) == []


async def test_the_server_is_terminated_once_its_agent_reports_the_mission_ended_unbilled(
    bot: BotProcess, provider: FakeProvider
) -> None:
    session = await running(bot)
    await report(bot.services, session, "running")
    await bot.clock.advance(20 * MINUTE)
    await bot.services.sessions.stop(member(), session.session_id)
    await bot.clock.advance(90 * SECOND)

    await report(bot.services, session, "stopped")
    await bot.services.background.drain()

    ended = await bot.services.sessions.get(session.session_id)
    assert ended.status is SessionStatus.ENDED
    assert (ended.billed_minutes, ended.charged_cents) == (20, 80)
    assert provider.terminated == [session.instance_id]
    [told] = bot.notifier.of_type(SessionEndedNotice)
    assert told.session.graceful_end_until is not None and told.billed_minutes == 20


async def test_asking_again_while_the_mission_ends_posts_nothing_twice(
    bot: BotProcess, provider: FakeProvider
) -> None:
    session = await running(bot)
    await report(bot.services, session, "running")
    first = await bot.services.sessions.terminate(session.session_id, "admin")
    await bot.clock.advance(MINUTE)

    again = await bot.services.sessions.terminate(session.session_id, "admin")

    assert again.graceful_end_until == first.graceful_end_until
    assert kinds(bot.services, session) == [("chat", GRACEFUL_END_LINE), ("end_mission", None)]
    assert provider.terminated == []
    assert (await bot.types(session_stream(session.session_id))).count("GracefulEndStarted") == 1


async def test_a_mission_that_does_not_end_is_cut_off_by_the_scheduler_at_the_bound(
    store: EventStore, clock: FakeClock, provider: FakeProvider
) -> None:
    async with process(store, clock, provider) as bot:
        session = await running(bot)
        await report(bot.services, session, "running")
        await clock.advance(30 * MINUTE)
        await bot.services.sessions.stop(member(), session.session_id)

        await clock.advance(WAIT - SECOND)
        assert (await bot.services.sessions.get(session.session_id)).status is (
            SessionStatus.TERMINATING
        )
        assert provider.terminated == []
        await clock.advance(SECOND)

        ended = await bot.services.sessions.get(session.session_id)
        assert ended.status is SessionStatus.ENDED
        assert ended.billed_minutes == 30
        assert provider.terminated == [session.instance_id]


async def test_the_end_of_booked_time_ends_the_mission_first_and_bills_the_booked_minutes(
    store: EventStore, clock: FakeClock, provider: FakeProvider
) -> None:
    async with process(store, clock, provider) as bot:
        session = await running(bot, minutes=60)
        await report(bot.services, session, "running")
        await clock.set(session.end_at)

        assert kinds(bot.services, session)[-1] == ("end_mission", None)
        assert provider.terminated == []
        await clock.advance(20 * SECOND)
        await report(bot.services, session, "stopped")
        await bot.services.background.drain()

        ended = await bot.services.sessions.get(session.session_id)
        assert (ended.status, ended.termination_reason) == (
            SessionStatus.ENDED,
            "booked_time_over",
        )
        assert ended.billed_minutes == 60
        assert provider.terminated == [session.instance_id]


async def test_a_restart_during_the_graceful_end_asks_again_and_ends_by_the_same_bound(
    store: EventStore, clock: FakeClock, provider: FakeProvider
) -> None:
    async with process(store, clock, provider, scheduler=False) as first:
        session = await running(first)
        await report(first.services, session, "running")
        await clock.advance(10 * MINUTE)
        stopping = await first.services.sessions.stop(member(), session.session_id)
    assert stopping.graceful_end_until is not None
    await clock.advance(30 * SECOND)

    async with process(store, clock, provider) as restarted:
        await clock.advance(SCHEDULE.terminate_retry - 30 * SECOND)
        assert kinds(restarted.services, session) == [("end_mission", None)]
        assert provider.terminated == []
        await clock.set(stopping.graceful_end_until)

        ended = await restarted.services.sessions.get(session.session_id)
        assert ended.status is SessionStatus.ENDED
        assert ended.billed_minutes == 10
        assert provider.terminated == [session.instance_id]


async def test_after_a_restart_the_agent_reporting_the_mission_ended_ends_it_at_once(
    store: EventStore, clock: FakeClock, provider: FakeProvider
) -> None:
    async with process(store, clock, provider, scheduler=False) as first:
        session = await running(first)
        await report(first.services, session, "running")
        stopping = await first.services.sessions.stop(member(), session.session_id)

    async with process(store, clock, provider) as restarted:
        await clock.advance(SCHEDULE.terminate_retry)
        assert (await restarted.services.sessions.get(session.session_id)).is_active
        await report(restarted.services, session, "stopped")
        await restarted.services.background.drain()

        ended = await restarted.services.sessions.get(session.session_id)
        assert ended.status is SessionStatus.ENDED
        assert stopping.graceful_end_until is not None
        assert clock.now() < stopping.graceful_end_until


@pytest.mark.parametrize("reported", [None, "starting", "stopped", "unresponsive"])
async def test_a_server_with_no_mission_reported_is_terminated_at_once(
    bot: BotProcess, provider: FakeProvider, reported: str | None
) -> None:
    session = await running(bot)
    if reported is not None:
        await report(bot.services, session, reported)

    ended = await bot.services.sessions.stop(member(), session.session_id)

    assert ended.status is SessionStatus.ENDED
    assert ended.graceful_end_until is None
    assert provider.terminated == [session.instance_id]
    assert kinds(bot.services, session) == []


async def test_a_lost_server_is_not_asked_to_end_its_mission(
    bot: BotProcess, provider: FakeProvider
) -> None:
    session = await running(bot)
    await report(bot.services, session, "running")
    assert session.instance_id is not None
    provider.vanish(session.instance_id)

    ended = await bot.services.sessions.terminate(session.session_id, "admin")

    assert (ended.status, ended.termination_reason) == (SessionStatus.ENDED, "instance_lost")
    assert kinds(bot.services, session) == []


async def test_the_graceful_end_never_lasts_past_the_backstop(
    bot: BotProcess, provider: FakeProvider
) -> None:
    session = await running(bot, minutes=60)
    await report(bot.services, session, "running")
    await bot.clock.set(session.end_at + GRACE - 30 * SECOND)

    stopping = await bot.services.sessions.terminate(session.session_id, "booked_time_over")

    assert stopping.graceful_end_until == session.end_at + GRACE
    assert stopping.status is SessionStatus.TERMINATING


async def test_a_server_past_its_backstop_is_terminated_at_once(
    bot: BotProcess, provider: FakeProvider
) -> None:
    session = await running(bot, minutes=60)
    await report(bot.services, session, "running")
    await bot.clock.set(session.end_at + GRACE)

    ended = await bot.services.sessions.terminate(session.session_id, "booked_time_over")

    assert ended.status is SessionStatus.ENDED
    assert kinds(bot.services, session) == []


# --- warnings in the game -----------------------------------------------------------------------


async def test_end_warnings_and_extensions_are_posted_in_the_games_chat(
    bot: BotProcess,
) -> None:
    session = await running(bot, minutes=60)
    await report(bot.services, session, "running")
    await bot.clock.advance(45 * MINUTE)

    await bot.services.sessions.send_reminder(session.session_id, "end-15")
    await bot.services.sessions.extend(member(), session.session_id, 30)

    assert kinds(bot.services, session) == [
        ("chat", "Server ends in 15 min - extend with /server extend in Discord"),
        ("chat", "Extended by 30 min: the server now ends at 19:30 UTC"),
    ]


async def test_a_low_credit_warning_is_posted_in_the_games_chat(bot: BotProcess) -> None:
    await bot.services.squadrons.record_purchase(GUILD, "p1", 240, "200", "cs_1", "evt_1")
    started = await bot.services.sessions.start(member(), duration_minutes=60)
    await bot.services.background.drain()
    session = await bot.services.sessions.get(started.session_id)
    await report(bot.services, session, "running")
    await bot.services.squadrons.record_stripe_refund(GUILD, "p1", 120, "evt_2")
    await bot.clock.advance(20 * MINUTE)

    await bot.services.sessions.send_reminder(session.session_id, "credit-low")

    assert kinds(bot.services, session) == [
        ("chat", "Credit runs out in 10 min - top up with /credits buy in Discord")
    ]


@pytest.mark.parametrize("reported", [None, "loading", "stopped"])
async def test_nothing_is_posted_in_the_game_unless_a_mission_is_running(
    bot: BotProcess, reported: str | None
) -> None:
    session = await running(bot, minutes=60)
    if reported is not None:
        await report(bot.services, session, reported)
    await bot.clock.advance(45 * MINUTE)

    await bot.services.sessions.send_reminder(session.session_id, "end-15")
    await bot.services.sessions.extend(member(), session.session_id, 30)

    assert kinds(bot.services, session) == []
    assert [n.minutes_left for n in bot.notifier.of_type(EndWarningNotice)] == [15]


async def test_a_warning_discord_failed_to_take_is_posted_in_the_game_only_once(
    store: EventStore, clock: FakeClock, provider: FakeProvider
) -> None:
    async with process(store, clock, provider) as bot:
        session = await running(bot, minutes=60)
        await report(bot.services, session, "running")
        bot.notifier.failing = 2
        await clock.set(session.end_at - 15 * MINUTE)
        await clock.advance(SCHEDULE.delivery_retry + SCHEDULE.failure_backoff)
        await bot.notifier.wait_for(EndWarningNotice)

        assert kinds(bot.services, session) == [
            ("chat", "Server ends in 15 min - extend with /server extend in Discord")
        ]
