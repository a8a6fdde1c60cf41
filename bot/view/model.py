"""The read model: the sessions and squadrons folded from the events, indexed for the queries.

Only the view's mailbox touches a ``View``. It is fed the feed at start-up (after its checkpoint,
or the whole of it), then every event this process appends and every event the feeder brings
from other processes, so it sees some events twice and, from DynamoDB, a stream's events
possibly out of order: it applies each (stream, version) once and in version order, holding
back an event until the versions before it have arrived.

Due actions are indexed by a heap of each session's earliest due time, so the scheduler's
``next_due_at`` and ``due_actions`` cost what is due, not what is stored.

The view keeps what it needs to act and answer, not every session ever ended: a session that
ended or was cancelled is *forgotten* ``retention`` after it closed, measured on the recorded
times of the events applied (so a view rebuilt from the same events forgets the same sessions,
whatever the batches). Its history stays in the store. A forgotten session's stream is
dropped from the versions too; should it ever have another event, the feeder delivers its
stream again from version 1 and the session comes back until it is forgotten again.

``saved()`` and ``restore()`` turn the view into plain data and back, for checkpoints
(``bot/view/checkpoint.py``).
"""

import heapq
import itertools
import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from bot.domain import session as sessions
from bot.domain import squadron as squadrons
from bot.domain.session import SessionState, SessionStatus
from bot.domain.squadron import SquadronState
from bot.view.boots import BootLead, BootRows, BootTimes, boot_lead
from bot.view.schedule import (
    DueAction,
    PlannedAction,
    ScheduleConfig,
    Timeline,
    due_now,
    next_opening,
    plan,
)
from eventstore import Position, StoredEvent

_BEFORE_ALL = datetime.min.replace(tzinfo=UTC)

log = logging.getLogger("rr.view")

_HEAP_SLACK = 1024
"""Stale heap entries (sessions re-keyed since) are dropped lazily; past this many beyond the
live ones the heap is rebuilt, so it stays proportional to the sessions with something due."""

_UNDER_WAY = frozenset({SessionStatus.LAUNCHING, SessionStatus.RUNNING, SessionStatus.TERMINATING})

FOLDED_PREFIXES = (sessions.STREAM_PREFIX, squadrons.STREAM_PREFIX)
"""The streams the view folds; it ignores every other stream's events."""

ENDED_RETENTION = timedelta(hours=24)
"""How long an ended or cancelled session stays in the view by default."""


@dataclass(frozen=True, slots=True)
class Balance:
    """A squadron's credit: all it holds, what active sessions set aside, what is left to use."""

    balance_cents: int
    reserved_cents: int
    available_cents: int

    @classmethod
    def of(cls, state: SquadronState) -> "Balance":
        return cls(state.balance_cents, state.reserved_cents, state.available_cents)


@dataclass(frozen=True, slots=True)
class ViewStats:
    """Cheap numbers for /healthz and logs."""

    events_applied: int
    duplicates_dropped: int
    events_unreadable: int
    """Events this code could not fold (logged); their streams may be out of date."""
    events_waiting: int
    """Events held back until an earlier version of their stream arrives."""
    position: Position | None
    caught_up_at: datetime | None
    sessions_tracked: int
    active_sessions: int
    sessions_forgotten: int
    """Ended sessions dropped from memory since the view was first built (their history stays
    in the store)."""


@dataclass(frozen=True, slots=True)
class SavedSession:
    """One session as a checkpoint keeps it."""

    state: SessionState
    timeline: Timeline
    closed_at: datetime | None
    earlier_forgotten: int


@dataclass(frozen=True, slots=True)
class SavedView:
    """The view as plain data: what it folded, up to which feed position. Holds (process-local
    scheduler bookkeeping) and events held back are not kept: the feed brings those again."""

    position: Position | None
    versions: Mapping[str, int]
    sessions: Sequence[SavedSession]
    squadrons: Sequence[SquadronState]
    forgotten: Mapping[str, int]
    """Per guild, how many of its sessions were forgotten."""
    latest: datetime | None
    events_applied: int
    duplicates_dropped: int
    events_unreadable: int
    boots: BootRows = field(default_factory=list)
    """The latest boots by region and size (``BootTimes.rows``)."""


@dataclass(slots=True)
class _Session:
    state: SessionState
    timeline: Timeline
    planned: list[PlannedAction] = field(default_factory=list)
    holds: dict[tuple[str, str], datetime] = field(default_factory=dict)
    """Slots the scheduler asked not to be offered again before a time (probe cadence, backoff)."""
    closed_at: datetime | None = None
    """When the event that ended or cancelled it was recorded."""
    earlier_forgotten: int = 0
    """Forgotten sessions of its guild booked before it (its number counts them)."""


