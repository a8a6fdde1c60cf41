from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.domain import session as ms
from bot.domain.actor import Actor
from bot.domain.errors import Conflict, DomainError, InvalidRequest, NotAllowed, NotFound
from bot.domain.events import (
    DomainEvent,
    GracefulEndStarted,
    InstanceLaunchRequested,
    SessionCancelled,
    SessionEnded,
    SessionExtended,
    TerminationRequested,
    from_stored,
)
from bot.domain.pricing import Limits
from bot.services.streams import decide_session
from tests.bot.domain.streams import Stream

GUILD = "7"
SESSION_ID = "3f6c1a52-8d0e-4b7a-9c41-2e5d7f80a913"
NOW = datetime(2026, 11, 28, 18, 0, tzinfo=UTC)
START = NOW + timedelta(days=1)
BOOKER = Actor("42", GUILD)
OTHER_MEMBER = Actor("44", GUILD)
MANAGER = Actor("43", GUILD, is_manager=True)
FOREIGN_MANAGER = Actor("45", "999", is_manager=True)
OPERATOR = Actor("1", None, is_operator=True, source="admin")
SYSTEM = Actor.system("scheduler")
LIMITS = Limits()

SessionStream = Stream[ms.SessionState | None]


def book_command(**changes: object) -> ms.Book:
    command = ms.Book(
        session_id=SESSION_ID,
        guild_id=GUILD,
        actor=BOOKER,
        start_at=START,
        duration_minutes=120,
        size="medium",
        region="eu-central-1",
        rate=250,
        mission_name="Red Flag",
        limits=LIMITS,
        now=NOW,
    )
    return replace(command, **changes)  # type: ignore[arg-type]


def run(stream: SessionStream, command: ms.SessionCommand) -> list[DomainEvent]:
    return [from_stored(event) for event in stream.append(decide_session(command, stream.state))]


def state_of(stream: SessionStream) -> ms.SessionState:
    assert stream.state is not None
    return stream.state


def booked(**changes: object) -> SessionStream:
    stream: SessionStream = Stream(ms.session_stream(SESSION_ID), ms.evolve, ms.initial_session)
    run(stream, book_command(**changes))
    return stream


def launching() -> SessionStream:
    stream = booked()
    run(stream, ms.RequestLaunch(actor=SYSTEM, now=START - timedelta(minutes=20)))
    return stream


LAUNCHED_AT = START - timedelta(minutes=19)


def launched() -> SessionStream:
    stream = launching()
    run(stream, launched_command())
    return stream


def launched_command(attempt: int = 1, instance_id: str = "i-1") -> ms.RecordLaunched:
    return ms.RecordLaunched(
        actor=SYSTEM,
        now=LAUNCHED_AT,
        attempt=attempt,
        instance_id=instance_id,
        provider="local",
        launched_at=LAUNCHED_AT,
    )


def ready_command(address: str = "127.0.0.1", port: int = 10308) -> ms.RecordReady:
    return ms.RecordReady(actor=SYSTEM, now=START, address=address, port=port, ready_at=START)


def running() -> SessionStream:
    stream = launched()
    run(stream, ready_command())
    return stream


STOPPED_AT = START + timedelta(hours=1)


def stop(actor: Actor = BOOKER, reason: str = "stopped_by_user") -> ms.RequestTermination:
    return ms.RequestTermination(actor=actor, now=STOPPED_AT, reason=reason)  # type: ignore[arg-type]


def terminating() -> SessionStream:
    stream = running()
    run(stream, stop())
    return stream


def ended() -> SessionStream:
    stream = terminating()
    run(stream, end_command())
    return stream


def cancelled() -> SessionStream:
    stream = booked()
    run(stream, ms.Cancel(actor=BOOKER, now=NOW))
    return stream


def end_command(now: datetime = STOPPED_AT + timedelta(seconds=3)) -> ms.RecordEnded:
    return ms.RecordEnded(actor=SYSTEM, now=now)


def extend(minutes: int | float = 60, actor: Actor = BOOKER) -> ms.Extend:
    return ms.Extend(actor=actor, now=NOW, minutes=minutes, limits=LIMITS)  # type: ignore[arg-type]


# --- booking -------------------------------------------------------------------------------------


