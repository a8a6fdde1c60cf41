"""The session aggregate (stream `mission#<session_id>`): one server session's lifecycle.

    booked ──RequestLaunch──▶ launching ──RecordLaunched, RecordReady──▶ running
      │                          │                                         │
    Cancel                 RequestTermination / RecordLaunchFailed   RequestTermination
      ▼                          ▼                                         ▼
    cancelled                terminating ◀─────────────────────────────────┘
                                 │ RecordEnded
                                 ▼
                               ended

- `RequestLaunch` may be repeated while no instance is recorded (a retry after a crash); each
  request is a new attempt with its own client token `<session_id>-<attempt>`. Launch results
  for an older attempt are refused as stale.
- `RecordLaunchFailed` is final: the session moves to terminating with reason "launch_failed"
  and the service ends it with `RecordEnded` (billed 0). To retry instead, request a new attempt.
- `RecordLaunched` is also accepted while terminating (a stop raced the launch), so the
  instance is known, terminated and billed.
- `RequestTermination` records when the session stopped for billing (`stop_at`: now, or an
  earlier moment the service knows: credit run out, a lost server last seen), before the
  server is terminated, so the bill never depends on when the end gets recorded.
- `StartGracefulEnd` may follow the termination request of a server that serves a game: rr asks
  its agent to end the mission cleanly (DCS then writes its Tacview, track and save files) and
  terminates the server once it has, or at the recorded `until` at the latest. Billing stopped
  with the request, so those minutes are rr's. It is recorded once; a restart carries on to the
  same `until`.
- `RecordEnded` needs a termination request first and records the bill of
  `bot.domain.billing.bill()`, which states the billing rule; the service appends it with the
  squadron's `Charge` of the same bill in one `append_many`.
- A reminder is recorded once per key, and only while the session is booked, launching or
  running: one that is stopping, ended or cancelled takes none. A recorded reminder (and
  `InstanceReady`) is the intent to tell the members; `RecordDelivered` records that the notice
  reached them, so one a crash or a Discord error kept from them is sent again.
- Extending adds minutes to the booked end and forgets the end warnings already sent, so they
  are sent again before the new end; the total may not exceed the maximum duration and
  is allowed while booked, launching or running. Only the booking member, a squadron manager
  or an operator may cancel, launch, extend or stop; nobody but an operator acts on another
  guild's session.
- The bot's own deadlines are checked when it stops a server: "booked_time_over" only once the
  (perhaps extended) end has come, "not_ready" only while the server is not ready, "idle" only
  once the idle warning's stop time has come and the warning still holds.
- Idle stop: the bot records a warning (`WarnIdle`) on a running server nobody is on; a pilot
  joining withdraws it (`WithdrawIdleWarning`), and the booking member or a manager may keep the
  server running (`KeepRunning`): no idle warning nor stop before the time it records. Keeping a
  server running spends the squadron's credit, so the same people who may extend it may.
- Credit and the concurrency limit are the squadron's rules: the service appends
  `SessionBooked` (or `SessionExtended`) together with the squadron's `Reserve` in one
  `append_many`, reserving `cost_at_rate(rate, minutes)` of the booked (or added) minutes; the
  boot lead before a booked start is not billed, so not reserved. A start now is prepaid time:
  it reserves what is available of its cost, at least `minimum_session_cents(...)`; a booking
  for later reserves all of it, so a booked session is guaranteed.
"""

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Literal

from bot.domain.actor import Actor
from bot.domain.billing import bill
from bot.domain.errors import Conflict, InvalidRequest, NotAllowed, NotFound
from bot.domain.events import (
    TERMINATION_REASONS,
    DomainEvent,
    GracefulEndStarted,
    IdleCause,
    IdleStopPostponed,
    IdleStopWarned,
    IdleStopWithdrawn,
    InstanceLaunched,
    InstanceLaunchFailed,
    InstanceLaunchRequested,
    InstanceReady,
    NoticeDelivered,
    ReminderSent,
    SessionBooked,
    SessionCancelled,
    SessionEnded,
    SessionExtended,
    TerminationReason,
    TerminationRequested,
    from_stored,
)
from bot.domain.pricing import Limits, cost_at_rate
from bot.domain.words import counted
from eventstore.events import StoredEvent

