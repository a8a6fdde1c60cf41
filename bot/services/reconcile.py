"""Reconciliation: the provider's servers against the sessions' records, repaired both ways.

Run at start-up, every few minutes (so a reclaimed spot server or a server that vanished is
noticed while its session runs), and on an operator's demand. Each repair goes through the
session services, which record it and make it safe to repeat, so passes in several processes
may overlap.

- A server whose session ended, or that belongs to no session, or to an attempt its session did
  not keep: terminated, and the operators alerted. A session that ends while the pass is under
  way terminates its own server, so that server is no stray.
- A server its session launched but never recorded (a crash between the launch request and its
  result): the launch is resumed, which adopts the server through its tags and client token and
  records it; a launch with no server behind it is repeated with the same client token, or
  recorded as failed (credit released) when the provider refuses it. Past its booked end the
  session is ended instead, and whatever ran is billed.
- A session recorded as under way whose server is gone: ended as "instance_lost", billed up to
  the last time its server was known running — when the provider says it stopped, else the
  latest sighting — never past its booked end nor the end of its credit, nothing if it never
  became ready; the unused reservation released.
- A server its session runs: its backstop made sure of, at the session's end plus the grace
  (setting it at launch or moving it on an extension may have failed, or the bot died between
  the launch and the backstop). What this process last set is not asked about again.
- A login held by a session that is over: released.
"""

import asyncio
import logging
from collections.abc import Collection, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol, get_args

from bot.clock import Clock
from bot.cloud.base import ComputeProvider, InstanceInfo
from bot.domain.actor import Actor
from bot.domain.errors import NotFound
from bot.domain.events import TerminationReason
from bot.domain.session import SERVER_UP_STATUSES, SessionState
from bot.domain.words import counted
from bot.notify import AdminAlertNotice, Notifier
from bot.services.lifecycle import DEFAULT_BACKSTOP_GRACE, launch_unfinished
from bot.services.sightings import Sightings
from bot.view.handle import ViewHandle

log = logging.getLogger("rr.reconcile")

RECONCILER = Actor.system("reconciler")
DEFAULT_INTERVAL = timedelta(minutes=5)
RepairKind = Literal[
    "terminated",
    "adopted",
    "resumed",
    "launch_failed",
    "ended",
    "lost",
    "backstop_set",
    "released",
    "failed",
]
REPAIR_KINDS: tuple[RepairKind, ...] = get_args(RepairKind)


class SessionOperations(Protocol):
    """What reconciliation asks of the session services (``services.sessions``)."""

    async def get(self, session_id: str) -> SessionState: ...

    async def launch(self, session_id: str) -> SessionState: ...

    async def terminate(
        self,
        session_id: str,
        reason: TerminationReason,
        *,
        actor: Actor | None = None,
        ended_at: datetime | None = None,
    ) -> SessionState: ...


class LoginHolders(Protocol):
    async def holders(self) -> dict[str, str]: ...

    async def release(self, session_id: str) -> None: ...


@dataclass(frozen=True)
class Repair:
    kind: RepairKind
    session_id: str | None
    instance_id: str | None
    detail: str

    def __str__(self) -> str:
        subject = " ".join(
            part
            for part in (
                self.instance_id,
                f"session {self.session_id}" if self.session_id else None,
            )
            if part
        )
        return f"{self.kind} {subject}: {self.detail}"


@dataclass(frozen=True)
class ReconcileReport:
    """What one pass found and did; ``str()`` is the text the admin command shows."""

    servers_seen: int
    sessions_checked: int
    repairs: tuple[Repair, ...] = field(default=())

    def count(self, kind: RepairKind) -> int:
        return sum(1 for repair in self.repairs if repair.kind == kind)

    def __str__(self) -> str:
        servers = counted(self.servers_seen, "server")
        head = f"Checked {servers} against {counted(self.sessions_checked, 'session')}"
        if not self.repairs:
            return f"{head}: everything matches."
        counts = ", ".join(
            f"{self.count(kind)} {kind.replace('_', ' ')}"
            for kind in REPAIR_KINDS
            if self.count(kind)
        )
        return "\n".join([f"{head}: {counts}.", *(f"- {repair}" for repair in self.repairs)])


