"""The latest heartbeat of every server, in memory; only changes of state become events.

A heartbeat every few seconds from every server would flood the store with repeats, so the
book keeps the last one per session (what a status command or an idle check reads) and appends
``ServerStateReported`` only when the DCS state or the loaded mission differs from the last one
recorded. Players come and go too often to record each change; their count goes with the state,
and each pilot's name is recorded once, when first seen in a slot (for the debrief).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.agentapi.credentials import Grant
from bot.agentapi.events import PilotSeen, ServerStateReported
from bot.agentapi.ledger import MAX_PILOTS, AgentLedger
from bot.agentapi.schemas import Heartbeat, Player


class Replayed(Exception):
    """A heartbeat whose ``seq`` is not above the last one accepted from its launch."""

    def __init__(self, last_seq: int) -> None:
        super().__init__(f"Heartbeat sequence numbers must grow; the last one was {last_seq}.")
        self.last_seq = last_seq


@dataclass(frozen=True, slots=True)
class ServerReport:
    session_id: str
    attempt: int
    seq: int
    state: str
    mission: str
    players: tuple[Player, ...]
    received_at: datetime


SILENT_HOOK_STATES = frozenset({"starting"})
"""What an agent reports while its DCS hook has not said anything yet."""


class HeartbeatBook:
    def __init__(self, ledger: AgentLedger, now: Callable[[], datetime]) -> None:
        self._ledger = ledger
        self._now = now
        self._latest: dict[str, ServerReport] = {}
        self._listeners: list[Callable[[ServerReport], None]] = []

    def subscribe(self, listener: Callable[[ServerReport], None]) -> None:
        """Have ``listener`` called with every report accepted from now on, once it is kept
        (the lifecycle terminates a server that reports its mission ended). It runs inside the
        heartbeat's request, so it must return at once and not raise."""
        self._listeners.append(listener)

    def latest(self, session_id: str) -> ServerReport | None:
        return self._latest.get(session_id)

    async def mission_running(self, session_id: str, attempt: int) -> bool:
        """Whether the server of launch ``attempt`` reports its mission running: in the last
        heartbeat this process received, or, since another process may be the one receiving
        them, as last recorded on the session's agent stream."""
        report = self._latest.get(session_id)
        if report is not None and report.attempt == attempt and report.state == "running":
            return True
        record = await self._ledger.reread(session_id)
        return record.attempt == attempt and record.state == "running"

    async def hook_heard(self, session_id: str, attempt: int) -> bool:
        """Whether the DCS hook of launch ``attempt`` ever reported (through its agent)."""
        report = self._latest.get(session_id)
        if report is not None and report.attempt == attempt and _heard(report.state):
            return True
        record = await self._ledger.reread(session_id)
        return record.attempt == attempt and _heard(record.state)

    def last_seq(self, grant: Grant) -> int:
        report = self._latest.get(grant.session_id)
        if report is None or report.attempt != grant.attempt:
            return 0
        return report.seq

    async def accept(self, grant: Grant, heartbeat: Heartbeat) -> ServerReport:
        """Keep the heartbeat, recording a change of state; ``Replayed`` if it is not new."""
        last = self.last_seq(grant)
        if heartbeat.seq <= last:
            raise Replayed(last)
        report = ServerReport(
            session_id=grant.session_id,
            attempt=grant.attempt,
            seq=heartbeat.seq,
            state=heartbeat.state,
            mission=heartbeat.mission,
            players=tuple(heartbeat.players),
            received_at=self._now(),
        )
        # Claimed before the append, so a concurrent copy of this heartbeat is refused.
        self._latest[grant.session_id] = report
        record = await self._ledger.record(grant.session_id)
        if (record.state, record.mission) != (heartbeat.state, heartbeat.mission):
            changed = ServerStateReported(
                session_id=grant.session_id,
                attempt=grant.attempt,
                state=heartbeat.state,
                mission=heartbeat.mission,
                players=len(heartbeat.players),
            )
            await self._ledger.append(grant.session_id, changed)
        for name in _new_pilots(record.pilots, heartbeat.players):
            await self._ledger.append(
                grant.session_id, PilotSeen(session_id=grant.session_id, name=name)
            )
        for listener in self._listeners:
            listener(report)
        return report

    def forget(self, session_id: str) -> None:
        self._latest.pop(session_id, None)


def _heard(state: str | None) -> bool:
    return state is not None and state not in SILENT_HOOK_STATES


def _new_pilots(known: tuple[str, ...], players: list[Player]) -> list[str]:
    """Names of players in a slot (not spectators) not recorded yet, within ``MAX_PILOTS``."""
    room = MAX_PILOTS - len(known)
    found: list[str] = []
    for player in players:
        if room <= len(found):
            break
        if (
            player.side != 0
            and player.name
            and player.name not in known
            and player.name not in found
        ):
            found.append(player.name)
    return found