STREAM_PREFIX = "mission#"
"""As stored: the streams were named when a session was called a mission, and a stream id is
never renamed."""
MAX_SESSION_ID_LENGTH = 48
"""Leaves room for "-<attempt>" in a 64-character cloud client token."""
MAX_REMINDER_KEY_LENGTH = 64
END_WARNING_PREFIX = "end-"
"""Reminder keys before the end (``end-15``); an extension makes them fall due again."""
NOW_TOLERANCE = timedelta(minutes=1)
"""A start this far in the past still counts as now (the member took a moment to submit)."""


def session_stream(session_id: str) -> str:
    return f"{STREAM_PREFIX}{session_id}"


class SessionStatus(StrEnum):
    BOOKED = "booked"
    LAUNCHING = "launching"
    RUNNING = "running"
    TERMINATING = "terminating"
    ENDED = "ended"
    CANCELLED = "cancelled"


ACTIVE_STATUSES = frozenset(
    {
        SessionStatus.BOOKED,
        SessionStatus.LAUNCHING,
        SessionStatus.RUNNING,
        SessionStatus.TERMINATING,
    }
)


LIVE_STATUSES = frozenset({SessionStatus.BOOKED, SessionStatus.LAUNCHING, SessionStatus.RUNNING})
"""A session in these takes reminders and notices; one stopping, ended or cancelled is past
them."""
SERVER_UP_STATUSES = frozenset({SessionStatus.LAUNCHING, SessionStatus.RUNNING})
"""A session in these may have a server up in the cloud."""
READY_NOTICE = "ready"
"""The key of the ready notice among a session's notices (the others are reminder keys)."""


@dataclass(frozen=True, slots=True)
class IdleWarning:
    """A recorded idle warning: nobody on the server since ``idle_since``; stops at ``stop_at``."""

    cause: IdleCause
    idle_since: datetime
    stop_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionState:
    session_id: str
    guild_id: str
    booked_by: str
    status: SessionStatus
    size: str
    region: str
    start_at: datetime
    end_at: datetime
    duration_minutes: int
    rate_cents_per_hour: int
    immediate: bool
    mission_name: str | None
    mission_sha256: str | None = None
    """With ``mission_key``: the library mission the server loads (see `SessionBooked`)."""
    mission_key: str | None = None
    attempt: int = 0
    client_token: str | None = None
    login_ref: str | None = None
    instance_id: str | None = None
    provider: str | None = None
    launched_at: datetime | None = None
    launch_failure: str | None = None
    address: str | None = None
    port: int | None = None
    ready_at: datetime | None = None
    reminders_sent: frozenset[str] = frozenset()
    notices_delivered: frozenset[str] = frozenset()
    termination_reason: TerminationReason | None = None
    stop_at: datetime | None = None
    """When the session stopped for billing, recorded with the termination request."""
    graceful_end_until: datetime | None = None
    """Set once rr asked the server to end its mission cleanly: terminated by then at the
    latest."""
    ended_at: datetime | None = None
    billed_minutes: int | None = None
    charged_cents: int | None = None
    idle_cause: IdleCause | None = None
    """With ``idle_since`` and ``idle_stop_at``: the idle warning that holds (kept once the
    session stops, for the end's message); read them as ``idle_warning``."""
    idle_since: datetime | None = None
    idle_stop_at: datetime | None = None
    idle_postponed_until: datetime | None = None
    """A member kept the server running: no idle warning nor stop before then."""

    @property
    def idle_warning(self) -> IdleWarning | None:
        if self.idle_cause is None or self.idle_since is None or self.idle_stop_at is None:
            return None
        return IdleWarning(self.idle_cause, self.idle_since, self.idle_stop_at)

    @property
    def is_active(self) -> bool:
        """Booked or under way: not yet ended or cancelled."""
        return self.status in ACTIVE_STATUSES

    @property
    def undelivered_notices(self) -> frozenset[str]:
        """Notices recorded (reminders, and the ready notice once ready) whose delivery is not
        confirmed: each recorded event is the intent to send, ``NoticeDelivered`` its outcome."""
        recorded = self.reminders_sent | ({READY_NOTICE} if self.ready_at else frozenset())
        return recorded - self.notices_delivered


initial_session: SessionState | None = None
"""A session stream with no events; `SessionBooked` creates the state."""


