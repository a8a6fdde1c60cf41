"""Building real event histories for the runtime tests: the domain's deciders and event classes,
appended to a memory store whose recorded times come from the fake clock."""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import cast

import eventstore
from bot.domain import session as sessions
from bot.domain import squadron as squadrons
from bot.domain.actor import Actor
from bot.domain.billing import bill
from bot.domain.events import (
    TERMINATION_REASONS,
    CreditsGranted,
    CreditsReserved,
    DomainEvent,
    ReservationReleased,
    SessionCharged,
    TerminationReason,
    to_new_event,
)
from bot.domain.pricing import Limits, cost_at_rate
from bot.domain.session import (
    READY_NOTICE,
    Book,
    Cancel,
    RecordDelivered,
    RecordEnded,
    RecordLaunched,
    RecordReady,
    RecordReminder,
    RequestLaunch,
    RequestTermination,
    SessionState,
    SessionStatus,
    StartGracefulEnd,
    session_stream,
)
from bot.domain.squadron import squadron_stream
from bot.mailbox import Mailbox as ViewMailbox
from bot.services.streams import decide_session
from bot.view import ScheduleConfig, View
from eventstore import NewEvent, StoredEvent
from tests.fakes.clock import FakeClock

START = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
GUILD = "g1"
MEMBER = Actor(user_id="u1", guild_id=GUILD)
SYSTEM = Actor.system("test")
RATE = 600
"""Cents per hour: 10 cents a minute keeps the arithmetic readable."""
LIMITS = Limits()


class History:
    """Every event appended, in the store and in order (``events``)."""

    def __init__(self, clock: FakeClock, store: eventstore.EventStore | None = None) -> None:
        """``store`` (its recorded times from ``clock``) defaults to a new memory store."""
        self.clock = clock
        self.store = store or eventstore.open("memory://", clock=clock.now)
        self.events: list[StoredEvent] = []

    async def append(self, stream_id: str, new_events: Sequence[NewEvent]) -> list[StoredEvent]:
        if not new_events:
            return []
        stored = await self.store.append_many(
            [(stream_id, await self._version(stream_id), new_events)]
        )
        self.events.extend(stored)
        return stored

    async def record(self, stream_id: str, *events: DomainEvent) -> list[StoredEvent]:
        return await self.append(stream_id, [to_new_event(event, {}) for event in events])

    async def state(self, session_id: str) -> SessionState:
        state = sessions.initial_session
        async for event in self.store.read(session_stream(session_id)):
            state = sessions.evolve(state, event)
        assert state is not None
        return state

    async def decide(self, session_id: str, command: sessions.SessionCommand) -> list[StoredEvent]:
        state = None
        if not isinstance(command, Book):
            state = await self.state(session_id)
        return await self.append(session_stream(session_id), decide_session(command, state))

    async def grant(self, cents: int, guild_id: str = GUILD) -> list[StoredEvent]:
        return await self.record(
            squadron_stream(guild_id), CreditsGranted(amount_cents=cents, reason="test")
        )

    async def book(
        self,
        session_id: str,
        *,
        start_in: timedelta | None,
        minutes: int = 120,
        guild_id: str = GUILD,
    ) -> list[StoredEvent]:
        """Book (``start_in=None``: start now) and reserve its credit, as the service does."""
        now = self.clock.now()
        booked = await self.decide(
            session_id,
            Book(
                session_id=session_id,
                guild_id=guild_id,
                actor=Actor(user_id="u1", guild_id=guild_id),
                start_at=None if start_in is None else now + start_in,
                duration_minutes=minutes,
                size="small",
                region="eu",
                rate=RATE,
                mission_name=None,
                limits=LIMITS,
                now=now,
            ),
        )
        cents = cost_at_rate(RATE, minutes)
        reserved = await self.record(
            squadron_stream(guild_id), CreditsReserved(session_id=session_id, amount_cents=cents)
        )
        return booked + reserved

    async def launch(self, session_id: str, login_ref: str | None = None) -> list[StoredEvent]:
        now = self.clock.now()
        requested = await self.decide(
            session_id, RequestLaunch(actor=SYSTEM, now=now, login_ref=login_ref)
        )
        state = await self.state(session_id)
        launched = await self.decide(
            session_id,
            RecordLaunched(
                actor=SYSTEM,
                now=now,
                attempt=state.attempt,
                instance_id=f"i-{session_id}",
                provider="fake",
                launched_at=now,
            ),
        )
        return requested + launched

    async def ready(self, session_id: str, *, delivered: bool = True) -> list[StoredEvent]:
        """The server recorded ready and (unless not ``delivered``) its ready notice sent."""
        now = self.clock.now()
        command = RecordReady(actor=SYSTEM, now=now, address="127.0.0.1", port=10308, ready_at=now)
        recorded = await self.decide(session_id, command)
        if not delivered:
            return recorded
        return recorded + await self.delivered(session_id, READY_NOTICE)

    async def remind(
        self, session_id: str, key: str, *, delivered: bool = True
    ) -> list[StoredEvent]:
        """The reminder recorded and (unless not ``delivered``) sent."""
        recorded = await self.decide(
            session_id, RecordReminder(actor=SYSTEM, now=self.clock.now(), key=key)
        )
        if not delivered:
            return recorded
        return recorded + await self.delivered(session_id, key)

    async def delivered(self, session_id: str, key: str) -> list[StoredEvent]:
        return await self.decide(
            session_id, RecordDelivered(actor=SYSTEM, now=self.clock.now(), key=key)
        )

    async def request_termination(
        self, session_id: str, reason: TerminationReason
    ) -> list[StoredEvent]:
        command = RequestTermination(actor=SYSTEM, now=self.clock.now(), reason=reason)
        return await self.decide(session_id, command)

    async def graceful_end(self, session_id: str) -> list[StoredEvent]:
        """The stopping server is given two minutes to end its mission."""
        until = self.clock.now() + timedelta(minutes=2)
        return await self.decide(
            session_id, StartGracefulEnd(actor=SYSTEM, now=self.clock.now(), until=until)
        )

    async def end(self, session_id: str) -> list[StoredEvent]:
        """Record the end and the charge in one append, as the service does."""
        now = self.clock.now()
        state = await self.state(session_id)
        charge = bill(state, now)
        ended = decide_session(RecordEnded(actor=SYSTEM, now=now), state)
        charged = SessionCharged(
            session_id=session_id, minutes=charge.minutes, amount_cents=charge.cents
        )
        return await self._append_both(state, ended, charged)

    async def cancel(self, session_id: str) -> list[StoredEvent]:
        """Cancel a booking and release its credit in one append."""
        state = await self.state(session_id)
        cancelled = decide_session(Cancel(actor=MEMBER, now=self.clock.now()), state)
        held = await self._reserved(state)
        released = ReservationReleased(session_id=session_id, amount_cents=held)
        return await self._append_both(state, cancelled, released)

    async def _append_both(
        self, state: SessionState, session_events: list[NewEvent], squadron_event: DomainEvent
    ) -> list[StoredEvent]:
        session_id, squadron_id = session_stream(state.session_id), squadron_stream(state.guild_id)
        stored = await self.store.append_many(
            [
                (session_id, await self._version(session_id), session_events),
                (squadron_id, await self._version(squadron_id), [to_new_event(squadron_event, {})]),
            ]
        )
        self.events.extend(stored)
        return stored

    async def _reserved(self, state: SessionState) -> int:
        squadron = squadrons.initial_squadron
        async for event in self.store.read(squadron_stream(state.guild_id)):
            squadron = squadrons.evolve(squadron, event)
        return squadron.reservations.get(state.session_id, 0)

    async def _version(self, stream_id: str) -> int:
        return sum([1 async for _ in self.store.read(stream_id)])


