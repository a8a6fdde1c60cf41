"""What the scheduler must do for one session, and when: pure functions of the session's state.

A session's *plan* lists every action still ahead of it, each with the time it falls due and,
for actions that only make sense before some moment (a "starts in 15 minutes" reminder after
the start), the time it lapses. The plan depends only on recorded facts, never on the current
time, so the view computes it once per change and indexes the session by its earliest due time.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from bot.domain.billing import credit_runs_out
from bot.domain.session import END_WARNING_PREFIX, SessionState, SessionStatus
from bot.view.boots import BootLeadRule

ActionKind = Literal["remind", "deliver", "launch", "check_ready", "terminate", "retry_terminate"]

_PRIORITY: dict[ActionKind, int] = {
    "terminate": 0,
    "retry_terminate": 0,
    "launch": 1,
    "check_ready": 2,
    "remind": 3,
    "deliver": 3,
}
"""Order of one session's due actions; the scheduler performs one at a time per session."""

_TERMINATIONS = frozenset({"terminate", "retry_terminate"})
_LIVE = frozenset({SessionStatus.BOOKED, SessionStatus.LAUNCHING, SessionStatus.RUNNING})
_UP = frozenset({SessionStatus.LAUNCHING, SessionStatus.RUNNING})


@dataclass(frozen=True)
class ScheduleConfig:
    """When the scheduler acts; offsets before a start or an end are in minutes."""

    reminder_offsets_minutes: Sequence[int] = (1440, 60, 15)
    boot_lead: timedelta = timedelta(minutes=20)
    """How early a booked server is launched while too few boots of its size and region are
    measured (``bot.view.boots``)..."""
    boot_lead_floor: timedelta = timedelta(minutes=10)
    boot_lead_ceiling: timedelta = timedelta(minutes=40)
    """...and the bounds of a measured lead."""
    end_warning_offsets_minutes: Sequence[int] = (15, 5)
    low_credit_warning: timedelta = timedelta(minutes=10)
    readiness_timeout: timedelta = timedelta(minutes=40)
    readiness_probe_interval: timedelta = timedelta(seconds=30)
    terminate_retry: timedelta = timedelta(minutes=1)
    immediate_launch_grace: timedelta = timedelta(minutes=1)
    """The service launches a "start now" session itself; the scheduler launches one only if it
    is still booked this long after its start (the process died between booking and launch)."""
    failure_backoff: timedelta = timedelta(seconds=15)
    """Wait after an action's first failure; it doubles with each further failure..."""
    max_failure_backoff: timedelta = timedelta(minutes=10)
    """...up to this."""
    heartbeat: timedelta = timedelta(minutes=1)
    """The scheduler ticks at least this often, so its health shows even when nothing is due."""
    delivery_retry: timedelta = timedelta(seconds=30)
    """A notice recorded but not confirmed delivered this long after is sent again (the bot
    crashed, or Discord failed, in between; the failure back-off applies after that)..."""
    delivery_window: timedelta = timedelta(minutes=30)
    """...until this long after it was recorded: a notice is not worth sending later."""

    @property
    def boot_lead_rule(self) -> BootLeadRule:
        return BootLeadRule(self.boot_lead, self.boot_lead_floor, self.boot_lead_ceiling)


@dataclass(frozen=True, slots=True)
class DueAction:
    """One thing the scheduler should do for a session: ``key_or_reason`` is the reminder key
    for "remind", the notice's key for "deliver", the termination reason for
    "terminate"/"retry_terminate", else ""."""

    kind: ActionKind
    session_id: str
    key_or_reason: str
    due_at: datetime


@dataclass(frozen=True, slots=True)
class PlannedAction:
    """An action and the window in which performing it makes sense.

    The window opens at ``action.due_at`` (or later, while the scheduler holds the action back)
    and closes at ``lapses_at``: the action's own deadline (a start reminder after the start),
    a termination falling due (which makes everything else moot), or the next reminder of the
    same family falling due (only the latest of several overdue reminders is worth sending).
    """

    action: DueAction
    lapses_at: datetime | None = None

    @property
    def slot(self) -> tuple[str, str]:
        return (self.action.kind, self.action.key_or_reason)

    def opens_at(self, holds: Mapping[tuple[str, str], datetime]) -> datetime:
        hold = holds.get(self.slot)
        due = self.action.due_at
        return due if hold is None or hold <= due else hold

    def is_open(self, now: datetime, holds: Mapping[tuple[str, str], datetime]) -> bool:
        return self.opens_at(holds) <= now and not self.lapsed(now)

    def lapsed(self, now: datetime) -> bool:
        return self.lapses_at is not None and self.lapses_at <= now