# --- commands -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Book:
    """Book a session; `start_at=None` starts it now (an immediate session)."""

    session_id: str
    guild_id: str
    actor: Actor
    start_at: datetime | None
    duration_minutes: int
    size: str
    region: str
    rate: int
    mission_name: str | None
    limits: Limits
    now: datetime
    mission_sha256: str | None = None
    mission_key: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Cancel:
    actor: Actor
    now: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestLaunch:
    actor: Actor
    now: datetime
    login_ref: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordLaunched:
    actor: Actor
    now: datetime
    attempt: int
    instance_id: str
    provider: str
    launched_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordLaunchFailed:
    actor: Actor
    now: datetime
    attempt: int
    reason: str
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordReady:
    actor: Actor
    now: datetime
    address: str
    port: int
    ready_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Extend:
    actor: Actor
    now: datetime
    minutes: int
    limits: Limits


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestTermination:
    """ "stopped_by_user" is for the booking member or a manager; other reasons are operator's.

    `stop_at` is when the session stopped for billing when that was before now (its credit ran
    out, its lost server was last seen); None, or a time after now, is now."""

    actor: Actor
    now: datetime
    reason: TerminationReason
    stop_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StartGracefulEnd:
    """rr asked the stopping server's agent to end the mission; it waits until ``until``."""

    actor: Actor
    now: datetime
    until: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordEnded:
    """The instance is gone; the end records `bot.domain.billing.bill(state, now)`."""

    actor: Actor
    now: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordReminder:
    actor: Actor
    now: datetime
    key: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordDelivered:
    """A recorded notice (a reminder's key, or `READY_NOTICE`) reached its readers."""

    actor: Actor
    now: datetime
    key: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WarnIdle:
    """The bot warns that a running server nobody is on stops at ``stop_at``."""

    actor: Actor
    now: datetime
    cause: IdleCause
    idle_since: datetime
    stop_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class KeepRunning:
    """A member keeps a server warned of an idle stop running until ``until``."""

    actor: Actor
    now: datetime
    until: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class WithdrawIdleWarning:
    actor: Actor
    now: datetime
    reason: Literal["pilot_joined", "undelivered"]


SessionCommand = (
    Book
    | Cancel
    | RequestLaunch
    | RecordLaunched
    | RecordLaunchFailed
    | RecordReady
    | Extend
    | RequestTermination
    | StartGracefulEnd
    | RecordEnded
    | RecordReminder
    | RecordDelivered
    | WarnIdle
    | KeepRunning
    | WithdrawIdleWarning
)


# --- pure helpers the services call -------------------------------------------------------------


def minimum_session_cents(rate_cents_per_hour: int, limits: Limits) -> int:
    """Credit a start now needs at least: the shortest session allowed."""
    return cost_at_rate(rate_cents_per_hour, limits.min_duration_minutes)


def describe_minutes(minutes: int) -> str:
    """90 → "1 hour 30 minutes", 720 → "12 hours", 1 → "1 minute"."""
    hours, rest = divmod(minutes, 60)
    parts = []
    if hours:
        parts.append(counted(hours, "hour"))
    if rest or not hours:
        parts.append(counted(rest, "minute"))
    return " ".join(parts)


# --- decide -------------------------------------------------------------------------------------


def decide(command: SessionCommand, state: SessionState | None) -> list[DomainEvent]:
    """The events `command` causes; raises a `DomainError` when a rule refuses it."""
    if isinstance(command, Book):
        return _book(command, state)
    if state is None:
        raise NotFound("session")
    _require_same_guild(command.actor, state)
    match command:
        case Cancel():
            return _cancel(command, state)
        case RequestLaunch():
            return _request_launch(command, state)
        case RecordLaunched():
            return _record_launched(command, state)
        case RecordLaunchFailed():
            return _record_launch_failed(command, state)
        case RecordReady():
            return _record_ready(command, state)
        case Extend():
            return _extend(command, state)
        case RequestTermination():
            return _request_termination(command, state)
        case StartGracefulEnd():
            return _start_graceful_end(command, state)
        case RecordEnded():
            return _record_ended(command, state)
        case RecordReminder():
            return _record_reminder(command, state)
        case WarnIdle():
            return _warn_idle(command, state)
        case KeepRunning():
            return _keep_running(command, state)
        case WithdrawIdleWarning():
            if state.status is not SessionStatus.RUNNING or state.idle_warning is None:
                return []
            return [IdleStopWithdrawn(reason=command.reason)]
        case RecordDelivered():
            return (
                []
                if command.key not in state.undelivered_notices
                else [NoticeDelivered(key=command.key)]
            )
    raise TypeError(f"Not a session command: {command!r}")