def view_of(events: Sequence[StoredEvent], config: ScheduleConfig | None = None) -> View:
    """A fresh view fed ``events``, as at start-up."""
    view = View(config or ScheduleConfig())
    view.apply_all(events)
    return view


class RecordingSessions:
    """A stand-in for ``services.sessions``: records each call and appends the events the real
    service would, publishing them to the view before returning."""

    def __init__(self, history: History, view: ViewMailbox[View]) -> None:
        self.history = history
        self.view = view
        self.calls: list[tuple[str, str, str]] = []

    async def send_reminder(self, session_id: str, key: str) -> None:
        self.calls.append(("remind", session_id, key))
        self._publish(await self.history.remind(session_id, key))

    async def launch(self, session_id: str) -> None:
        self.calls.append(("launch", session_id, ""))
        self._publish(await self.history.launch(session_id))

    async def check_ready(self, session_id: str) -> None:
        self.calls.append(("check_ready", session_id, ""))
        self._publish(await self.history.ready(session_id))

    async def terminate(self, session_id: str, reason: str) -> None:
        self.calls.append(("terminate", session_id, reason))
        assert reason in TERMINATION_REASONS, reason
        state = await self.history.state(session_id)
        if state.status is SessionStatus.BOOKED:
            self._publish(await self.history.cancel(session_id))
            return
        known = cast(TerminationReason, reason)
        self._publish(await self.history.request_termination(session_id, known))
        self._publish(await self.history.end(session_id))

    def _publish(self, events: list[StoredEvent]) -> None:
        self.view.tell(lambda view: view.apply_all(events))