def test_booking_records_the_session_and_its_end() -> None:
    stream = booked()
    state = state_of(stream)
    assert state.status is ms.SessionStatus.BOOKED
    assert (state.start_at, state.end_at) == (START, START + timedelta(hours=2))
    assert (state.booked_by, state.guild_id, state.rate_cents_per_hour) == ("42", GUILD, 250)
    assert not state.immediate
    assert state.is_active


def test_starting_now_books_an_immediate_session_starting_at_now() -> None:
    state = state_of(booked(start_at=None))
    assert state.immediate
    assert state.start_at == NOW


def test_a_start_given_in_another_zone_is_stored_in_utc() -> None:
    oslo = timezone(timedelta(hours=1))
    state = state_of(booked(start_at=START.astimezone(oslo)))
    assert state.start_at == START
    assert state.start_at.utcoffset() == timedelta(0)


def test_a_start_within_the_last_minute_counts_as_now() -> None:
    state = state_of(booked(start_at=NOW - timedelta(seconds=59)))
    assert state.start_at == NOW - timedelta(seconds=59)


def test_a_start_in_the_past_is_refused() -> None:
    with pytest.raises(InvalidRequest) as refused:
        ms.decide(book_command(start_at=NOW - timedelta(seconds=61)), None)
    assert str(refused.value) == "That start time is in the past; pick a time from now on."


def test_booking_up_to_the_horizon_is_allowed_and_beyond_refused() -> None:
    horizon = NOW + timedelta(days=60)
    assert ms.decide(book_command(start_at=horizon), None)
    with pytest.raises(InvalidRequest) as refused:
        ms.decide(book_command(start_at=horizon + timedelta(seconds=1)), None)
    assert str(refused.value) == "You can book at most 60 days ahead; pick an earlier start."


def test_a_horizon_of_one_day_is_told_in_the_singular() -> None:
    one_day = replace(LIMITS, booking_horizon_days=1)
    with pytest.raises(InvalidRequest, match="at most 1 day ahead;"):
        ms.decide(book_command(start_at=NOW + timedelta(days=2), limits=one_day), None)


def test_a_start_without_a_time_zone_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="time zone"):
        ms.decide(book_command(start_at=datetime(2026, 12, 1, 20)), None)


@pytest.mark.parametrize("minutes", [30, 31, 719, 720])
def test_durations_within_the_limits_are_allowed(minutes: int) -> None:
    assert state_of(booked(duration_minutes=minutes)).duration_minutes == minutes


@pytest.mark.parametrize("minutes", [0, 29, 721, -30])
def test_durations_outside_the_limits_are_refused(minutes: int) -> None:
    with pytest.raises(InvalidRequest) as refused:
        ms.decide(book_command(duration_minutes=minutes), None)
    assert str(refused.value) == (
        "A session lasts from 30 minutes to 12 hours; pick a duration in that range."
    )


def test_a_duration_must_be_a_whole_number_of_minutes() -> None:
    with pytest.raises(InvalidRequest, match="whole number of minutes"):
        ms.decide(book_command(duration_minutes=90.5), None)
    assert state_of(booked(duration_minutes=90.0)).duration_minutes == 90


def test_a_session_id_is_booked_only_once() -> None:
    with pytest.raises(Conflict, match="already booked"):
        ms.decide(book_command(), booked().state)


def test_nobody_books_for_another_guild() -> None:
    with pytest.raises(NotAllowed, match="your own squadron"):
        ms.decide(book_command(actor=FOREIGN_MANAGER), None)


def test_an_operator_books_for_any_guild() -> None:
    assert state_of(booked(actor=OPERATOR)).booked_by == "1"


def test_a_session_id_must_fit_a_client_token() -> None:
    with pytest.raises(InvalidRequest, match="1 to 48 characters"):
        ms.decide(book_command(session_id="x" * 49), None)


def test_a_negative_rate_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="rate"):
        ms.decide(book_command(rate=-1), None)


def test_commands_on_a_session_that_does_not_exist_are_not_found() -> None:
    with pytest.raises(NotFound, match="no such session"):
        ms.decide(ms.Cancel(actor=BOOKER, now=NOW), None)