class CloudReconciler:
    def __init__(
        self,
        *,
        provider: ComputeProvider,
        view: ViewHandle,
        sessions: SessionOperations,
        notifier: Notifier,
        clock: Clock,
        sightings: Sightings,
        logins: LoginHolders | None = None,
        backstop_grace: timedelta = DEFAULT_BACKSTOP_GRACE,
    ) -> None:
        self._provider = provider
        self._view = view
        self._sessions = sessions
        self._notifier = notifier
        self._clock = clock
        self._sightings = sightings
        self._logins = logins
        self._backstop_grace = backstop_grace
        self._backstops: dict[str, datetime] = {}
        """Instance id → the backstop time this process last made sure of."""
        self._pass = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    async def reconcile(self) -> ReconcileReport:
        """One pass; passes in this process never overlap."""
        async with self._pass:
            report = await self._reconcile()
        # A quiet pass every few minutes is not news; a pass that repaired something is.
        log.log(
            logging.INFO if report.repairs else logging.DEBUG,
            "reconciled",
            extra={
                "servers": report.servers_seen,
                "missions": report.sessions_checked,
                "repairs": len(report.repairs),
            },
        )
        return report

    def start(self, interval: timedelta = DEFAULT_INTERVAL) -> None:
        """Reconcile every ``interval`` of the clock from now on (the first pass is the
        caller's, at start-up)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(interval), name="reconciler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self, interval: timedelta) -> None:
        while True:
            await self._clock.sleep_until(self._clock.now() + interval)
            try:
                await self.reconcile()
            except Exception:
                log.exception("reconciliation failed; trying again next time")

    async def _reconcile(self) -> ReconcileReport:
        active_before = {m.session_id for m in await self._view.active_sessions()}
        servers = await self._provider.list_managed()
        recorded = await self._view.running_instances()
        active = await self._view.active_sessions()
        now = self._clock.now()
        repairs: list[Repair | None] = []
        for info in servers:
            if info.state == "running":
                self._sightings.saw_running(info.instance_id, now)
            repairs.append(
                await self._guarded(
                    self._server(info, active_before), info.session_id, info.instance_id
                )
            )
        listed = {info.instance_id for info in servers}
        with_server = {info.session_id for info in servers}
        for session in recorded:
            if session.status in SERVER_UP_STATUSES and session.instance_id not in listed:
                repairs.append(await self._guarded(self._maybe_lost(session), session.session_id))
        for session in active:
            if launch_unfinished(session) and session.session_id not in with_server:
                repairs.append(await self._guarded(self._resume(session), session.session_id))
        if self._logins is not None:
            repairs += await self._release_logins(self._logins)
        known = listed | {m.instance_id for m in recorded if m.instance_id is not None}
        self._sightings.keep_only(known)
        self._backstops = {
            instance_id: when
            for instance_id, when in self._backstops.items()
            if instance_id in listed
        }
        return ReconcileReport(
            servers_seen=len(servers),
            sessions_checked=len({m.session_id for m in (*recorded, *active)}),
            repairs=tuple(repair for repair in repairs if repair is not None),
        )

    async def _server(self, info: InstanceInfo, active_before: Collection[str]) -> Repair | None:
        """Keep a server its session owns; adopt one its session launched; stop the rest.

        A server whose session was active when the pass began and has ended since was
        terminated by that ending (it terminates before it records the end); the listing
        merely predates it. Should it run on all the same, the next pass stops it.
        """
        if info.session_id is None:
            return await self._stop_stray(info, "it belongs to no session")
        try:
            session = await self._sessions.get(info.session_id)
        except NotFound:
            return await self._stop_stray(info, "its session is unknown")
        if not session.is_active and session.session_id in active_before:
            return None
        if not session.is_active:
            return await self._stop_stray(info, f"its session is {session.status}")
        if session.instance_id == info.instance_id:
            return await self._ensure_backstop(session, info.instance_id)
        if session.instance_id is not None or (info.attempt or 0) < session.attempt:
            return await self._stop_stray(info, "its session runs another server")
        if launch_unfinished(session) and info.attempt == session.attempt:
            return await self._resume(session, adopting=info.instance_id)
        return None

    async def _ensure_backstop(self, session: SessionState, instance_id: str) -> Repair | None:
        """Make sure the server stops by itself at its session's end plus the grace, unless
        this process made sure of that time already."""
        terminate_at = session.end_at + self._backstop_grace
        if self._backstops.get(instance_id) == terminate_at:
            return None
        changed = await self._provider.move_backstop(instance_id, terminate_at)
        self._backstops[instance_id] = terminate_at
        if not changed:
            return None
        log.warning(
            "backstop repaired",
            extra={
                "session_id": session.session_id,
                "instance_id": instance_id,
                "terminate_at": terminate_at.isoformat(),
            },
        )
        when = terminate_at.astimezone(UTC)
        detail = f"its backstop was missing or wrong; set for {when:%Y-%m-%d %H:%M} UTC"
        return Repair("backstop_set", session.session_id, instance_id, detail)

    async def _stop_stray(self, info: InstanceInfo, why: str) -> Repair:
        await self._provider.terminate(info.instance_id)
        message = f"Terminated server {info.instance_id}: {why}."
        log.warning(
            "stray server terminated",
            extra={"session_id": info.session_id, "instance_id": info.instance_id, "why": why},
        )
        await self._alert(message)
        return Repair("terminated", info.session_id, info.instance_id, why)

    async def _resume(self, session: SessionState, adopting: str | None = None) -> Repair | None:
        """Finish a launch whose result was never recorded (``adopting`` the server found for
        it, if any), or end the session if its booked time is over."""
        if self._clock.now() >= session.end_at:
            ended = await self._sessions.terminate(
                session.session_id, "booked_time_over", actor=RECONCILER
            )
            detail = (
                "its launch was never recorded and its booked time is over; "
                f"billed {counted(ended.billed_minutes or 0, 'minute')}"
            )
            return Repair("ended", session.session_id, ended.instance_id, detail)
        resumed = await self._sessions.launch(session.session_id)
        if resumed.instance_id is not None:
            kind: RepairKind = "adopted" if resumed.instance_id == adopting else "resumed"
            return Repair(kind, session.session_id, resumed.instance_id, "its launch is recorded")
        if resumed.launch_failure is not None:
            detail = f"its launch failed: {resumed.launch_failure}"
            return Repair("launch_failed", session.session_id, None, detail)
        return None

    async def _maybe_lost(self, session: SessionState) -> Repair | None:
        """End a session whose recorded server the provider no longer has."""
        assert session.instance_id is not None
        info = await self._provider.describe(session.instance_id)
        if not info.is_over:
            return None
        ended = await self._sessions.terminate(
            session.session_id,
            "instance_lost",
            actor=RECONCILER,
            ended_at=self._sightings.last_known(session, info, self._clock.now()),
        )
        detail = (
            f"its server is {info.state}; billed {counted(ended.billed_minutes or 0, 'minute')}"
        )
        log.warning(
            "server lost",
            extra={"session_id": session.session_id, "instance_id": session.instance_id},
        )
        return Repair("lost", session.session_id, session.instance_id, detail)

    async def _release_logins(self, logins: LoginHolders) -> list[Repair | None]:
        repairs: list[Repair | None] = []
        for login, session_id in (await logins.holders()).items():
            repairs.append(
                await self._guarded(self._release_login(logins, login, session_id), session_id)
            )
        return repairs

    async def _release_login(
        self, logins: LoginHolders, login: str, session_id: str
    ) -> Repair | None:
        try:
            session = await self._sessions.get(session_id)
        except NotFound:
            session = None
        if session is not None and session.is_active:
            return None
        await logins.release(session_id)
        return Repair("released", session_id, None, f"login {login} was held after the session")

    async def _guarded(
        self,
        repair: Coroutine[Any, Any, Repair | None],
        session_id: str | None,
        instance_id: str | None = None,
    ) -> Repair | None:
        """Run one repair; a failure is reported and logged, and the pass goes on."""
        try:
            return await repair
        except Exception as error:
            log.exception(
                "reconciliation repair failed",
                extra={"session_id": session_id, "instance_id": instance_id},
            )
            return Repair("failed", session_id, instance_id, f"{type(error).__name__}: {error}")

    async def _alert(self, message: str) -> None:
        try:
            await self._notifier.notify(AdminAlertNotice(None, message))
        except Exception:
            log.exception("admin alert not delivered")