def next_opening(
    planned: Iterable[PlannedAction], holds: Mapping[tuple[str, str], datetime]
) -> datetime | None:
    """When the first window of the plan opens; a window that closes before it opens never
    does."""
    first = None
    for item in planned:
        opens = item.opens_at(holds)
        if not item.lapsed(opens) and (first is None or opens < first):
            first = opens
    return first


@dataclass(frozen=True, slots=True)
class Timeline:
    """Moments the session's state does not carry, taken from when its events were recorded;
    ``notices_recorded_at`` maps each recorded notice's key to when it was recorded."""

    booked_at: datetime | None = None
    launch_requested_at: datetime | None = None
    terminating_since: datetime | None = None
    notices_recorded_at: Mapping[str, datetime] = field(default_factory=dict)


def plan(
    session: SessionState,
    timeline: Timeline,
    reserved_cents: int | None,
    config: ScheduleConfig,
    boot_lead: timedelta,
) -> list[PlannedAction]:
    """Every action still ahead of ``session``; ``reserved_cents`` is its credit reservation
    (None when the view has not seen the squadron's ledger for it), ``boot_lead`` how early
    a server of its size and region is launched before a booked start."""
    if session.status is SessionStatus.TERMINATING:
        return _termination(session, timeline, config)
    if session.status not in _LIVE:
        return []
    planned = [
        *_start_reminders(session, timeline, config),
        *_launch(session, config, boot_lead),
        *_readiness(session, timeline, config, boot_lead),
        *_end_warnings(session, config),
        *_deliveries(session, timeline, config),
        _planned("terminate", session, "booked_time_over", session.end_at),
        *_credit(session, reserved_cents, config),
    ]
    return _close_moot_windows(planned)


def _termination(
    session: SessionState, timeline: Timeline, config: ScheduleConfig
) -> list[PlannedAction]:
    """A stop under way is tried again a while after it was requested; during a graceful end
    that try carries the wait on (after a restart too), and the end of the wait terminates."""
    since = timeline.terminating_since or session.end_at
    reason = session.termination_reason or "booked_time_over"
    planned = [_planned("retry_terminate", session, reason, since + config.terminate_retry)]
    if session.graceful_end_until is not None:
        planned.append(_planned("terminate", session, reason, session.graceful_end_until))
    return planned


def due_now(
    planned: Iterable[PlannedAction],
    now: datetime,
    holds: Mapping[tuple[str, str], datetime],
) -> list[DueAction]:
    """The actions of one session's plan whose window is open at ``now``, most urgent first;
    of several terminations only the earliest. ``holds`` keeps a (kind, key) back until then."""
    open_now = [p.action for p in planned if p.is_open(now, holds)]
    terminations = [a for a in open_now if a.kind in _TERMINATIONS]
    if terminations:
        return [min(terminations, key=lambda a: a.due_at)]
    return sorted(open_now, key=lambda a: (_PRIORITY[a.kind], a.due_at))


def _close_moot_windows(planned: list[PlannedAction]) -> list[PlannedAction]:
    first_termination = min(
        (p.action.due_at for p in planned if p.action.kind in _TERMINATIONS), default=None
    )
    superseded_at: dict[tuple[str, str], datetime] = {}
    latest_in_family: dict[str, datetime] = {}
    reminders = [p for p in planned if p.action.kind == "remind"]
    for item in sorted(reminders, key=lambda p: p.action.due_at, reverse=True):
        family = _family(item.action.key_or_reason)
        if family in latest_in_family:
            superseded_at[item.slot] = latest_in_family[family]
        latest_in_family[family] = item.action.due_at
    closed = []
    for item in planned:
        if item.action.kind in _TERMINATIONS:
            closed.append(item)
            continue
        ends = (item.lapses_at, first_termination, superseded_at.get(item.slot))
        lapses_at = min((end for end in ends if end is not None), default=None)
        closed.append(PlannedAction(item.action, lapses_at))
    return closed