def test_events_carry_the_actors_metadata() -> None:
    stream = booked()
    assert stream.events[0].metadata == BOOKER.metadata()


# --- reservations --------------------------------------------------------------------------------


def test_a_start_now_needs_at_least_the_shortest_sessions_cost() -> None:
    assert ms.minimum_session_cents(250, LIMITS) == 125


# --- cancelling ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "reason"), [(BOOKER, "cancelled"), (MANAGER, "cancelled"), (OPERATOR, "admin")]
)
def test_a_booked_session_is_cancelled_by_its_booker_a_manager_or_an_operator(
    actor: Actor, reason: str
) -> None:
    stream = booked()
    assert run(stream, ms.Cancel(actor=actor, now=NOW)) == [SessionCancelled(reason=reason)]  # type: ignore[arg-type]
    assert state_of(stream).status is ms.SessionStatus.CANCELLED
    assert not state_of(stream).is_active


def test_another_member_may_not_cancel() -> None:
    with pytest.raises(NotAllowed) as refused:
        ms.decide(ms.Cancel(actor=OTHER_MEMBER, now=NOW), booked().state)
    assert str(refused.value) == (
        "Only the member who booked this session or a squadron manager can cancel it."
    )


def test_a_manager_of_another_guild_may_not_touch_the_session() -> None:
    with pytest.raises(NotAllowed, match="another squadron"):
        ms.decide(ms.Cancel(actor=FOREIGN_MANAGER, now=NOW), booked().state)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (launching, "This session has already started; stop it instead."),
        (running, "This session has already started; stop it instead."),
        (terminating, "This session is already stopping."),
        (ended, "This session has already ended; book a new one."),
        (cancelled, "This session was cancelled; book a new one."),
    ],
)
def test_only_a_booked_session_can_be_cancelled(make: object, message: str) -> None:
    stream = make()  # type: ignore[operator]
    with pytest.raises(Conflict) as refused:
        ms.decide(ms.Cancel(actor=BOOKER, now=NOW), stream.state)
    assert str(refused.value) == message


# --- launching -----------------------------------------------------------------------------------


def test_a_launch_request_starts_attempt_one_with_its_client_token() -> None:
    stream = booked()
    events = run(
        stream, ms.RequestLaunch(actor=SYSTEM, now=START - timedelta(minutes=20), login_ref="l1")
    )
    assert events == [
        InstanceLaunchRequested(
            attempt=1,
            client_token=f"{SESSION_ID}-1",
            size="medium",
            region="eu-central-1",
            login_ref="l1",
        )
    ]
    state = state_of(stream)
    assert (state.status, state.attempt, state.login_ref) == (ms.SessionStatus.LAUNCHING, 1, "l1")
    assert len(state.client_token or "") <= 64


def test_a_launch_is_re_requested_as_a_new_attempt_while_nothing_launched() -> None:
    stream = launching()
    run(stream, ms.RequestLaunch(actor=SYSTEM, now=START))
    assert state_of(stream).attempt == 2
    assert state_of(stream).client_token == f"{SESSION_ID}-2"


def test_the_booker_may_launch_their_session_and_another_member_may_not() -> None:
    stream = booked()
    assert ms.decide(ms.RequestLaunch(actor=BOOKER, now=NOW), stream.state)
    with pytest.raises(NotAllowed):
        ms.decide(ms.RequestLaunch(actor=OTHER_MEMBER, now=NOW), stream.state)


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (launched, "already been launched"),
        (running, "already been launched"),
        (terminating, "is stopping"),
        (ended, "already ended"),
        (cancelled, "was cancelled"),
    ],
)
def test_launch_is_refused_once_an_instance_exists_or_the_session_is_over(
    make: object, error: str
) -> None:
    stream = make()  # type: ignore[operator]
    with pytest.raises(Conflict, match=error):
        ms.decide(ms.RequestLaunch(actor=SYSTEM, now=START), stream.state)


def test_launch_is_refused_once_the_booked_time_is_over() -> None:
    with pytest.raises(Conflict, match="booked time is already over"):
        ms.decide(ms.RequestLaunch(actor=SYSTEM, now=START + timedelta(hours=2)), booked().state)