def _require_same_guild(actor: Actor, state: SessionState) -> None:
    if not actor.is_operator and actor.guild_id != state.guild_id:
        raise NotAllowed("That session belongs to another squadron; you can only act on your own.")


def _is_booker_or_manager(actor: Actor, state: SessionState) -> bool:
    """The booking member or a manager, in the session's own guild."""
    return actor.guild_id == state.guild_id and (
        actor.is_manager or actor.user_id == state.booked_by
    )


def _require_manager_of(actor: Actor, state: SessionState, verb: str) -> None:
    if not (actor.is_operator or _is_booker_or_manager(actor, state)):
        raise NotAllowed(
            f"Only the member who booked this session or a squadron manager can {verb} it."
        )


def _require_aware(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidRequest(f"Give the {what} with its time zone.")
    return value.astimezone(UTC)


def _whole_minutes(value: int | float, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise InvalidRequest(f"Give the {what} as a whole number of minutes.")
    return int(value)


def _ended_conflict(state: SessionState) -> Conflict:
    if state.status is SessionStatus.CANCELLED:
        return Conflict("This session was cancelled; book a new one.")
    return Conflict("This session has already ended; book a new one.")


def _book(command: Book, state: SessionState | None) -> list[DomainEvent]:
    actor, limits = command.actor, command.limits
    if not actor.is_operator and actor.guild_id != command.guild_id:
        raise NotAllowed("You can only book sessions for your own squadron.")
    if state is not None:
        raise Conflict("That session is already booked.", reason="session_exists")
    if not 0 < len(command.session_id) <= MAX_SESSION_ID_LENGTH:
        raise InvalidRequest(f"A session id must be 1 to {MAX_SESSION_ID_LENGTH} characters.")
    if command.rate < 0:
        raise InvalidRequest("The hourly rate cannot be negative; check the pricing.")
    duration = _whole_minutes(command.duration_minutes, "duration")
    if not limits.min_duration_minutes <= duration <= limits.max_duration_minutes:
        raise InvalidRequest(
            f"A session lasts from {describe_minutes(limits.min_duration_minutes)} to "
            f"{describe_minutes(limits.max_duration_minutes)}; pick a duration in that range."
        )
    now = _require_aware(command.now, "current time")
    immediate = command.start_at is None
    start_at = now if command.start_at is None else _require_aware(command.start_at, "start time")
    if start_at < now - NOW_TOLERANCE:
        raise InvalidRequest("That start time is in the past; pick a time from now on.")
    if start_at > now + timedelta(days=limits.booking_horizon_days):
        raise InvalidRequest(
            f"You can book at most {counted(limits.booking_horizon_days, 'day')} ahead; "
            "pick an earlier start."
        )
    return [
        SessionBooked(
            session_id=command.session_id,
            guild_id=command.guild_id,
            booked_by=actor.user_id,
            size=command.size,
            region=command.region,
            start_at=start_at,
            duration_minutes=duration,
            rate_cents_per_hour=command.rate,
            immediate=immediate,
            mission_name=command.mission_name,
            mission_sha256=command.mission_sha256,
            mission_key=command.mission_key,
        )
    ]


def _cancel(command: Cancel, state: SessionState) -> list[DomainEvent]:
    _require_manager_of(command.actor, state, "cancel")
    match state.status:
        case SessionStatus.BOOKED:
            by_member = _is_booker_or_manager(command.actor, state)
            return [SessionCancelled(reason="cancelled" if by_member else "admin")]
        case SessionStatus.LAUNCHING | SessionStatus.RUNNING:
            raise Conflict("This session has already started; stop it instead.")
        case SessionStatus.TERMINATING:
            raise Conflict("This session is already stopping.")
    raise _ended_conflict(state)


def _request_launch(command: RequestLaunch, state: SessionState) -> list[DomainEvent]:
    _require_manager_of(command.actor, state, "launch")
    match state.status:
        case SessionStatus.BOOKED:
            pass
        case SessionStatus.LAUNCHING if state.instance_id is None:
            pass
        case SessionStatus.LAUNCHING | SessionStatus.RUNNING:
            raise Conflict("This session's server has already been launched.")
        case SessionStatus.TERMINATING:
            raise Conflict("This session is stopping; it will not be launched.")
        case _:
            raise _ended_conflict(state)
    if _require_aware(command.now, "current time") >= state.end_at:
        raise Conflict("This session's booked time is already over; book a new one.")
    attempt = state.attempt + 1
    return [
        InstanceLaunchRequested(
            attempt=attempt,
            client_token=f"{state.session_id}-{attempt}",
            size=state.size,
            region=state.region,
            login_ref=command.login_ref,
        )
    ]


def _require_current_attempt(attempt: int, state: SessionState) -> None:
    if attempt != state.attempt:
        raise Conflict(
            f"Launch attempt {attempt} is stale; the session is on attempt {state.attempt}."
        )


def _record_launched(command: RecordLaunched, state: SessionState) -> list[DomainEvent]:
    if state.status not in (SessionStatus.LAUNCHING, SessionStatus.TERMINATING):
        raise Conflict(f"This session is {state.status}, so no launch can be recorded for it.")
    _require_current_attempt(command.attempt, state)
    if state.instance_id is not None:
        if state.instance_id == command.instance_id:
            return []
        raise Conflict(
            f"This attempt already launched instance {state.instance_id}, "
            f"not {command.instance_id}."
        )
    if state.launch_failure is not None:
        raise Conflict("This launch attempt was already recorded as failed.")
    return [
        InstanceLaunched(
            attempt=command.attempt,
            instance_id=command.instance_id,
            provider=command.provider,
            launched_at=_require_aware(command.launched_at, "launch time"),
        )
    ]


def _record_launch_failed(command: RecordLaunchFailed, state: SessionState) -> list[DomainEvent]:
    if state.status not in (SessionStatus.LAUNCHING, SessionStatus.TERMINATING):
        raise Conflict(f"This session is {state.status}, so no launch failure can be recorded.")
    _require_current_attempt(command.attempt, state)
    if state.instance_id is not None:
        raise Conflict("This attempt's instance was launched, so it cannot have failed to launch.")
    if state.launch_failure is not None:
        return []
    return [
        InstanceLaunchFailed(
            attempt=command.attempt, reason=command.reason, message=command.message
        )
    ]


def _record_ready(command: RecordReady, state: SessionState) -> list[DomainEvent]:
    if not 0 < command.port < 65536:
        raise InvalidRequest(f"Port {command.port} is not a TCP port; give one from 1 to 65535.")
    match state.status:
        case SessionStatus.RUNNING if (state.address, state.port) == (
            command.address,
            command.port,
        ):
            return []
        case SessionStatus.RUNNING:
            raise Conflict("This session is already running at another address.")
        case SessionStatus.TERMINATING:
            return []
        case SessionStatus.LAUNCHING if state.instance_id is not None:
            ready_at = _require_aware(command.ready_at, "ready time")
            return [InstanceReady(address=command.address, port=command.port, ready_at=ready_at)]
        case SessionStatus.LAUNCHING:
            raise Conflict("This session has no launched instance that could be ready.")
    raise Conflict(f"This session is {state.status}, so it cannot become ready.")


def _extend(command: Extend, state: SessionState) -> list[DomainEvent]:
    _require_manager_of(command.actor, state, "extend")
    match state.status:
        case SessionStatus.BOOKED | SessionStatus.LAUNCHING | SessionStatus.RUNNING:
            pass
        case SessionStatus.TERMINATING:
            raise Conflict("This session is stopping, so it can no longer be extended.")
        case _:
            raise _ended_conflict(state)
    limits = command.limits
    minutes = _whole_minutes(command.minutes, "extension")
    if minutes < limits.min_extension_minutes:
        raise InvalidRequest(
            f"Extend by at least {describe_minutes(limits.min_extension_minutes)}."
        )
    room = limits.max_duration_minutes - state.duration_minutes
    if minutes > room:
        longest = describe_minutes(limits.max_duration_minutes)
        if room < limits.min_extension_minutes:
            raise InvalidRequest(
                f"A session can last at most {longest} and this one cannot be extended further."
            )
        raise InvalidRequest(
            f"A session can last at most {longest}; extend this one by at most "
            f"{describe_minutes(room)}."
        )
    return [
        SessionExtended(added_minutes=minutes, end_at=state.end_at + timedelta(minutes=minutes))
    ]


def _request_termination(command: RequestTermination, state: SessionState) -> list[DomainEvent]:
    reason = command.reason
    if reason not in TERMINATION_REASONS or reason == "cancelled":
        raise InvalidRequest(f"{reason!r} is not a reason to stop a session.")
    if reason == "stopped_by_user":
        _require_manager_of(command.actor, state, "stop")
    elif not command.actor.is_operator:
        raise NotAllowed(
            "Only an rr operator or the bot itself can stop a session for that reason."
        )
    match state.status:
        case SessionStatus.LAUNCHING | SessionStatus.RUNNING:
            now = _require_aware(command.now, "current time")
            _require_still_due(reason, state, now)
            stop_at = now
            if command.stop_at is not None:  # a provider's clock may run ahead of ours
                stop_at = min(_require_aware(command.stop_at, "stop time"), now)
            return [TerminationRequested(reason=reason, stop_at=stop_at)]
        case SessionStatus.TERMINATING:
            return []
        case SessionStatus.BOOKED:
            raise Conflict("This session has not started yet; cancel it instead.")
    raise _ended_conflict(state)


def _require_still_due(reason: TerminationReason, state: SessionState, now: datetime) -> None:
    """A deadline the bot stops a server for must still hold: an extension or a server that
    became ready since the stop was planned (perhaps by another process) keeps it running."""
    if reason == "booked_time_over" and now < state.end_at:
        raise Conflict("This session's booked time is not over yet, so it keeps running.")
    if reason == "not_ready" and state.status is SessionStatus.RUNNING:
        raise Conflict("This session's server is ready, so it is not stopped for being late.")
    if reason == "idle" and (state.idle_warning is None or now < state.idle_warning.stop_at):
        raise Conflict("This session's server is no longer due to stop for being idle.")


def _warn_idle(command: WarnIdle, state: SessionState) -> list[DomainEvent]:
    if not command.actor.is_operator:
        raise NotAllowed("Only the bot itself warns of an idle stop.")
    now = _require_aware(command.now, "current time")
    if state.status is not SessionStatus.RUNNING or state.idle_warning is not None:
        return []
    if state.idle_postponed_until is not None and now < state.idle_postponed_until:
        return []
    stop_at = _require_aware(command.stop_at, "stop time")
    if stop_at <= now:
        raise InvalidRequest("An idle stop must be announced before it happens.")
    return [
        IdleStopWarned(
            cause=command.cause,
            idle_since=_require_aware(command.idle_since, "idle time"),
            stop_at=stop_at,
        )
    ]


def _keep_running(command: KeepRunning, state: SessionState) -> list[DomainEvent]:
    _require_manager_of(command.actor, state, "keep running")
    if state.status is SessionStatus.TERMINATING:
        raise Conflict("This session is stopping already; start a new one.")
    if state.status is not SessionStatus.RUNNING:
        raise _ended_conflict(state)
    until = _require_aware(command.until, "time to keep it running until")
    if state.idle_warning is None:
        return []  # a pilot joined, or another member kept it running first
    return [IdleStopPostponed(until=until)]


def _start_graceful_end(command: StartGracefulEnd, state: SessionState) -> list[DomainEvent]:
    match state.status:
        case SessionStatus.TERMINATING:
            pass
        case SessionStatus.ENDED | SessionStatus.CANCELLED:
            raise _ended_conflict(state)
        case _:
            raise Conflict("This session is not stopping; request its termination first.")
    if state.graceful_end_until is not None:
        return []
    if state.instance_id is None:
        raise Conflict("This session has no server whose mission could be ended.")
    until = _require_aware(command.until, "end of the graceful wait")
    if until <= _require_aware(command.now, "current time"):
        raise InvalidRequest("The graceful end must wait until a time still to come.")
    return [GracefulEndStarted(until=until)]


def _record_ended(command: RecordEnded, state: SessionState) -> list[DomainEvent]:
    if state.status is SessionStatus.ENDED or state.status is SessionStatus.CANCELLED:
        raise _ended_conflict(state)
    if state.status is not SessionStatus.TERMINATING or state.termination_reason is None:
        raise Conflict("This session's termination has not been requested; request it first.")
    charged = bill(state, _require_aware(command.now, "current time"))
    return [
        SessionEnded(
            reason=state.termination_reason,
            ended_at=charged.ended_at,
            billed_minutes=charged.minutes,
            amount_cents=charged.cents,
            instance_id=state.instance_id,
        )
    ]


def _record_reminder(command: RecordReminder, state: SessionState) -> list[DomainEvent]:
    if not 0 < len(command.key) <= MAX_REMINDER_KEY_LENGTH:
        raise InvalidRequest(f"A reminder key must be 1 to {MAX_REMINDER_KEY_LENGTH} characters.")
    if state.status not in LIVE_STATUSES:
        raise Conflict(f"This session is {state.status}, so it takes no reminder.")
    if command.key in state.reminders_sent:
        return []
    return [ReminderSent(key=command.key)]


# --- evolve -------------------------------------------------------------------------------------


def evolve(state: SessionState | None, stored: StoredEvent) -> SessionState | None:
    """The state after one stored event of the session's stream; a termination request
    written before requests recorded their stop time is dated by when it was recorded."""
    event = from_stored(stored)
    if isinstance(event, TerminationRequested) and event.stop_at is None:
        event = replace(event, stop_at=stored.recorded_at)
    return apply(state, event)


def apply(state: SessionState | None, event: DomainEvent) -> SessionState:
    """The state after one typed session event."""
    if isinstance(event, SessionBooked):
        return SessionState(
            session_id=event.session_id,
            guild_id=event.guild_id,
            booked_by=event.booked_by,
            status=SessionStatus.BOOKED,
            size=event.size,
            region=event.region,
            start_at=event.start_at,
            end_at=event.start_at + timedelta(minutes=event.duration_minutes),
            duration_minutes=event.duration_minutes,
            rate_cents_per_hour=event.rate_cents_per_hour,
            immediate=event.immediate,
            mission_name=event.mission_name,
            mission_sha256=event.mission_sha256,
            mission_key=event.mission_key,
        )
    if state is None:
        raise ValueError(f"{event.TYPE} arrived before the session was booked.")
    match event:
        case SessionCancelled():
            return replace(state, status=SessionStatus.CANCELLED, termination_reason=event.reason)
        case ReminderSent():
            return replace(state, reminders_sent=state.reminders_sent | {event.key})
        case NoticeDelivered():
            return replace(state, notices_delivered=state.notices_delivered | {event.key})
        case InstanceLaunchRequested():
            return replace(
                state,
                status=SessionStatus.LAUNCHING,
                attempt=event.attempt,
                client_token=event.client_token,
                login_ref=event.login_ref,
            )
        case InstanceLaunched():
            return replace(
                state,
                instance_id=event.instance_id,
                provider=event.provider,
                launched_at=event.launched_at,
            )
        case InstanceLaunchFailed():
            return replace(
                state,
                status=SessionStatus.TERMINATING,
                launch_failure=event.message,
                termination_reason=state.termination_reason or "launch_failed",
            )
        case InstanceReady():
            return replace(
                state,
                status=SessionStatus.RUNNING,
                address=event.address,
                port=event.port,
                ready_at=event.ready_at,
            )
        case SessionExtended():
            # The warnings before the old end no longer apply: forgotten, they fall due again
            # against the new end.
            return replace(
                state,
                duration_minutes=state.duration_minutes + event.added_minutes,
                end_at=event.end_at,
                reminders_sent=frozenset(
                    key for key in state.reminders_sent if not key.startswith(END_WARNING_PREFIX)
                ),
            )
        case IdleStopWarned():
            return replace(
                state,
                idle_cause=event.cause,
                idle_since=event.idle_since,
                idle_stop_at=event.stop_at,
            )
        case IdleStopPostponed():
            return replace(
                state,
                idle_cause=None,
                idle_since=None,
                idle_stop_at=None,
                idle_postponed_until=event.until,
            )
        case IdleStopWithdrawn():
            return replace(state, idle_cause=None, idle_since=None, idle_stop_at=None)
        case TerminationRequested():
            return replace(
                state,
                status=SessionStatus.TERMINATING,
                termination_reason=event.reason,
                stop_at=event.stop_at,
            )
        case GracefulEndStarted():
            return replace(state, graceful_end_until=event.until)
        case SessionEnded():
            return replace(
                state,
                status=SessionStatus.ENDED,
                termination_reason=event.reason,
                ended_at=event.ended_at,
                billed_minutes=event.billed_minutes,
                charged_cents=event.amount_cents,
            )
    raise TypeError(f"{event.TYPE} does not belong to a session stream.")
