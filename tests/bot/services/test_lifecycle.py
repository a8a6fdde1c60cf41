"""A server's life through the services: launch, readiness, reminders, termination, billing."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest

import eventstore
from bot.cloud.base import LaunchError
from bot.cloud.logins import StoredLoginPool
from bot.domain.session import SessionState, SessionStatus, session_stream
from bot.domain.squadron import squadron_stream
from bot.notify import (
    EndWarningNotice,
    LaunchFailedNotice,
    LowCreditNotice,
    ProgressNotice,
    ReadyNotice,
    ReminderNotice,
    SessionEndedNotice,
)
from bot.services.lifecycle import NO_LOGIN_MESSAGE
from bot.view import Balance
from eventstore import EventStore
from tests.bot.services.fake_provider import FakeProvider
from tests.bot.services.harness import (
    DEPLOYMENT,
    GRACE,
    GUILD,
    HOUR,
    MINUTE,
    SCHEDULE,
    START,
    BotProcess,
    member,
    operator,
)
from tests.fakes.clock import FakeClock, settle


async def booked(bot: BotProcess, *, start_in: timedelta = HOUR, minutes: int = 60) -> SessionState:
    await bot.fund(1_000)
    return await bot.services.sessions.book(
        member(), start_at=START + start_in, duration_minutes=minutes
    )


async def running(bot: BotProcess, minutes: int = 60) -> SessionState:
    await bot.fund(1_000)
    started = await bot.services.sessions.start(member(), duration_minutes=minutes)
    await bot.services.background.drain()
    return await bot.services.sessions.get(started.session_id)


def stages(bot: BotProcess) -> list[str]:
    return [notice.stage for notice in bot.notifier.of_type(ProgressNotice)]


# --- launch ---------------------------------------------------------------------------------


async def test_launch_records_the_attempt_then_launches_with_the_rendered_files(
    bot: BotProcess, provider: FakeProvider
) -> None:
    await bot.services.squadrons.change_settings(
        member(manager=True), {"server_name": "Falcon Flight", "game_port": "10400"}
    )
    session = await booked(bot)

    launched = await bot.services.sessions.launch(session.session_id)

    [request] = provider.launch_calls
    assert (request.attempt, request.client_token) == (1, f"{session.session_id}-1")
    assert (request.session_id, request.guild_id, request.deployment) == (
        session.session_id,
        GUILD,
        DEPLOYMENT,
    )
    assert request.terminate_at == session.end_at + GRACE
    assert request.game_port == 10400
    assert "Falcon Flight" in request.files["Config/serverSettings.lua"].decode()
    assert launched.status is SessionStatus.RUNNING
    assert await bot.types(session_stream(session.session_id)) == [
        "SessionBooked",
        "InstanceLaunchRequested",
        "InstanceLaunched",
        "InstanceReady",
    ]


async def test_launching_again_does_nothing_once_launched(
    bot: BotProcess, provider: FakeProvider
) -> None:
    session = await booked(bot)
    await bot.services.sessions.launch(session.session_id)

    again = await bot.services.sessions.launch(session.session_id)

    assert again.status is SessionStatus.RUNNING
    assert len(provider.launch_calls) == 1


async def test_launch_events_name_their_cause(bot: BotProcess) -> None:
    session = await booked(bot)

    await bot.services.sessions.launch(session.session_id)

    events = await bot.stream(session_stream(session.session_id))
    requested, launched = events[1], events[2]
    assert requested.metadata["source"] == "scheduler"
    assert launched.metadata["causation_id"] == requested.id


async def test_a_launch_error_releases_the_credit_and_says_why(
    bot: BotProcess, provider: FakeProvider
) -> None:
    session = await booked(bot)
    provider.fail_next_launch = LaunchError("capacity", "AWS has no servers of that size free.")

    failed = await bot.services.sessions.launch(session.session_id)

    assert failed.status is SessionStatus.ENDED
    assert (failed.termination_reason, failed.billed_minutes, failed.charged_cents) == (
        "launch_failed",
        0,
        0,
    )
    assert await bot.services.squadrons.balance(GUILD) == Balance(1_000, 0, 1_000)
    assert (await bot.types(squadron_stream(GUILD)))[-1] == "ReservationReleased"
    [notice] = bot.notifier.of_type(LaunchFailedNotice)
    assert notice.message == "AWS has no servers of that size free."
    assert bot.notifier.of_type(SessionEndedNotice) == []


async def test_a_launch_whose_answer_was_lost_is_finished_with_the_same_token(
    bot: BotProcess, provider: FakeProvider
) -> None:
    session = await booked(bot)
    provider.lose_next_answer = True
    with pytest.raises(ConnectionError):
        await bot.services.sessions.launch(session.session_id)

    finished = await bot.services.sessions.check_ready(session.session_id)

    assert finished.status is SessionStatus.RUNNING
    tokens = [request.client_token for request in provider.launch_calls]
    assert tokens == [f"{session.session_id}-1"] * 2
    assert len(provider.instances) == 1


async def test_two_processes_launching_one_session_start_one_server(
    bot: BotProcess, provider: FakeProvider
) -> None:
    session = await booked(bot)
    other = BotProcess(bot.store, bot.clock, provider)
    await other.start()

    await asyncio.gather(
        bot.services.sessions.launch(session.session_id),
        other.services.sessions.launch(session.session_id),
    )
    await other.stop()

    assert {request.client_token for request in provider.launch_calls} == {
        f"{session.session_id}-1"
    }
    assert len(provider.instances) == 1
    types = await bot.types(session_stream(session.session_id))
    assert types.count("InstanceLaunchRequested") == 1


async def test_without_a_free_server_login_the_launch_fails_plainly(
    clock: FakeClock, provider: FakeProvider
) -> None:
    logins = OneLogin()
    async with process(clock, provider, logins) as bot:
        first = await booked(bot)
        second = await bot.services.sessions.book(
            member(), start_at=START + HOUR, duration_minutes=60
        )
        await bot.services.sessions.launch(first.session_id)

        refused = await bot.services.sessions.launch(second.session_id)

        assert refused.status is SessionStatus.ENDED
        assert bot.notifier.of_type(LaunchFailedNotice)[0].message == NO_LOGIN_MESSAGE
        assert (await bot.services.sessions.get(first.session_id)).login_ref == OneLogin.LOGIN
        assert len(provider.launch_calls) == 1


async def test_a_servers_login_is_released_when_it_ends(
    clock: FakeClock, provider: FakeProvider
) -> None:
    logins = OneLogin()
    async with process(clock, provider, logins) as bot:
        session = await booked(bot)
        await bot.services.sessions.launch(session.session_id)

        await bot.services.sessions.terminate(session.session_id, "admin")

        assert logins.holder is None


async def test_a_process_launching_a_session_it_has_stale_gives_back_the_login_it_took(
    clock: FakeClock, provider: FakeProvider
) -> None:
    async with two_processes(clock, provider) as (bot, stale):
        session = await booked(bot)
        await stale.services.sessions.send_reminder(session.session_id, "start-60")
        await stale.services.background.drain()
        await bot.services.sessions.launch(session.session_id)
        await bot.services.sessions.stop(member(), session.session_id)

        seen = await stale.services.sessions.launch(session.session_id)

        assert seen.status is SessionStatus.ENDED
        assert await StoredLoginPool(bot.store, LOGINS).holders() == {}
        assert len(provider.launch_calls) == 1


async def test_a_process_launching_a_session_it_has_stale_leaves_the_login_it_runs_on(
    clock: FakeClock, provider: FakeProvider
) -> None:
    async with two_processes(clock, provider) as (bot, stale):
        session = await booked(bot)
        await stale.services.sessions.send_reminder(session.session_id, "start-60")
        await stale.services.background.drain()
        launched = await bot.services.sessions.launch(session.session_id)

        seen = await stale.services.sessions.launch(session.session_id)

        assert seen.status is SessionStatus.RUNNING and launched.login_ref == LOGINS[0]
        assert await StoredLoginPool(bot.store, LOGINS).holders() == {LOGINS[0]: session.session_id}
        assert len(provider.launch_calls) == 1


# --- readiness ------------------------------------------------------------------------------


async def test_readiness_is_told_in_stages_and_the_password_only_in_the_ready_notice(
    bot: BotProcess, provider: FakeProvider
) -> None:
    await bot.services.squadrons.change_settings(member(manager=True), {"password": "hunter22"})
    provider.boots_to = "pending"
    provider.port_open = False
    session = await booked(bot)
    launching = await bot.services.sessions.launch(session.session_id)
    assert launching.instance_id is not None

    await bot.services.sessions.check_ready(session.session_id)
    provider.finish_booting(launching.instance_id)
    await bot.services.sessions.check_ready(session.session_id)
    await bot.services.sessions.check_ready(session.session_id)
    provider.port_open = True
    ready = await bot.services.sessions.check_ready(session.session_id)

    assert ready.status is SessionStatus.RUNNING
    assert stages(bot) == ["launching", "booting", "starting_dcs", "ready"]
    [notice] = bot.notifier.of_type(ReadyNotice)
    assert (notice.address, notice.password) == (ready.address, "hunter22")
    assert "hunter22" not in repr(bot.notifier.notices)


async def test_a_server_lost_before_it_was_ready_ends_without_a_charge(
    bot: BotProcess, provider: FakeProvider
) -> None:
    provider.boots_to = "pending"
    session = await booked(bot)
    launching = await bot.services.sessions.launch(session.session_id)
    assert launching.instance_id is not None
    await bot.clock.advance(10 * MINUTE)
    provider.vanish(launching.instance_id)

    lost = await bot.services.sessions.check_ready(session.session_id)

    assert (lost.status, lost.termination_reason, lost.charged_cents) == (
        SessionStatus.ENDED,
        "instance_lost",
        0,
    )
    assert await bot.services.squadrons.balance(GUILD) == Balance(1_000, 0, 1_000)
    assert bot.notifier.of_type(SessionEndedNotice)[0].reason == "instance_lost"


# --- termination ----------------------------------------------------------------------------


async def test_time_over_while_the_bot_was_down_is_billed_to_the_booked_end(
    bot: BotProcess, provider: FakeProvider
) -> None:
    session = await running(bot, minutes=60)
    await bot.clock.advance(3 * HOUR)

    ended = await bot.services.sessions.terminate(session.session_id, "booked_time_over")

    assert ended.ended_at == session.end_at
    assert (ended.billed_minutes, ended.charged_cents) == (60, 240)
    assert session.instance_id in provider.terminated


async def test_a_booking_whose_time_passed_unlaunched_is_cancelled_and_released(
    bot: BotProcess, provider: FakeProvider
) -> None:
    session = await booked(bot)
    await bot.clock.advance(3 * HOUR)

    ended = await bot.services.sessions.terminate(session.session_id, "booked_time_over")

    assert ended.status is SessionStatus.CANCELLED
    assert await bot.services.squadrons.balance(GUILD) == Balance(1_000, 0, 1_000)
    assert provider.launch_calls == []


async def test_a_booking_extended_before_its_end_is_not_cancelled_for_time_over(
    bot: BotProcess,
) -> None:
    session = await booked(bot)
    await bot.services.sessions.extend(member(), session.session_id, 30)
    await bot.clock.set(session.end_at)

    kept = await bot.services.sessions.terminate(session.session_id, "booked_time_over")

    assert (kept.status, kept.end_at) == (SessionStatus.BOOKED, session.end_at + 30 * MINUTE)
    assert await bot.services.squadrons.balance(GUILD) == Balance(1_000, 360, 640)


async def test_ending_a_booking_another_process_just_launched_terminates_it_boot_time_unbilled(
    bot: BotProcess, provider: FakeProvider
) -> None:
    session = await booked(bot)
    await bot.services.sessions.send_reminder(session.session_id, "start-60")
    other = BotProcess(bot.store, bot.clock, provider)
    await other.start()
    await other.services.sessions.launch(session.session_id)
    await other.stop()
    await bot.clock.advance(10 * MINUTE)

    ended = await bot.services.admin.terminate(operator(), session.session_id)

    assert (ended.status, ended.termination_reason) == (SessionStatus.ENDED, "admin")
    assert ended.launched_at is not None and ended.launched_at < ended.start_at
    assert (ended.billed_minutes, ended.charged_cents) == (0, 0)
    assert ended.instance_id in provider.terminated
    squadron = await bot.squadron_in_store()
    assert (squadron.balance_cents, squadron.reservations) == (1_000, {})
    assert await bot.types(squadron_stream(GUILD)) == [
        "CreditsGranted",
        "CreditsReserved",
        "ReservationReleased",
    ]
    assert bot.notifier.of_type(SessionEndedNotice) == [SessionEndedNotice(ended, "admin", 0, 0)]


async def test_a_failed_cloud_termination_is_retried_and_billed_to_the_stop_request(
    bot: BotProcess, provider: FakeProvider
) -> None:
    session = await running(bot)
    await bot.clock.advance(20 * MINUTE)
    provider.fail_next_terminate = True

    with pytest.raises(ConnectionError):
        await bot.services.sessions.terminate(session.session_id, "admin")
    assert (await bot.services.sessions.get(session.session_id)).status is SessionStatus.TERMINATING
    await bot.clock.advance(MINUTE)
    ended = await bot.services.sessions.terminate(session.session_id, "admin")

    assert (ended.status, ended.termination_reason) == (SessionStatus.ENDED, "admin")
    assert ended.billed_minutes == 20
    assert (await bot.types(squadron_stream(GUILD))).count("SessionCharged") == 1


async def test_concurrent_terminations_bill_once(bot: BotProcess) -> None:
    session = await running(bot)
    await bot.clock.advance(30 * MINUTE)

    results = await asyncio.gather(
        *(bot.services.sessions.terminate(session.session_id, "admin") for _ in range(5))
    )

    assert {state.status for state in results} == {SessionStatus.ENDED}
    assert (await bot.types(squadron_stream(GUILD))).count("SessionCharged") == 1
    assert len(bot.notifier.of_type(SessionEndedNotice)) == 1
    assert await bot.services.squadrons.balance(GUILD) == Balance(880, 0, 880)


async def test_a_server_whose_launch_was_not_recorded_is_found_terminated_and_billed(
    bot: BotProcess, provider: FakeProvider
) -> None:
    session = await booked(bot, start_in=timedelta(0))
    provider.lose_next_answer = True
    with pytest.raises(ConnectionError):
        await bot.services.sessions.launch(session.session_id)
    await bot.clock.advance(30 * MINUTE)

    ended = await bot.services.sessions.terminate(session.session_id, "admin")

    [instance_id] = provider.instances
    assert ended.instance_id == instance_id
    assert instance_id in provider.terminated
    assert (ended.billed_minutes, ended.charged_cents) == (30, 120)


async def test_a_stop_during_the_launch_terminates_the_server_once_it_is_known(
    bot: BotProcess, provider: FakeProvider
) -> None:
    await bot.fund(1_000)
    provider.hold_launches = asyncio.Event()
    started = await bot.services.sessions.start(member(), duration_minutes=60)
    await settle()
    assert provider.instances

    stopped = await bot.services.sessions.stop(member(), started.session_id)
    provider.hold_launches.set()
    await bot.services.background.drain()

    [instance_id] = provider.instances
    assert stopped.status is SessionStatus.ENDED
    assert instance_id in provider.terminated
    assert provider.running() == []
    assert len(bot.notifier.of_type(SessionEndedNotice)) == 1


async def test_an_extension_during_the_launch_moves_the_new_servers_backstop(
    bot: BotProcess, provider: FakeProvider
) -> None:
    await bot.fund(1_000)
    provider.hold_launches = asyncio.Event()
    started = await bot.services.sessions.start(member(), duration_minutes=60)
    await settle()
    assert provider.instances

    extended = await bot.services.sessions.extend(member(), started.session_id, 30)
    provider.hold_launches.set()
    await bot.services.background.drain()

    [instance] = provider.instances.values()
    assert instance.terminate_at == extended.end_at + GRACE


async def test_running_out_of_credit_is_billed_to_the_end_of_the_credit(
    bot: BotProcess,
) -> None:
    await bot.services.squadrons.record_purchase(GUILD, "p1", 240, "200", "cs_1", "evt_1")
    started = await bot.services.sessions.start(member(), duration_minutes=60)
    await bot.services.background.drain()
    shortfall = await bot.services.squadrons.record_stripe_refund(GUILD, "p1", 120, "evt_2")
    assert shortfall == 0
    await bot.clock.advance(2 * HOUR)

    ended = await bot.services.sessions.terminate(started.session_id, "out_of_credit")

    assert ended.ended_at == START + 30 * MINUTE
    assert (ended.billed_minutes, ended.charged_cents) == (30, 120)


async def short_of_reserved_credit(bot: BotProcess) -> SessionState:
    """A running hour whose reservation a Stripe refund cut to its first 30 minutes."""
    await bot.services.squadrons.record_purchase(GUILD, "p1", 240, "200", "cs_1", "evt_1")
    started = await bot.services.sessions.start(member(), duration_minutes=60)
    await bot.services.background.drain()
    await bot.services.squadrons.record_stripe_refund(GUILD, "p1", 120, "evt_2")
    assert await bot.services.squadrons.balance(GUILD) == Balance(120, 120, 0)
    return await bot.services.sessions.get(started.session_id)


async def test_a_server_whose_reservation_runs_out_runs_on_the_squadrons_available_credit(
    bot: BotProcess, provider: FakeProvider
) -> None:
    session = await short_of_reserved_credit(bot)
    await bot.fund(1_000)
    await bot.clock.advance(30 * MINUTE)

    kept = await bot.services.sessions.terminate(session.session_id, "out_of_credit")

    assert kept.status is SessionStatus.RUNNING
    assert provider.terminated == []
    assert await bot.services.squadrons.balance(GUILD) == Balance(1_120, 240, 880)
    await bot.clock.advance(30 * MINUTE)
    ended = await bot.services.sessions.terminate(session.session_id, "booked_time_over")
    assert (ended.billed_minutes, ended.charged_cents) == (60, 240)


async def test_no_low_credit_warning_is_sent_while_the_squadron_has_credit_to_set_aside(
    bot: BotProcess,
) -> None:
    session = await short_of_reserved_credit(bot)
    await bot.fund(1_000)
    await bot.clock.advance(20 * MINUTE)

    await bot.services.sessions.send_reminder(session.session_id, "credit-low")

    assert bot.notifier.of_type(LowCreditNotice) == []
    assert await bot.view.reservations(GUILD) == {session.session_id: 240}
    assert await bot.view.due_actions(bot.clock.now()) == []


async def test_a_termination_for_time_over_after_an_extension_leaves_the_server_running(
    bot: BotProcess, provider: FakeProvider
) -> None:
    session = await running(bot, minutes=60)
    await bot.clock.advance(55 * MINUTE)
    await bot.services.sessions.extend(member(), session.session_id, 30)
    await bot.clock.advance(5 * MINUTE)

    kept = await bot.services.sessions.terminate(session.session_id, "booked_time_over")

    assert (kept.status, kept.end_at) == (SessionStatus.RUNNING, session.end_at + 30 * MINUTE)
    assert provider.terminated == []
    assert "TerminationRequested" not in await bot.types(session_stream(session.session_id))


async def test_a_termination_for_lateness_leaves_a_server_that_became_ready_running(
    bot: BotProcess, provider: FakeProvider
) -> None:
    session = await running(bot)

    kept = await bot.services.sessions.terminate(session.session_id, "not_ready")

    assert kept.status is SessionStatus.RUNNING
    assert provider.terminated == []


# --- reminders ------------------------------------------------------------------------------


async def test_a_reminder_is_sent_once(bot: BotProcess) -> None:
    session = await booked(bot, start_in=2 * HOUR)

    await bot.services.sessions.send_reminder(session.session_id, "start-60")
    await bot.services.sessions.send_reminder(session.session_id, "start-60")

    assert [(n.key, n.session_id) for n in bot.notifier.of_type(ReminderNotice)] == [
        ("start-60", session.session_id)
    ]


async def test_a_booking_cancelled_before_its_reminder_gets_none(bot: BotProcess) -> None:
    session = await booked(bot, start_in=2 * HOUR)
    await bot.services.sessions.cancel(member(), session.session_id)

    seen = await bot.services.sessions.send_reminder(session.session_id, "start-60")

    assert seen.status is SessionStatus.CANCELLED
    assert bot.notifier.of_type(ReminderNotice) == []
    assert "ReminderSent" not in await bot.types(session_stream(session.session_id))


async def test_a_reminder_discord_failed_to_take_is_sent_again_and_only_once(
    clock: FakeClock, provider: FakeProvider
) -> None:
    async with over(eventstore.open("memory://", clock=clock.now), clock, provider) as bot:
        session = await booked(bot, start_in=2 * HOUR)
        bot.notifier.failing = 2
        await clock.set(session.start_at - HOUR)
        assert bot.notifier.of_type(ReminderNotice) == []
        await clock.advance(SCHEDULE.delivery_retry)
        assert bot.notifier.of_type(ReminderNotice) == []

        await clock.advance(SCHEDULE.failure_backoff)
        await bot.notifier.wait_for(ReminderNotice)
        await bot.services.background.drain()  # the delivery is confirmed in the background
        await clock.advance(10 * MINUTE)

        assert [n.key for n in bot.notifier.of_type(ReminderNotice)] == ["start-60"]
        events = await bot.types(session_stream(session.session_id))
        assert (events.count("ReminderSent"), events.count("NoticeDelivered")) == (1, 1)


async def test_a_ready_notice_that_failed_is_sent_again_after_a_restart(
    clock: FakeClock, provider: FakeProvider
) -> None:
    store = eventstore.open("memory://", clock=clock.now)
    async with over(store, clock, provider, scheduler=False, close=False) as first:
        first.notifier.failing = 1
        session = await running(first)
        assert first.notifier.of_type(ReadyNotice) == []

    async with over(store, clock, provider) as restarted:
        await clock.advance(SCHEDULE.delivery_retry)
        ready = await restarted.notifier.wait_for(ReadyNotice)
        await clock.advance(10 * MINUTE)

        assert ready.session_id == session.session_id and ready.address == session.address
        assert len(restarted.notifier.of_type(ReadyNotice)) == 1


async def test_an_end_warning_says_how_many_minutes_are_left(bot: BotProcess) -> None:
    session = await running(bot, minutes=60)
    await bot.clock.advance(45 * MINUTE)

    await bot.services.sessions.send_reminder(session.session_id, "end-15")

    assert [n.minutes_left for n in bot.notifier.of_type(EndWarningNotice)] == [15]


async def test_a_low_credit_warning_says_when_the_credit_runs_out(bot: BotProcess) -> None:
    await bot.services.squadrons.record_purchase(GUILD, "p1", 240, "200", "cs_1", "evt_1")
    started = await bot.services.sessions.start(member(), duration_minutes=60)
    await bot.services.background.drain()
    await bot.services.squadrons.record_stripe_refund(GUILD, "p1", 120, "evt_2")
    await bot.clock.advance(20 * MINUTE)

    await bot.services.sessions.send_reminder(started.session_id, "credit-low")

    assert [n.minutes_left for n in bot.notifier.of_type(LowCreditNotice)] == [10]


async def test_an_operator_can_terminate_any_guilds_session(bot: BotProcess) -> None:
    session = await running(bot)

    ended = await bot.services.admin.terminate(operator(), session.session_id)

    assert (ended.status, ended.termination_reason) == (SessionStatus.ENDED, "admin")


# --- helpers --------------------------------------------------------------------------------


class OneLogin:
    """A login pool with a single ED server login."""

    LOGIN = "/rr/test/logins/1"

    def __init__(self) -> None:
        self.holder: str | None = None

    async def acquire(self, session_id: str) -> str | None:
        if self.holder in (None, session_id):
            self.holder = session_id
            return self.LOGIN
        return None

    async def release(self, session_id: str) -> None:
        if self.holder == session_id:
            self.holder = None


LOGINS = ("/rr/test/logins/1", "/rr/test/logins/2")


@asynccontextmanager
async def two_processes(
    clock: FakeClock, provider: FakeProvider
) -> AsyncIterator[tuple[BotProcess, BotProcess]]:
    """Two bot processes over one store, each with its own pool of the same ``LOGINS``."""
    store = eventstore.open("memory://", clock=clock.now)
    bots = [
        BotProcess(store, clock, provider, login_pool=StoredLoginPool(store, LOGINS))
        for _ in range(2)
    ]
    for bot in bots:
        await bot.start()
    try:
        yield bots[0], bots[1]
    finally:
        for bot in bots:
            await bot.stop()
        await store.close()


@asynccontextmanager
async def process(
    clock: FakeClock, provider: FakeProvider, logins: OneLogin
) -> AsyncIterator[BotProcess]:
    """A bot process whose launches take a login from ``logins``."""
    store = eventstore.open("memory://", clock=clock.now)
    bot = BotProcess(store, clock, provider, login_pool=logins)
    await bot.start()
    try:
        yield bot
    finally:
        await bot.stop()
        await store.close()


@asynccontextmanager
async def over(
    store: EventStore,
    clock: FakeClock,
    provider: FakeProvider,
    *,
    scheduler: bool = True,
    close: bool = True,
) -> AsyncIterator[BotProcess]:
    """A bot process over ``store`` (closed afterwards unless not ``close``: a restart
    follows), its scheduler running unless told not to."""
    bot = BotProcess(store, clock, provider)
    await bot.start(scheduler=scheduler)
    try:
        yield bot
    finally:
        await bot.stop()
        if close:
            await store.close()