def test_a_launch_is_recorded_for_the_current_attempt() -> None:
    state = state_of(launched())
    assert (state.instance_id, state.provider, state.launched_at) == ("i-1", "local", LAUNCHED_AT)
    assert state.status is ms.SessionStatus.LAUNCHING


def test_a_launch_for_a_stale_attempt_is_rejected() -> None:
    stream = launching()
    run(stream, ms.RequestLaunch(actor=SYSTEM, now=START))
    with pytest.raises(Conflict, match="attempt 1 is stale; the session is on attempt 2"):
        ms.decide(launched_command(attempt=1), stream.state)


def test_recording_the_same_launch_twice_records_it_once() -> None:
    assert ms.decide(launched_command(), launched().state) == []


def test_a_second_instance_for_one_attempt_is_a_conflict() -> None:
    with pytest.raises(Conflict, match="already launched instance i-1"):
        ms.decide(launched_command(instance_id="i-2"), launched().state)


def test_a_launch_that_completes_after_a_stop_is_still_recorded() -> None:
    stream = launching()
    run(stream, stop())
    run(stream, launched_command())
    state = state_of(stream)
    assert state.status is ms.SessionStatus.TERMINATING
    assert state.instance_id == "i-1"


def test_a_launch_cannot_be_recorded_before_it_was_requested() -> None:
    with pytest.raises(Conflict, match="booked"):
        ms.decide(launched_command(), booked().state)


def test_a_failed_launch_moves_the_session_to_terminating() -> None:
    stream = launching()
    failed = ms.RecordLaunchFailed(
        actor=SYSTEM, now=START, attempt=1, reason="capacity", message="No capacity."
    )
    run(stream, failed)
    state = state_of(stream)
    assert state.status is ms.SessionStatus.TERMINATING
    assert state.termination_reason == "launch_failed"
    assert state.launch_failure == "No capacity."
    assert ms.decide(failed, stream.state) == []
    with pytest.raises(Conflict, match="already recorded as failed"):
        ms.decide(launched_command(), stream.state)


def test_a_launch_failure_for_a_stale_attempt_or_a_launched_instance_is_rejected() -> None:
    failed = ms.RecordLaunchFailed(actor=SYSTEM, now=START, attempt=1, reason="x", message="m")
    with pytest.raises(Conflict, match="instance was launched"):
        ms.decide(failed, launched().state)
    stream = launching()
    run(stream, ms.RequestLaunch(actor=SYSTEM, now=START))
    with pytest.raises(Conflict, match="stale"):
        ms.decide(failed, stream.state)


def test_a_launch_failure_after_a_stop_keeps_the_stop_reason() -> None:
    stream = launching()
    run(stream, stop())
    run(stream, ms.RecordLaunchFailed(actor=SYSTEM, now=START, attempt=1, reason="x", message="m"))
    assert state_of(stream).termination_reason == "stopped_by_user"


def test_ready_makes_the_session_running() -> None:
    state = state_of(running())
    assert state.status is ms.SessionStatus.RUNNING
    assert (state.address, state.port, state.ready_at) == ("127.0.0.1", 10308, START)


def test_ready_is_recorded_once_and_ignored_while_stopping() -> None:
    assert ms.decide(ready_command(), running().state) == []
    assert ms.decide(ready_command(), terminating().state) == []


def test_ready_at_another_address_is_a_conflict() -> None:
    with pytest.raises(Conflict, match="another address"):
        ms.decide(ready_command(address="10.0.0.1"), running().state)


def test_ready_needs_a_launched_instance() -> None:
    with pytest.raises(Conflict, match="no launched instance"):
        ms.decide(ready_command(), launching().state)
    with pytest.raises(Conflict, match="booked"):
        ms.decide(ready_command(), booked().state)


def test_ready_needs_a_real_port() -> None:
    with pytest.raises(InvalidRequest, match="1 to 65535"):
        ms.decide(ready_command(port=0), launched().state)


# --- extending -----------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [booked, launching, running])
def test_a_booked_launching_or_running_session_is_extended(make: object) -> None:
    stream = make()  # type: ignore[operator]
    end = state_of(stream).end_at
    events = run(stream, extend(60))
    assert events == [SessionExtended(added_minutes=60, end_at=end + timedelta(hours=1))]
    assert state_of(stream).duration_minutes == 180
    assert state_of(stream).end_at == end + timedelta(hours=1)


