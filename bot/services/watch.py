"""The watch over running servers: who is flying, and the idle stop, from the agents' heartbeats.

Every ``TICK`` of the clock it looks at each server up in this process's view and at the latest
heartbeat this process received from it:

- the live status (DCS's state, the mission, the pilots by side) goes to the notifier when what
  it shows changed, at most once per ``LIVE_EDIT_INTERVAL`` per session, so a busy server does
  not flood Discord with edits;
- the idle stop (`bot.domain.presence.idle_verdict`): a server nobody is on past the squadron's
  limits is warned of (recorded first, then told; a warning that cannot be told is withdrawn and
  given again after a back-off), stopped ``IDLE_WARNING_LEAD`` later with reason "idle", and its
  warning withdrawn when a pilot joins.

Heartbeats live in the memory of the process whose web app received them, and so does what the
watch saw (when the last pilot left, who flew): a process without fresh reports of a server
judges nothing about it, and after a restart the idle clock starts again from the first report.
"""

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from bot.agentapi import HeartbeatBook, ServerReport
from bot.clock import Clock
from bot.domain import session as sessions
from bot.domain.errors import Conflict
from bot.domain.presence import (
    IDLE_WARNING_LEAD,
    IdleRules,
    Pilot,
    ServerStatus,
    Warn,
    Watched,
    idle_verdict,
)
from bot.domain.session import SERVER_UP_STATUSES, SessionState, SessionStatus
from bot.notify import (
    IdleWarningNotice,
    IdleWarningWithdrawnNotice,
    LiveStatusNotice,
    Notice,
    Notifier,
)
from bot.services.lifecycle import SCHEDULER, Lifecycle
from bot.services.streams import Streams, decide_session

log = logging.getLogger("rr.watch")

TICK = timedelta(seconds=10)
LIVE_EDIT_INTERVAL = timedelta(seconds=30)
STALE_AFTER = timedelta(minutes=2)
"""A report older than this is not fresh: the server is not judged idle on it."""
MAX_FLOWN_REMEMBERED = 1024
"""Distinct pilot names counted per session at most."""
WARNING_RETRY = timedelta(minutes=1)
"""Wait before warning again after Discord refused a warning; doubles with each refusal..."""
MAX_WARNING_RETRY = timedelta(minutes=30)
"""...up to this."""


@dataclass
class _Seen:
    attempt: int
    since: datetime
    saw_ready: bool
    last_pilot_at: datetime | None = None
    flown: set[str] = field(default_factory=set)
    shown: tuple[str, str, tuple[Pilot, ...]] | None = None
    shown_at: datetime | None = None
    warnings_refused: int = 0
    warn_again_at: datetime | None = None