def _family(key: str) -> str:
    """ "start-60" → "start": reminders of one family stand for each other."""
    return key.split("-", 1)[0]


def _planned(
    kind: ActionKind,
    session: SessionState,
    key_or_reason: str,
    due_at: datetime,
    lapses_at: datetime | None = None,
) -> PlannedAction:
    return PlannedAction(DueAction(kind, session.session_id, key_or_reason, due_at), lapses_at)


def _reminders(
    session: SessionState,
    prefix: str,
    offsets: Sequence[int],
    anchor: datetime,
    not_before: datetime | None,
) -> list[PlannedAction]:
    """One reminder per offset before ``anchor`` not yet sent, none superseded by a later one
    already sent, none already due at ``not_before`` (when it was booked, or for end warnings
    when it launched)."""
    sent = session.reminders_sent
    planned = []
    for offset in offsets:
        key = f"{prefix}-{offset}"
        due_at = anchor - timedelta(minutes=offset)
        if key in sent or any(f"{prefix}-{o}" in sent for o in offsets if o < offset):
            continue
        if not_before is not None and due_at <= not_before:
            continue
        planned.append(_planned("remind", session, key, due_at, lapses_at=anchor))
    return planned


def _start_reminders(
    session: SessionState, timeline: Timeline, config: ScheduleConfig
) -> list[PlannedAction]:
    if session.immediate:
        return []
    return _reminders(
        session, "start", config.reminder_offsets_minutes, session.start_at, timeline.booked_at
    )


def _launch(
    session: SessionState, config: ScheduleConfig, boot_lead: timedelta
) -> list[PlannedAction]:
    if session.status is not SessionStatus.BOOKED:
        return []
    if session.immediate:
        due_at = session.start_at + config.immediate_launch_grace
    else:
        due_at = session.start_at - boot_lead
    return [_planned("launch", session, "", due_at, lapses_at=session.end_at)]


def _readiness(
    session: SessionState, timeline: Timeline, config: ScheduleConfig, boot_lead: timedelta
) -> list[PlannedAction]:
    if session.status not in _UP or session.ready_at is not None:
        return []
    started = (
        session.launched_at
        or timeline.launch_requested_at
        or (session.start_at if session.immediate else session.start_at - boot_lead)
    )
    return [
        _planned("check_ready", session, "", started + config.readiness_probe_interval),
        _planned("terminate", session, "not_ready", started + config.readiness_timeout),
    ]


def _end_warnings(session: SessionState, config: ScheduleConfig) -> list[PlannedAction]:
    if session.status is not SessionStatus.RUNNING:
        return []
    offsets = config.end_warning_offsets_minutes
    prefix = END_WARNING_PREFIX.removesuffix("-")
    return _reminders(session, prefix, offsets, session.end_at, session.launched_at)


def _deliveries(
    session: SessionState, timeline: Timeline, config: ScheduleConfig
) -> list[PlannedAction]:
    """Send again each notice recorded but not confirmed delivered, within its window."""
    planned = []
    for key in sorted(session.undelivered_notices):
        recorded_at = timeline.notices_recorded_at.get(key)
        if recorded_at is not None:
            planned.append(
                _planned(
                    "deliver",
                    session,
                    key,
                    recorded_at + config.delivery_retry,
                    lapses_at=recorded_at + config.delivery_window,
                )
            )
    return planned


def _credit(
    session: SessionState, reserved_cents: int | None, config: ScheduleConfig
) -> list[PlannedAction]:
    if session.status not in _UP or reserved_cents is None:
        return []
    runs_out = credit_runs_out(session, reserved_cents)
    if runs_out is None or runs_out >= session.end_at:
        return []
    planned = [_planned("terminate", session, "out_of_credit", runs_out)]
    if "credit-low" not in session.reminders_sent:
        warn_at = runs_out - config.low_credit_warning
        planned.append(_planned("remind", session, "credit-low", warn_at, lapses_at=runs_out))
    return planned