@pytest.mark.parametrize("actor", [BOOKER, MANAGER, OPERATOR])
def test_the_booker_a_manager_or_an_operator_may_extend(actor: Actor) -> None:
    assert ms.decide(extend(actor=actor), running().state)


def test_another_member_may_not_extend() -> None:
    with pytest.raises(NotAllowed, match="can extend it"):
        ms.decide(extend(actor=OTHER_MEMBER), running().state)


def test_an_extension_below_the_minimum_is_refused() -> None:
    with pytest.raises(InvalidRequest) as refused:
        ms.decide(extend(14), running().state)
    assert str(refused.value) == "Extend by at least 15 minutes."


def test_an_extension_must_be_whole_minutes() -> None:
    with pytest.raises(InvalidRequest, match="whole number of minutes"):
        ms.decide(extend(20.5), running().state)


def test_an_extension_may_reach_but_not_pass_the_maximum_duration() -> None:
    stream = running()
    assert ms.decide(extend(600), stream.state)
    with pytest.raises(InvalidRequest) as refused:
        ms.decide(extend(601), stream.state)
    assert str(refused.value) == (
        "A session can last at most 12 hours; extend this one by at most 10 hours."
    )


def test_a_session_near_the_maximum_cannot_be_extended_further() -> None:
    stream = booked(duration_minutes=710)
    with pytest.raises(InvalidRequest) as refused:
        ms.decide(extend(15), stream.state)
    assert str(refused.value) == (
        "A session can last at most 12 hours and this one cannot be extended further."
    )


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (terminating, "stopping"),
        (ended, "already ended"),
        (cancelled, "was cancelled"),
    ],
)
def test_a_stopping_or_finished_session_cannot_be_extended(make: object, message: str) -> None:
    with pytest.raises(Conflict, match=message):
        ms.decide(extend(), make().state)  # type: ignore[operator]


# --- stopping ------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [launching, launched, running])
@pytest.mark.parametrize("actor", [BOOKER, MANAGER, OPERATOR])
def test_a_started_session_is_stopped_by_its_booker_a_manager_or_an_operator(
    make: object, actor: Actor
) -> None:
    stream = make()  # type: ignore[operator]
    assert run(stream, stop(actor)) == [
        TerminationRequested(reason="stopped_by_user", stop_at=STOPPED_AT)
    ]
    assert state_of(stream).status is ms.SessionStatus.TERMINATING
    assert state_of(stream).termination_reason == "stopped_by_user"


def test_another_member_may_not_stop() -> None:
    with pytest.raises(NotAllowed, match="can stop it"):
        ms.decide(stop(OTHER_MEMBER), running().state)


def test_a_manager_of_another_guild_may_not_stop() -> None:
    with pytest.raises(NotAllowed, match="another squadron"):
        ms.decide(stop(FOREIGN_MANAGER), running().state)


@pytest.mark.parametrize("reason", ["out_of_credit", "admin", "instance_lost"])
def test_the_bot_stops_a_session_for_its_own_reasons(reason: str) -> None:
    stream = running()
    run(stream, stop(SYSTEM, reason))
    assert state_of(stream).termination_reason == reason


def test_the_bot_stops_a_session_whose_booked_time_is_over() -> None:
    stream = running()
    end_at = state_of(stream).end_at
    run(stream, ms.RequestTermination(actor=SYSTEM, now=end_at, reason="booked_time_over"))
    assert state_of(stream).termination_reason == "booked_time_over"


def test_a_session_extended_before_its_end_is_not_stopped_for_time_over() -> None:
    stream = running()
    old_end = state_of(stream).end_at
    run(stream, extend(30))
    with pytest.raises(Conflict) as refused:
        ms.decide(
            ms.RequestTermination(actor=SYSTEM, now=old_end, reason="booked_time_over"),
            stream.state,
        )
    assert str(refused.value) == "This session's booked time is not over yet, so it keeps running."


def test_a_server_not_ready_in_time_is_stopped_but_a_ready_one_is_not() -> None:
    stream = launched()
    run(stream, stop(SYSTEM, "not_ready"))
    assert state_of(stream).termination_reason == "not_ready"
    with pytest.raises(Conflict, match="is ready"):
        ms.decide(stop(SYSTEM, "not_ready"), running().state)


