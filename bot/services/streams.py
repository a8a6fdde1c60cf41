"""The services' one way to read and write the two aggregates' streams.

Every write goes through here, so every write is published to the view. A write to one stream
uses the cached repository (one conditional append when warm). A write across a session and its
squadron (a booking with its reservation, an ending with its charge) is one ``append_many`` at
both streams' versions; on a conflict the stale stream is read again and the decision is made
again, a few times at most.

A refusal is confirmed before it is answered: a cached stream may be missing what another
process appended (a payment a standby recorded), and a refusal writes nothing, so no version
check would ever show it stale. A decision that refuses (raises a ``DomainError``) is made once
more on the streams read afresh, and only that answer counts.
"""

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TypeVar

from bot.domain import session as sessions
from bot.domain import squadron as squadrons
from bot.domain import squadron_snapshot
from bot.domain.actor import Actor
from bot.domain.errors import DomainError, NotFound
from bot.domain.events import DomainEvent, from_stored, to_new_event
from bot.domain.session import SessionState, session_stream
from bot.domain.squadron import SquadronState, squadron_stream
from bot.mailbox import MailboxStopped
from bot.view.handle import ViewHandle
from eventstore import ConcurrencyError, EventStore, NewEvent, Repository, Snapshots, StoredEvent

log = logging.getLogger("rr.services")

S = TypeVar("S")

CROSS_STREAM_ATTEMPTS = 4
"""Tries of a two-stream write before a ``ConcurrencyError`` reaches the caller."""

SessionDecision = Callable[[SessionState | None], Sequence[NewEvent]]
SquadronDecision = Callable[[SquadronState], Sequence[NewEvent]]
JointDecision = Callable[
    [SessionState | None, SquadronState], tuple[Sequence[NewEvent], Sequence[NewEvent]]
]


def records(events: Sequence[DomainEvent], actor: Actor) -> list[NewEvent]:
    """The store's records of ``events``, decided on ``actor``'s command: metadata says who
    acted and how."""
    metadata = actor.metadata()
    return [to_new_event(event, metadata) for event in events]


def decide_session(command: sessions.SessionCommand, state: SessionState | None) -> list[NewEvent]:
    """What the session decides on ``command``, as the records to append."""
    return records(sessions.decide(command, state), command.actor)


def decide_squadron(command: squadrons.SquadronCommand, state: SquadronState) -> list[NewEvent]:
    """What the squadron decides on ``command``, as the records to append."""
    return records(squadrons.decide(command, state), command.actor)


def caused_by(events: Sequence[NewEvent], causation_id: str | None) -> list[NewEvent]:
    """``events`` with ``causation_id`` (the id of the event that led to them) in their metadata."""
    if causation_id is None:
        return list(events)
    return [
        replace(event, metadata={**event.metadata, "causation_id": causation_id})
        for event in events
    ]


def squadron_repository(store: EventStore) -> Repository[SquadronState]:
    """Squadron streams, cached, loaded from their snapshot (``snapshot#squadron#<id>``) and
    the events after it: a squadron's stream grows with every purchase, its state barely."""

    async def decode(stream_id: str, data: bytes) -> SquadronState | None:
        state = squadron_snapshot.decode(data)
        if state is None or state.settings_version == 0:
            return state
        async for stored in store.read(stream_id, after_version=state.settings_version - 1):
            return squadron_snapshot.with_settings(state, from_stored(stored))
        return None

    return Repository(
        store,
        squadrons.evolve,
        squadrons.initial_squadron,
        snapshots=Snapshots(store, squadron_snapshot.encode, decode),
    )