class View:
    def __init__(self, config: ScheduleConfig, *, retention: timedelta = ENDED_RETENTION) -> None:
        self._config = config
        self._retention = retention
        self._versions: dict[str, int] = {}
        self._waiting: dict[str, dict[int, StoredEvent]] = {}
        self._sessions: dict[str, _Session] = {}
        self._by_guild: dict[str, dict[str, None]] = {}
        self._closing: list[tuple[datetime, str]] = []
        """A heap of (closed at, session id) of sessions to forget once their retention passed."""
        self._forgotten: dict[str, int] = {}
        self._forgotten_streams: list[str] = []
        """Streams forgotten since the feeder last asked (``mark_caught_up``)."""
        self._latest: datetime | None = None
        """The latest recorded time of the events applied: the view's own clock for forgetting."""
        self._active: set[str] = set()
        self._squadrons: dict[str, SquadronState] = {}
        self.boot_times = BootTimes()
        """The latest boots by region and size."""
        self._boots_measured: set[tuple[str, str]] = set()
        """(size, region) whose boots changed in the events being applied: their bookings'
        launch times move."""
        self._heap: list[tuple[datetime, int, str]] = []
        self._keys: dict[str, tuple[datetime, int]] = {}
        self._order = itertools.count()
        self._announced: datetime | None = None
        self._on_earlier_due: Callable[[], None] | None = None
        self._dirty: dict[str, None] = {}
        """Sessions changed by the events being applied, in order, to re-plan after the batch."""
        self._applied = 0
        self._duplicates = 0
        self._unreadable = 0
        self.caught_up_position: Position | None = None
        """The feed position the view has applied everything up to (set by the feeder)."""
        self.caught_up_at: datetime | None = None

    # --- feeding ------------------------------------------------------------------------------

    def apply_all(self, events: Iterable[StoredEvent]) -> None:
        """Apply each event once, in version order per stream; sessions touched are re-planned
        once at the end rather than after each of their events."""
        try:
            for event in events:
                if event.stream_id.startswith(FOLDED_PREFIXES):
                    self._accept(event)
        finally:
            self._replan_bookings_of_measured_boots()
            for session_id in self._dirty:
                tracked = self._sessions.get(session_id)
                if tracked is not None:
                    self._replan(session_id, tracked)
            self._dirty.clear()
            self._forget_closed()

    def apply(self, event: StoredEvent) -> None:
        self.apply_all((event,))

    def _accept(self, event: StoredEvent) -> None:
        stream = event.stream_id
        last = self._versions.get(stream, 0)
        if event.version <= last:
            self._duplicates += 1
            return
        if event.version > last + 1:
            early = self._waiting.setdefault(stream, {})
            if event.version in early:
                self._duplicates += 1
            early[event.version] = event
            return
        self._apply_in_order(event)
        waiting = self._waiting.get(stream)
        if waiting is None:
            return
        while (next_event := waiting.pop(event.version + 1, None)) is not None:
            event = next_event
            self._apply_in_order(event)
        if not waiting:
            del self._waiting[stream]

    def mark_caught_up(self, position: Position | None, at: datetime) -> list[str]:
        """The feeder has delivered everything up to ``position`` (read at ``at``); returns the
        streams forgotten since the last call, for the feeder to forget too."""
        self.caught_up_position = position
        self.caught_up_at = at
        forgotten, self._forgotten_streams = self._forgotten_streams, []
        return forgotten

    def set_due_listener(self, listener: Callable[[], None] | None) -> None:
        """``listener()`` runs whenever an applied event makes something due earlier than the
        time ``next_due_at`` last returned (the scheduler's ``wake``)."""
        self._on_earlier_due = listener

    def postpone(self, action: DueAction, until: datetime) -> None:
        """Do not offer ``action`` (its kind and key) again before ``until``.

        Process-local scheduler bookkeeping, not a fact: the readiness probe's cadence and the
        back-off of failing actions. It lapses with the session, and a restart forgets it.
        """
        tracked = self._sessions.get(action.session_id)
        if tracked is None or not tracked.planned:
            return
        tracked.holds[(action.kind, action.key_or_reason)] = until
        self._index(action.session_id, tracked, announce=False)

    # --- queries ------------------------------------------------------------------------------

    def boot_lead(self, size: str, region: str) -> BootLead:
        """How early a booked server of ``size`` in ``region`` is launched, from recent boots."""
        return boot_lead(self.boot_times.recent(size, region), self._config.boot_lead_rule)

    def session(self, session_id: str) -> SessionState | None:
        tracked = self._sessions.get(session_id)
        return None if tracked is None else tracked.state

    def sessions_for_guild(self, guild_id: str) -> list[SessionState]:
        """The guild's sessions booked or under way, and those that ended or were cancelled
        within the retention, by start time."""
        found = [
            self._sessions[session_id].state for session_id in self._by_guild.get(guild_id, ())
        ]
        return sorted(found, key=lambda state: state.start_at)

    def session_numbers(self, guild_id: str) -> dict[str, int]:
        """The guild's sessions in the view numbered from 1 in the order they were booked (by
        recorded time, then id), counting those forgotten before them: recorded facts only, so
        a number stays the same after a restart."""
        ordered = sorted(self._by_guild.get(guild_id, ()), key=self._booking_key)
        return {
            session_id: rank + self._sessions[session_id].earlier_forgotten
            for rank, session_id in enumerate(ordered, 1)
        }

    def _booking_key(self, session_id: str) -> tuple[datetime, str]:
        return (self._sessions[session_id].timeline.booked_at or _BEFORE_ALL, session_id)

    def active_sessions(self) -> list[SessionState]:
        """Booked or under way, across guilds, by start time."""
        found = [self._sessions[session_id].state for session_id in self._active]
        return sorted(found, key=lambda state: (state.start_at, state.session_id))

    def running_instances(self) -> list[SessionState]:
        """Sessions with a launched instance not yet ended, across guilds, by launch time."""
        found = [
            state
            for state in (self._sessions[session_id].state for session_id in self._active)
            if state.status in _UNDER_WAY and state.instance_id is not None
        ]
        return sorted(found, key=lambda state: (state.launched_at, state.session_id))

    def squadron(self, guild_id: str) -> SquadronState | None:
        return self._squadrons.get(guild_id)

    def squadron_guilds(self) -> list[str]:
        """The guild id of every squadron with a stream, in id order."""
        return sorted(self._squadrons)

    def guilds_with_unsettled_paid_requests(self) -> list[str]:
        """Guilds holding a paid start or booking that was neither carried out nor refused."""
        return [
            guild_id for guild_id, state in self._squadrons.items() if state.unsettled_paid_requests
        ]

    def balance(self, guild_id: str) -> Balance:
        state = self._squadrons.get(guild_id)
        return Balance(0, 0, 0) if state is None else Balance.of(state)

    def reservations(self, guild_id: str) -> Mapping[str, int]:
        """Credit set aside per session id, oldest reservation first."""
        state = self._squadrons.get(guild_id)
        return {} if state is None else dict(state.reservations)

    def next_due_at(self, excluding: Collection[str] = ()) -> datetime | None:
        """The earliest time anything is due, ignoring sessions in ``excluding`` (those the
        scheduler is already acting on); in the past when something is overdue."""
        skipped = []
        earliest = None
        while self._heap:
            due_at, order, session_id = self._heap[0]
            if self._keys.get(session_id) != (due_at, order):
                heapq.heappop(self._heap)
            elif session_id in excluding:
                skipped.append(heapq.heappop(self._heap))
            else:
                earliest = due_at
                break
        for entry in skipped:
            heapq.heappush(self._heap, entry)
        self._announced = earliest
        return earliest

    def due_actions(self, now: datetime) -> list[DueAction]:
        """What to do at ``now``: per session its due actions, most urgent first; sessions in
        order of their earliest due time. Actions that lapsed unperformed are dropped."""
        due_sessions = []
        while self._heap and self._heap[0][0] <= now:
            due_at, order, session_id = heapq.heappop(self._heap)
            if self._keys.get(session_id) == (due_at, order):
                del self._keys[session_id]
                due_sessions.append(session_id)
        actions = []
        for session_id in due_sessions:
            tracked = self._sessions[session_id]
            tracked.planned = [p for p in tracked.planned if not p.lapsed(now)]
            actions.extend(due_now(tracked.planned, now, tracked.holds))
            self._index(session_id, tracked, announce=False)
        return actions

    def stats(self) -> ViewStats:
        return ViewStats(
            events_applied=self._applied,
            duplicates_dropped=self._duplicates,
            events_unreadable=self._unreadable,
            events_waiting=sum(len(waiting) for waiting in self._waiting.values()),
            position=self.caught_up_position,
            caught_up_at=self.caught_up_at,
            sessions_tracked=len(self._sessions),
            active_sessions=len(self._active),
            sessions_forgotten=sum(self._forgotten.values()),
        )

    # --- checkpoints --------------------------------------------------------------------------

    def saved(self) -> SavedView:
        """The view as plain data, at the feed position the feeder last marked. Its parts are
        immutable or copied, so it may be encoded off the view's task."""
        return SavedView(
            position=self.caught_up_position,
            versions=dict(self._versions),
            sessions=[
                SavedSession(s.state, s.timeline, s.closed_at, s.earlier_forgotten)
                for s in self._sessions.values()
            ],
            squadrons=list(self._squadrons.values()),
            forgotten=dict(self._forgotten),
            latest=self._latest,
            events_applied=self._applied,
            duplicates_dropped=self._duplicates,
            events_unreadable=self._unreadable,
            boots=self.boot_times.rows(),
        )

    def restore(self, saved: SavedView) -> None:
        """Take up a saved view (into a view that has applied nothing yet); what is due is
        planned again from it."""
        if self._versions:
            raise RuntimeError("A view is restored before it applies any event.")
        self._versions = dict(saved.versions)
        self._forgotten = dict(saved.forgotten)
        self._latest = saved.latest
        self._applied = saved.events_applied
        self._duplicates = saved.duplicates_dropped
        self._unreadable = saved.events_unreadable
        self.boot_times = BootTimes.from_rows(saved.boots)
        self.caught_up_position = saved.position
        self._squadrons = {state.guild_id: state for state in saved.squadrons}
        for kept in saved.sessions:
            session_id = kept.state.session_id
            tracked = _Session(
                kept.state,
                kept.timeline,
                closed_at=kept.closed_at,
                earlier_forgotten=kept.earlier_forgotten,
            )
            self._sessions[session_id] = tracked
            self._by_guild.setdefault(kept.state.guild_id, {})[session_id] = None
            if kept.state.is_active:
                self._active.add(session_id)
            elif kept.closed_at is not None:
                heapq.heappush(self._closing, (kept.closed_at, session_id))
            self._replan(session_id, tracked)

    # --- folding ------------------------------------------------------------------------------

    def _apply_in_order(self, event: StoredEvent) -> None:
        """Fold one event; one this code cannot read is logged and skipped so that the rest of
        the history still reaches the view (an event from a newer rr, a corrupt record)."""
        self._versions[event.stream_id] = event.version
        self._applied += 1
        if self._latest is None or event.recorded_at > self._latest:
            self._latest = event.recorded_at
        try:
            if event.stream_id.startswith(sessions.STREAM_PREFIX):
                self._apply_session(event)
            elif event.stream_id.startswith(squadrons.STREAM_PREFIX):
                self._apply_squadron(event)
        except (ValueError, TypeError, KeyError) as error:
            self._unreadable += 1
            log.error(
                "view skipped an event it cannot apply stream=%s version=%d type=%s error=%s",
                event.stream_id,
                event.version,
                event.type,
                error,
            )

    def _apply_session(self, event: StoredEvent) -> None:
        session_id = event.stream_id.removeprefix(sessions.STREAM_PREFIX)
        tracked = self._sessions.get(session_id)
        before = None if tracked is None else tracked.state
        after = sessions.evolve(before, event)
        if after is None:
            return
        if tracked is None:
            tracked = _Session(
                after,
                Timeline(booked_at=event.recorded_at),
                earlier_forgotten=self._forgotten.get(after.guild_id, 0),
            )
            self._sessions[session_id] = tracked
            self._by_guild.setdefault(after.guild_id, {})[session_id] = None
        else:
            tracked.state = after
            tracked.timeline = _advance_timeline(tracked.timeline, before, after, event)
        self._note_boot(session_id, before, after)
        if after.is_active:
            self._active.add(session_id)
        else:
            self._active.discard(session_id)
            tracked.holds.clear()
            if tracked.closed_at is None:
                tracked.closed_at = event.recorded_at
                heapq.heappush(self._closing, (event.recorded_at, session_id))
        self._dirty[session_id] = None

    def _forget_closed(self) -> None:
        """Drop the sessions that closed ``retention`` or longer before the latest event."""
        latest = self._latest
        if latest is None:
            return
        horizon = latest - self._retention
        while self._closing and self._closing[0][0] <= horizon:
            closed_at, session_id = heapq.heappop(self._closing)
            tracked = self._sessions.get(session_id)
            if tracked is not None and tracked.closed_at == closed_at:
                self._forget(session_id, tracked)

    def _forget(self, session_id: str, tracked: _Session) -> None:
        guild_id = tracked.state.guild_id
        key = self._booking_key(session_id)
        del self._sessions[session_id]
        stream = sessions.session_stream(session_id)
        self._versions.pop(stream, None)
        self._forgotten_streams.append(stream)
        self._keys.pop(session_id, None)
        guild = self._by_guild[guild_id]
        del guild[session_id]
        if not guild:
            del self._by_guild[guild_id]
        self._forgotten[guild_id] = self._forgotten.get(guild_id, 0) + 1
        for later_id in guild:
            if self._booking_key(later_id) > key:
                self._sessions[later_id].earlier_forgotten += 1

    def _apply_squadron(self, event: StoredEvent) -> None:
        guild_id = event.stream_id.removeprefix(squadrons.STREAM_PREFIX)
        before = self._squadrons.get(guild_id, squadrons.initial_squadron)
        after = squadrons.evolve(before, event)
        self._squadrons[guild_id] = after
        held_before, held_after = before.reservations, after.reservations
        if held_after is held_before:
            return
        changed = [m for m, cents in held_after.items() if held_before.get(m) != cents]
        changed.extend(m for m in held_before if m not in held_after)
        for session_id in changed:
            if session_id in self._sessions:
                self._dirty[session_id] = None

    def _note_boot(self, session_id: str, before: SessionState | None, after: SessionState) -> None:
        """A session that just became ready adds its boot, launch to ready, to its size's."""
        if after.ready_at is None or after.launched_at is None:
            return
        if before is not None and before.ready_at is not None:
            return
        took = after.ready_at - after.launched_at
        if self.boot_times.record(after.size, after.region, session_id, after.ready_at, took):
            self._boots_measured.add((after.size, after.region))

    def _replan_bookings_of_measured_boots(self) -> None:
        if not self._boots_measured:
            return
        for session_id in self._active:
            state = self._sessions[session_id].state
            if state.status is SessionStatus.BOOKED and (state.size, state.region) in (
                self._boots_measured
            ):
                self._dirty[session_id] = None
        self._boots_measured.clear()

    def _replan(self, session_id: str, tracked: _Session) -> None:
        state = tracked.state
        squadron = self._squadrons.get(state.guild_id)
        reserved = None if squadron is None else squadron.reservations.get(session_id)
        lead = self.boot_lead(state.size, state.region).lead
        tracked.planned = plan(state, tracked.timeline, reserved, self._config, lead)
        self._index(session_id, tracked, announce=True)

    def _index(self, session_id: str, tracked: _Session, *, announce: bool) -> None:
        """Re-key the session in the due-time heap; the stale entry is skipped when popped."""
        due_at = next_opening(tracked.planned, tracked.holds)
        if due_at is None:
            self._keys.pop(session_id, None)
            return
        current = self._keys.get(session_id)
        if current is not None and current[0] == due_at:
            return
        key = (due_at, next(self._order))
        self._keys[session_id] = key
        heapq.heappush(self._heap, (*key, session_id))
        if len(self._heap) > 2 * len(self._keys) + _HEAP_SLACK:
            self._heap = [(*key, session_id) for session_id, key in self._keys.items()]
            heapq.heapify(self._heap)
        listener = self._on_earlier_due
        if announce and listener and (self._announced is None or due_at < self._announced):
            self._announced = due_at
            listener()


def _advance_timeline(
    timeline: Timeline, before: SessionState | None, after: SessionState, event: StoredEvent
) -> Timeline:
    """Note when the session entered the states whose time its state does not record, and
    when each of its notices was recorded."""
    if after.status is SessionStatus.LAUNCHING and (
        before is None
        or before.status is not SessionStatus.LAUNCHING
        or before.attempt != after.attempt
    ):
        return replace(timeline, launch_requested_at=event.recorded_at)
    if after.status is SessionStatus.TERMINATING and (
        before is None or before.status is not SessionStatus.TERMINATING
    ):
        return replace(timeline, terminating_since=event.recorded_at)
    recorded = after.undelivered_notices - (before.undelivered_notices if before else frozenset())
    if recorded:
        at = event.recorded_at
        return replace(
            timeline,
            notices_recorded_at={**timeline.notices_recorded_at, **dict.fromkeys(recorded, at)},
        )
    return timeline