def test_a_member_cannot_stop_a_session_for_a_system_reason() -> None:
    with pytest.raises(NotAllowed, match="operator"):
        ms.decide(stop(MANAGER, "out_of_credit"), running().state)


@pytest.mark.parametrize("reason", ["cancelled", "bored"])
def test_a_stop_needs_a_real_termination_reason(reason: str) -> None:
    with pytest.raises(InvalidRequest, match="not a reason"):
        ms.decide(stop(SYSTEM, reason), running().state)


def test_stopping_a_booked_session_says_to_cancel_it() -> None:
    with pytest.raises(Conflict) as refused:
        ms.decide(stop(), booked().state)
    assert str(refused.value) == "This session has not started yet; cancel it instead."


def test_stopping_a_session_already_stopping_decides_nothing() -> None:
    assert ms.decide(stop(), terminating().state) == []


def test_stopping_an_ended_session_is_a_conflict() -> None:
    with pytest.raises(Conflict) as refused:
        ms.decide(stop(), ended().state)
    assert str(refused.value) == "This session has already ended; book a new one."


# --- ending --------------------------------------------------------------------------------------


def test_ending_records_the_bill_from_the_start_to_the_stop_and_the_instance() -> None:
    stream = terminating()
    events = run(stream, end_command())
    assert events == [
        SessionEnded(
            reason="stopped_by_user",
            ended_at=STOPPED_AT,
            billed_minutes=60,
            amount_cents=250,
            instance_id="i-1",
        )
    ]
    state = state_of(stream)
    assert state.status is ms.SessionStatus.ENDED
    assert (state.billed_minutes, state.charged_cents) == (60, 250)
    assert not state.is_active


def test_an_end_recorded_hours_after_the_stop_bills_to_the_stop() -> None:
    [ended_event] = run(terminating(), end_command(STOPPED_AT + timedelta(hours=5)))
    assert isinstance(ended_event, SessionEnded)
    assert (ended_event.ended_at, ended_event.billed_minutes) == (STOPPED_AT, 60)


def test_a_stop_may_be_dated_when_the_session_stopped_and_never_after_now() -> None:
    earlier = STOPPED_AT - timedelta(minutes=25)
    lost = ms.RequestTermination(
        actor=SYSTEM, now=STOPPED_AT, reason="instance_lost", stop_at=earlier
    )
    assert ms.decide(lost, running().state) == [
        TerminationRequested(reason="instance_lost", stop_at=earlier)
    ]
    ahead = replace(lost, stop_at=STOPPED_AT + timedelta(seconds=1))
    assert ms.decide(ahead, running().state) == [
        TerminationRequested(reason="instance_lost", stop_at=STOPPED_AT)
    ]


def test_ending_needs_a_termination_request_first() -> None:
    with pytest.raises(Conflict, match="request it first"):
        ms.decide(end_command(), running().state)


def test_a_session_ends_only_once() -> None:
    with pytest.raises(Conflict, match="already ended"):
        ms.decide(end_command(), ended().state)


def test_a_session_that_never_launched_ends_unbilled() -> None:
    stream = launching()
    run(stream, ms.RecordLaunchFailed(actor=SYSTEM, now=START, attempt=1, reason="x", message="m"))
    run(stream, end_command(START + timedelta(minutes=5)))
    state = state_of(stream)
    assert state.status is ms.SessionStatus.ENDED
    assert state.termination_reason == "launch_failed"
    assert (state.billed_minutes, state.charged_cents) == (0, 0)


# --- the graceful end ----------------------------------------------------------------------------

GRACEFUL_UNTIL = STOPPED_AT + timedelta(minutes=2)


def graceful_end(
    now: datetime = STOPPED_AT, until: datetime = GRACEFUL_UNTIL
) -> ms.StartGracefulEnd:
    return ms.StartGracefulEnd(actor=SYSTEM, now=now, until=until)