class Streams:
    def __init__(self, store: EventStore, view: ViewHandle) -> None:
        self.store = store
        self.view = view
        self.sessions: Repository[SessionState | None] = Repository(
            store, sessions.evolve, sessions.initial_session
        )
        self.squadrons = squadron_repository(store)

    async def session(self, session_id: str) -> SessionState:
        """The session as this process's cache knows it, to decide a step on (a stale cache
        is caught by the append's version check); ``NotFound`` when it was never booked."""
        state, _ = await self.sessions.load(session_stream(session_id))
        if state is None:
            raise NotFound("session", session_id)
        return state

    async def squadron(self, guild_id: str) -> SquadronState:
        """The squadron as the view knows it, for reading settings and credit: this process's
        writes at once, other processes' once the feeder brings them (the repository's cache
        of a stream this process does not write would never see them)."""
        state = await self.view.squadron(guild_id)
        if state is None:
            return replace(squadrons.initial_squadron, guild_id=guild_id)
        return state

    async def squadron_in_store(self, guild_id: str) -> SquadronState:
        """The squadron read afresh from the store, to confirm a refusal the view's (perhaps a
        feed pass behind) would make."""
        stream_id = squadron_stream(guild_id)
        self.squadrons.forget(stream_id)
        state, version = await self.squadrons.load(stream_id)
        if version == 0:
            return replace(squadrons.initial_squadron, guild_id=guild_id)
        return state

    async def reload_session(self, session_id: str) -> SessionState:
        """The session read afresh from the store (after another writer won a race)."""
        self.sessions.forget(session_stream(session_id))
        return await self.session(session_id)

    async def write_session(
        self,
        session_id: str,
        decide: SessionDecision,
        *,
        idempotency_key: str | None = None,
        causation_id: str | None = None,
    ) -> tuple[SessionState | None, list[StoredEvent]]:
        """Decide on the session and append; returns its new state and the events stored."""
        state, stored = await self._write(
            self.sessions, session_stream(session_id), decide, idempotency_key, causation_id
        )
        self._forget_if_over(state)
        return state, stored

    async def write_squadron(
        self,
        guild_id: str,
        decide: SquadronDecision,
        *,
        idempotency_key: str | None = None,
        causation_id: str | None = None,
    ) -> tuple[SquadronState, list[StoredEvent]]:
        return await self._write(
            self.squadrons, squadron_stream(guild_id), decide, idempotency_key, causation_id
        )

    async def _write(
        self,
        repository: Repository[S],
        stream_id: str,
        decide: Callable[[S], Sequence[NewEvent]],
        idempotency_key: str | None,
        causation_id: str | None,
    ) -> tuple[S, list[StoredEvent]]:
        def decided(current: S) -> list[NewEvent]:
            return caused_by(decide(current), causation_id)

        try:
            state, stored = await repository.execute(
                stream_id, decided, idempotency_key=idempotency_key
            )
        except DomainError:
            repository.forget(stream_id)
            state, stored = await repository.execute(
                stream_id, decided, idempotency_key=idempotency_key
            )
        self.publish(stored)
        return state, stored

    async def write_both(
        self,
        session_id: str,
        guild_id: str,
        decide: JointDecision,
        *,
        new_session: bool = False,
        idempotency_key: str | None = None,
        causation_id: str | None = None,
    ) -> tuple[SessionState | None, list[StoredEvent]]:
        """Decide on a session and its squadron together and append both atomically.

        ``new_session`` skips reading a session stream that cannot exist yet (a booking): the
        append expects version 0, and only a conflict makes it read. Returns the session's new
        state and every event stored (none when the decision was empty). ``AlreadyAppended``
        passes through: the caller knows what a repeat means.
        """
        session_key, squadron_key = session_stream(session_id), squadron_stream(guild_id)
        attempts_left = CROSS_STREAM_ATTEMPTS
        confirmed = False
        while True:
            if new_session:
                session_state, session_version = sessions.initial_session, 0
            else:
                session_state, session_version = await self.sessions.load(session_key)
            squadron_state, squadron_version = await self.squadrons.load(squadron_key)
            try:
                session_events, squadron_events = decide(session_state, squadron_state)
            except DomainError:
                if confirmed:
                    raise
                confirmed = True
                self.sessions.forget(session_key)
                self.squadrons.forget(squadron_key)
                continue
            batches = [
                (stream, version, caused_by(events, causation_id))
                for stream, version, events in (
                    (session_key, session_version, session_events),
                    (squadron_key, squadron_version, squadron_events),
                )
                if events
            ]
            if not batches:
                return session_state, []
            try:
                stored = await self.store.append_many(batches, idempotency_key=idempotency_key)
            except ConcurrencyError as conflict:
                attempts_left -= 1
                if attempts_left == 0:
                    raise
                log.info("write conflict, deciding again", extra={"stream": conflict.stream_id})
                self.sessions.forget(conflict.stream_id)
                self.squadrons.forget(conflict.stream_id)
                new_session = False
                continue
            self.sessions.remember(session_key, stored)
            self.squadrons.remember(squadron_key, stored)
            self.publish(stored)
            for event in stored:
                if event.stream_id == session_key:
                    session_state = sessions.evolve(session_state, event)
            self._forget_if_over(session_state)
            return session_state, stored

    def _forget_if_over(self, state: SessionState | None) -> None:
        """An ended or cancelled session leaves the cache: few commands follow (a delivery
        confirmed late), and those read it again."""
        if state is not None and not state.is_active:
            self.sessions.forget(session_stream(state.session_id))

    def publish(self, stored: Sequence[StoredEvent]) -> None:
        """Hand stored events to the view; the view wakes the scheduler if they move its plan."""
        try:
            self.view.publish(stored)
        except MailboxStopped:
            log.warning(
                "view stopped; events reach it from the feed at the next start",
                extra={"events": len(stored)},
            )