class ServerWatch:
    def __init__(
        self,
        *,
        streams: Streams,
        heartbeats: HeartbeatBook,
        lifecycle: Lifecycle,
        notifier: Notifier,
        clock: Clock,
    ) -> None:
        self._streams = streams
        self._heartbeats = heartbeats
        self._lifecycle = lifecycle
        self._notifier = notifier
        self._clock = clock
        self._started_at = clock.now()
        self._seen: dict[str, _Seen] = {}
        self._pass = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    # --- running ----------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="server watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            await self._clock.sleep_until(self._clock.now() + TICK)
            try:
                await self.tick()
            except Exception:
                log.exception("server watch pass failed; trying again next tick")

    async def tick(self) -> None:
        """One look at every server up; passes in this process never overlap."""
        async with self._pass:
            now = self._clock.now()
            up = [
                state
                for state in await self._streams.view.active_sessions()
                if state.status in SERVER_UP_STATUSES
            ]
            for state in up:
                try:
                    await self._look_at(state, now)
                except Exception:
                    log.exception("server watch failed", extra={"session_id": state.session_id})
            for session_id in self._seen.keys() - {state.session_id for state in up}:
                del self._seen[session_id]

    # --- reading ----------------------------------------------------------------------------

    def status(self, session: SessionState) -> ServerStatus | None:
        """The latest report of the session's server, None before its first one."""
        report = self._report(session)
        if report is None:
            return None
        seen = self._seen.get(session.session_id)
        return _status(report, seen.flown if seen else set())

    def _report(self, session: SessionState) -> ServerReport | None:
        report = self._heartbeats.latest(session.session_id)
        if report is None or report.attempt != session.attempt:
            return None
        return report

    # --- one server -------------------------------------------------------------------------

    async def _look_at(self, state: SessionState, now: datetime) -> None:
        seen = self._seen.get(state.session_id)
        if seen is None or seen.attempt != state.attempt:
            saw_ready = state.ready_at is None or state.ready_at >= self._started_at
            seen = self._seen[state.session_id] = _Seen(state.attempt, now, saw_ready)
        report = self._report(state)
        if report is None or state.status is not SessionStatus.RUNNING:
            return
        names = {pilot.name for pilot in report.players}
        if names:
            seen.last_pilot_at = max(seen.last_pilot_at or report.received_at, report.received_at)
            room = MAX_FLOWN_REMEMBERED - len(seen.flown)
            seen.flown.update(sorted(names - seen.flown)[: max(room, 0)])
        await self._show(state, _status(report, seen.flown), seen, now)
        if now - report.received_at > STALE_AFTER or report.state == "unresponsive":
            return
        await self._judge_idle(state, seen, bool(names), now)

    async def _show(
        self, state: SessionState, status: ServerStatus, seen: _Seen, now: datetime
    ) -> None:
        if status.shown == seen.shown:
            return
        if seen.shown_at is not None and now - seen.shown_at < LIVE_EDIT_INTERVAL:
            return
        seen.shown, seen.shown_at = status.shown, now
        await self._tell(LiveStatusNotice(state, status))

    async def _judge_idle(
        self, state: SessionState, seen: _Seen, pilots_on: bool, now: datetime
    ) -> None:
        settings = (await self._streams.squadron(state.guild_id)).settings
        rules = IdleRules.from_minutes(
            settings.idle_stop_unjoined_minutes, settings.idle_stop_empty_minutes
        )
        watched = Watched(seen.since, seen.last_pilot_at, seen.saw_ready)
        verdict = idle_verdict(state, watched, pilots_on, rules, now)
        if isinstance(verdict, Warn):
            if seen.warn_again_at is None or now >= seen.warn_again_at:
                await self._warn(state, seen, verdict, now)
        elif verdict == "withdraw":
            withdrawn = await self._withdraw(state, "pilot_joined", now)
            if withdrawn is not None:
                await self._tell(IdleWarningWithdrawnNotice(withdrawn))
        elif verdict == "stop":
            await self._lifecycle.terminate(state.session_id, "idle")

    async def _warn(self, state: SessionState, seen: _Seen, verdict: Warn, now: datetime) -> None:
        command = sessions.WarnIdle(
            actor=SCHEDULER,
            now=now,
            cause=verdict.cause,
            idle_since=verdict.idle_since,
            stop_at=now + IDLE_WARNING_LEAD,
        )
        warned = await self._record(state.session_id, command)
        if warned is None:
            return
        try:
            await self._notifier.notify(IdleWarningNotice(warned))
        except Exception:
            # Never stopped for being idle without the squadron having been told first.
            seen.warnings_refused += 1
            wait = min(WARNING_RETRY * 2 ** (seen.warnings_refused - 1), MAX_WARNING_RETRY)
            seen.warn_again_at = now + wait
            log.warning(
                "idle warning not delivered; withdrawn until it can be given again",
                exc_info=True,
                extra={"session_id": state.session_id, "retry_seconds": wait.total_seconds()},
            )
            await self._withdraw(state, "undelivered", now)
            return
        seen.warnings_refused, seen.warn_again_at = 0, None

    async def _withdraw(
        self, state: SessionState, reason: Literal["pilot_joined", "undelivered"], now: datetime
    ) -> SessionState | None:
        command = sessions.WithdrawIdleWarning(actor=SCHEDULER, now=now, reason=reason)
        return await self._record(state.session_id, command)

    async def _record(
        self, session_id: str, command: sessions.SessionCommand
    ) -> SessionState | None:
        """The session after ``command``, or None when it decided nothing (another process was
        first, or the session moved on)."""
        try:
            state, stored = await self._streams.write_session(
                session_id, lambda current: decide_session(command, current)
            )
        except Conflict:
            return None
        return state if stored else None

    async def _tell(self, notice: Notice) -> None:
        try:
            await self._notifier.notify(notice)
        except Exception:
            log.exception("notifier failed", extra={"notice": type(notice).__name__})


def _status(report: ServerReport, flown: set[str]) -> ServerStatus:
    pilots = tuple(
        sorted(
            (Pilot(player.name, player.side, player.slot) for player in report.players),
            key=lambda pilot: (pilot.side, pilot.name.casefold()),
        )
    )
    return ServerStatus(report.state, report.mission, pilots, report.received_at, len(flown))