def test_a_stopping_server_may_be_given_until_a_bound_to_end_its_mission_once() -> None:
    stream = terminating()
    assert run(stream, graceful_end()) == [GracefulEndStarted(until=GRACEFUL_UNTIL)]
    assert state_of(stream).graceful_end_until == GRACEFUL_UNTIL
    later = GRACEFUL_UNTIL + timedelta(minutes=5)
    assert run(stream, graceful_end(STOPPED_AT + timedelta(minutes=1), later)) == []
    assert state_of(stream).graceful_end_until == GRACEFUL_UNTIL


def test_the_graceful_end_bills_only_to_the_stop() -> None:
    stream = terminating()
    run(stream, graceful_end())
    [ended_event] = run(stream, end_command(GRACEFUL_UNTIL))
    assert isinstance(ended_event, SessionEnded)
    assert (ended_event.ended_at, ended_event.billed_minutes) == (STOPPED_AT, 60)
    assert state_of(stream).graceful_end_until == GRACEFUL_UNTIL


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (running, Conflict, "request its termination first"),
        (ended, Conflict, "already ended"),
        (cancelled, Conflict, "was cancelled"),
    ],
)
def test_only_a_stopping_session_gets_a_graceful_end(
    make: Callable[[], SessionStream], error: type[DomainError], message: str
) -> None:
    with pytest.raises(error, match=message):
        ms.decide(graceful_end(), make().state)


def test_a_graceful_end_needs_a_server_and_a_bound_to_come() -> None:
    stream = launching()
    run(stream, stop(SYSTEM, "admin"))
    with pytest.raises(Conflict, match="no server"):
        ms.decide(graceful_end(), stream.state)
    with pytest.raises(InvalidRequest, match="still to come"):
        ms.decide(graceful_end(until=STOPPED_AT), terminating().state)


# --- reminders -----------------------------------------------------------------------------------


def test_a_reminder_key_is_recorded_at_most_once() -> None:
    stream = booked()
    remind = ms.RecordReminder(actor=SYSTEM, now=NOW, key="start-60")
    run(stream, remind)
    assert state_of(stream).reminders_sent == frozenset({"start-60"})
    assert ms.decide(remind, stream.state) == []
    run(stream, ms.RecordReminder(actor=SYSTEM, now=NOW, key="start-15"))
    assert state_of(stream).reminders_sent == frozenset({"start-60", "start-15"})


@pytest.mark.parametrize("stream", [cancelled, terminating, ended], ids=lambda f: f.__name__)
def test_a_session_that_is_cancelled_or_stopping_takes_no_reminder(
    stream: Callable[[], SessionStream],
) -> None:
    with pytest.raises(Conflict, match="takes no reminder"):
        ms.decide(ms.RecordReminder(actor=SYSTEM, now=NOW, key="start-15"), stream().state)


@pytest.mark.parametrize("key", ["", "k" * 65])
def test_a_reminder_key_must_be_short_text(key: str) -> None:
    with pytest.raises(InvalidRequest, match="reminder key"):
        ms.decide(ms.RecordReminder(actor=SYSTEM, now=NOW, key=key), booked().state)


def test_a_member_of_another_guild_cannot_record_reminders() -> None:
    with pytest.raises(NotAllowed):
        ms.decide(ms.RecordReminder(actor=FOREIGN_MANAGER, now=NOW, key="x"), booked().state)


# --- messages ------------------------------------------------------------------------------------


def test_every_refusal_is_one_sentence() -> None:
    refusals: list[DomainError] = []
    for command, state in [
        (book_command(start_at=NOW - timedelta(hours=1)), None),
        (book_command(duration_minutes=5), None),
        (ms.Cancel(actor=OTHER_MEMBER, now=NOW), booked().state),
        (stop(), ended().state),
        (extend(601), running().state),
    ]:
        with pytest.raises(DomainError) as refused:
            ms.decide(command, state)  # type: ignore[arg-type]
        refusals.append(refused.value)
    for error in refusals:
        text = str(error)
        assert text.endswith(".")
        assert text[0].isupper()
        assert text.count(". ") == 0
        assert "\n" not in text


def test_describe_minutes() -> None:
    assert ms.describe_minutes(1) == "1 minute"
    assert ms.describe_minutes(45) == "45 minutes"
    assert ms.describe_minutes(60) == "1 hour"
    assert ms.describe_minutes(90) == "1 hour 30 minutes"
    assert ms.describe_minutes(720) == "12 hours"
