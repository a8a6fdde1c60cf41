"""The agent streams, folded and cached: one conditional append per fact when warm."""

import asyncio
from dataclasses import dataclass, replace

from bot.agentapi.events import (
    AgentCredentialIssued,
    AgentCredentialRevoked,
    AgentEvent,
    DebriefFileStored,
    DebriefPostDelivered,
    DebriefPostRecorded,
    PilotSeen,
    ServerStateReported,
    agent_stream,
    from_stored,
    to_new_event,
)
from eventstore import ConcurrencyError, EventStore

APPEND_ATTEMPTS = 4
MAX_PILOTS = 100
"""Pilots recorded per session; a debrief names no more."""


@dataclass(frozen=True, slots=True)
class AgentRecord:
    """What a session's agent stream says: its current credential and last reported state."""

    version: int = 0
    attempt: int | None = None
    token_sha256: str | None = None
    revoked: bool = False
    state: str | None = None
    mission: str | None = None
    pilots: tuple[str, ...] = ()
    """Distinct names, in the order they were first seen (at most ``MAX_PILOTS``)."""
    debrief: tuple[DebriefFileStored, ...] = ()
    debrief_post: str | None = None
    """None, "recorded" (to send) or "delivered"."""


def evolve(record: AgentRecord, event: AgentEvent) -> AgentRecord:
    match event:
        case AgentCredentialIssued():
            return replace(
                record,
                attempt=event.attempt,
                token_sha256=event.token_sha256,
                revoked=False,
                state=None,
                mission=None,
            )
        case AgentCredentialRevoked() if event.attempt == record.attempt:
            return replace(record, revoked=True)
        case ServerStateReported() if event.attempt == record.attempt:
            return replace(record, state=event.state, mission=event.mission)
        case PilotSeen() if event.name not in record.pilots:
            return replace(record, pilots=(*record.pilots, event.name))
        case DebriefFileStored() if all(f.key != event.key for f in record.debrief):
            return replace(record, debrief=(*record.debrief, event))
        case DebriefPostRecorded() if record.debrief_post is None:
            return replace(record, debrief_post="recorded")
        case DebriefPostDelivered():
            return replace(record, debrief_post="delivered")
    return record


class AgentLedger:
    """Reads each session's agent stream once, then keeps it at its version in memory.

    Appends for one session are serialised by a lock; another process's append (a standby
    taking over) is caught by the version check, and the stream is read again.
    """

    def __init__(self, store: EventStore) -> None:
        self._store = store
        self._records: dict[str, AgentRecord] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def record(self, session_id: str) -> AgentRecord:
        cached = self._records.get(session_id)
        if cached is not None:
            return cached
        return await self._read(session_id)

    async def append(self, session_id: str, event: AgentEvent) -> AgentRecord:
        lock = self._locks.setdefault(session_id, asyncio.Lock())
        async with lock:
            record = await self.record(session_id)
            for _ in range(APPEND_ATTEMPTS):
                try:
                    version = await self._store.append(
                        agent_stream(session_id), record.version, [to_new_event(event)]
                    )
                except ConcurrencyError:
                    record = await self._read(session_id)
                    continue
                record = replace(evolve(record, event), version=version)
                self._records[session_id] = record
                return record
            raise ConcurrencyError(agent_stream(session_id), record.version)

    async def reread(self, session_id: str) -> AgentRecord:
        """The record read afresh from the store (another process may have appended)."""
        return await self._read(session_id)

    def forget(self, session_id: str) -> None:
        """Drop the cached record (the session ended; a later use reads it again)."""
        self._records.pop(session_id, None)
        lock = self._locks.get(session_id)
        if lock is not None and not lock.locked():
            del self._locks[session_id]

    async def _read(self, session_id: str) -> AgentRecord:
        record = AgentRecord()
        async for stored in self._store.read(agent_stream(session_id)):
            record = replace(evolve(record, from_stored(stored)), version=stored.version)
        self._records[session_id] = record
        return record
