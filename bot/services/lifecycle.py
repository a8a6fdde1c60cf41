"""A session's server, from launch to termination: record the intent, act, record the result.

Every step is safe to repeat, because the scheduler repeats what it finds undone after a crash
or a failure: a launch repeats its attempt with the same client token (the provider starts
nothing new), a termination that was requested but not finished terminates (idempotently) and
bills, and whatever another process already recorded makes the step decide nothing.
"""

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.agentapi import AgentApi, ServerReport
from bot.clock import Clock
from bot.cloud.base import AgentBoot, ComputeProvider, InstanceInfo, LaunchError, LaunchRequest
from bot.domain import session as sessions
from bot.domain import squadron as squadrons
from bot.domain.actor import Actor
from bot.domain.billing import bill, billable_start, credit_runs_out, funded_until
from bot.domain.errors import Conflict
from bot.domain.events import TerminationReason
from bot.domain.pricing import Limits, cost_at_rate
from bot.domain.session import (
    END_WARNING_PREFIX,
    LIVE_STATUSES,
    READY_NOTICE,
    SERVER_UP_STATUSES,
    SessionState,
    SessionStatus,
)
from bot.domain.settings import SettingsError
from bot.domain.squadron import SquadronState, squadron_stream
from bot.notify import (
    DeliveryFailed,
    EndWarningNotice,
    LaunchFailedNotice,
    LowCreditNotice,
    Notice,
    Notifier,
    ProgressNotice,
    ReadyNotice,
    ReminderNotice,
    SessionEndedNotice,
    SessionExtendedNotice,
)
from bot.services.background import BackgroundTasks
from bot.services.debriefs import Debriefs
from bot.services.game_chat import GRACEFUL_END_LINE, chat_line
from bot.services.logged import logged
from bot.services.server_files import server_files
from bot.services.sightings import Sightings
from bot.services.streams import Streams, decide_session, decide_squadron
from eventstore import AlreadyAppended, NewEvent, StoredEvent

log = logging.getLogger("rr.services")
_MINUTE = timedelta(minutes=1)

SCHEDULER = Actor.system("scheduler")
DEADLINES: frozenset[TerminationReason] = frozenset(
    {"booked_time_over", "out_of_credit", "not_ready", "idle"}
)
"""Reasons the bot stops a server for because a time came; by the time it acts (perhaps in
another process) an extension, more credit, readiness or a pilot joining may have moved it."""
_CREDIT_BOUND: frozenset[TerminationReason] = frozenset({"out_of_credit", "instance_lost"})
"""Stops that may come after the credit ran out (the bot was down when it did, and a lost
server cannot be stopped any more): billed no further than the credit, topped up first."""
CREDIT_LOW = "credit-low"
NO_LOGIN_MESSAGE = "Every DCS server login is in use; try again once another server has stopped."
DEFAULT_BACKSTOP_GRACE = timedelta(minutes=15)
DEFAULT_GRACEFUL_END = timedelta(minutes=2)
MISSION_UNDER_WAY = frozenset({"running", "loading"})
"""What a server's agent reports of a mission worth ending cleanly before the server goes."""
MISSION_OVER = frozenset({"stopped", "unresponsive"})
"""What an agent reports once the mission has ended, or once its hook can no longer end it."""
HOOK_SILENCE_LIMIT = timedelta(minutes=3)
"""How long a server's game port answers, its DCS hook never having reported, before the
server counts as ready anyway (the agent or its hook is broken, the game may still be fine)."""


class LoginPool(Protocol):
    """The ED server logins a deployment owns: one per running server (EC2 only)."""

    async def acquire(self, session_id: str) -> str | None:
        """A login reference for the session's server, or None when every login is in use."""
        ...

    async def release(self, session_id: str) -> None:
        """Give the session's login back; releasing twice is not an error."""
        ...


@dataclass(frozen=True)
class Funding:
    """When a server's reservation ran out before a top-up from available credit, and after."""

    ran_out_at: datetime
    runs_out: datetime


@dataclass(frozen=True)
class ComputeSettings:
    """``deployment`` tags every server; before it is terminated, a server whose agent reports
    a mission is given ``graceful_end`` to end it cleanly; the backstop stops it
    ``backstop_grace`` after its end, the hard limit, so the longer of the two. ``rr_url`` is
    where servers' agents reach rr (its public web address); None launches servers without an
    agent, ready as soon as their game port answers."""

    deployment: str
    backstop_grace: timedelta = DEFAULT_BACKSTOP_GRACE
    graceful_end: timedelta = DEFAULT_GRACEFUL_END
    rr_url: str | None = None

    def __post_init__(self) -> None:
        if self.backstop_grace <= self.graceful_end:
            raise ValueError(
                "The backstop grace must be longer than the graceful end, or the backstop "
                "would cut graceful ends short."
            )


def _first_id(stored: list[StoredEvent], fallback: str | None) -> str | None:
    return stored[0].id if stored else fallback


class Lifecycle:
    def __init__(
        self,
        *,
        streams: Streams,
        provider: ComputeProvider,
        sightings: Sightings,
        notifier: Notifier,
        clock: Clock,
        compute: ComputeSettings,
        limits: Limits,
        background: BackgroundTasks,
        agents: AgentApi,
        login_pool: LoginPool | None = None,
        debriefs: Debriefs | None = None,
    ) -> None:
        self._streams = streams
        self._debriefs = debriefs
        self._agents = agents
        self._background = background
        self._provider = provider
        self._sightings = sightings
        self._notifier = notifier
        self._clock = clock
        self._compute = compute
        self._limits = limits
        self._logins = login_pool
        self._launching: set[str] = set()
        """Sessions this process is launching right now; a second launch of one waits its turn
        by doing nothing (the first records the result)."""
        self._told_starting_dcs: set[str] = set()
        """Sessions whose "starting DCS" progress was told; the probe repeats every 30 s."""
        self._port_open_since: dict[str, datetime] = {}
        """When this process first found a launching server's game port answering."""
        self._reported_states: dict[str, str] = {}
        """The state each server last reported to this process, to see its mission start."""
        self._delivering: set[tuple[str, str]] = set()
        """(session, notice key) being sent right now, which the scheduler does not send too."""
        self._ending: dict[str, TerminationReason] = {}
        """Sessions whose server this process asked to end its mission and waits for (with the
        stop's reason); a restart forgets them, and the next try of the stop asks again."""
        agents.heartbeats.subscribe(self._state_reported)
        agents.heartbeats.subscribe(self._heard)

    # --- launch -----------------------------------------------------------------------------

    async def launch(
        self, session_id: str, *, actor: Actor = SCHEDULER, causation_id: str | None = None
    ) -> SessionState:
        """Launch the session's server if it is booked, or finish a launch left half done."""
        if session_id in self._launching:
            return await self._streams.session(session_id)
        self._launching.add(session_id)
        try:
            with logged("launch", session_id=session_id) as fields:
                return await self._launch(session_id, actor, causation_id, fields)
        finally:
            self._launching.discard(session_id)

    async def _launch(
        self,
        session_id: str,
        actor: Actor,
        causation_id: str | None,
        fields: dict[str, object],
    ) -> SessionState:
        state = await self._streams.session(session_id)
        fields["guild_id"] = state.guild_id
        if state.status is SessionStatus.BOOKED:
            state, stored = await self._request_launch(state, actor, causation_id)
            if not stored:
                fields["outcome"] = "launched elsewhere"
                return state
            causation_id = stored[0].id
            if self._logins is not None and state.login_ref is None:
                fields["outcome"] = "no login free"
                return await self._fail_launch(
                    state, LaunchError("limit", NO_LOGIN_MESSAGE), actor, causation_id
                )
        elif not launch_unfinished(state):
            fields["outcome"] = f"nothing to do ({state.status})"
            return state
        fields["attempt"] = state.attempt
        settings = (await self._streams.squadron(state.guild_id)).settings
        try:
            files = server_files(state, settings)
        except SettingsError as error:
            fields["outcome"] = "bad settings"
            return await self._fail_launch(
                state, LaunchError("config", str(error)), actor, causation_id
            )
        if self._compute.rr_url is not None and await self._agents.credentials.issued(
            state.session_id, state.attempt
        ):
            # A retry after a crash: the server started with the credential already issued
            # (its boot carries it) must keep it, so it is adopted rather than launched again.
            started = await self._provider.find_launch(state.session_id, state.attempt)
            if started is not None:
                fields["instance_id"] = started.instance_id
                fields["outcome"] = "adopted"
                return await self._record_launched(state, started, None, actor, causation_id)
        assert state.client_token is not None
        request = LaunchRequest(
            session_id=state.session_id,
            guild_id=state.guild_id,
            attempt=state.attempt,
            client_token=state.client_token,
            size=state.size,
            region=state.region,
            files=files,
            game_port=settings.game_port,
            terminate_at=self._backstop(state),
            login_ref=state.login_ref,
            deployment=self._compute.deployment,
            agent=await self._agent_boot(state),
        )
        try:
            info = await self._provider.launch(request)
        except LaunchError as error:
            fields["outcome"] = f"launch error ({error.reason})"
            return await self._fail_launch(state, error, actor, causation_id)
        fields["instance_id"] = info.instance_id
        return await self._record_launched(state, info, request.terminate_at, actor, causation_id)

    async def _agent_boot(self, state: SessionState) -> AgentBoot | None:
        """A new credential for this launch attempt and where to use it; any earlier one of the
        session stops working. None when servers run no agent."""
        if self._compute.rr_url is None:
            return None
        credential = await self._agents.credentials.mint(state.session_id, state.attempt)
        return AgentBoot(self._compute.rr_url, credential)

    async def _request_launch(
        self, state: SessionState, actor: Actor, causation_id: str | None
    ) -> tuple[SessionState, list[StoredEvent]]:
        """Record the launch request; nothing when another process requested it first (it
        launches, or a later readiness check finishes its launch if it died) or the session is
        over, and then the login taken for it goes back unless the session runs on it."""
        login_ref = None if self._logins is None else await self._logins.acquire(state.session_id)

        def decide(current: SessionState | None) -> list[NewEvent]:
            if current is None or current.status is not SessionStatus.BOOKED:
                return []
            request = sessions.RequestLaunch(
                actor=actor, now=self._clock.now(), login_ref=login_ref
            )
            return decide_session(request, current)

        # A failed write keeps the login: the session's retry gets the same one back (logins
        # are held per session), reconciliation frees those of sessions that ended, and
        # releasing here could free the login of a server another process just recorded.
        launching, stored = await self._streams.write_session(
            state.session_id, decide, causation_id=causation_id
        )
        assert launching is not None
        if stored:
            await self._tell(ProgressNotice(launching, "launching"))
        elif login_ref is not None:
            launching = await self._streams.reload_session(state.session_id)
            if not (launching.is_active and launching.login_ref == login_ref):
                await self._release_login(state.session_id)
        return launching, stored

    async def _record_launched(
        self,
        state: SessionState,
        info: InstanceInfo,
        backstop: datetime | None,
        actor: Actor,
        causation_id: str | None,
    ) -> SessionState:
        """Record the server ``info`` and follow it; ``backstop`` is the one it was launched
        with, None if not known (an adopted server), when it is set again to be sure."""
        try:
            launched, stored = await self._write_launched(
                state.session_id, info, state.attempt, actor, causation_id
            )
        except Conflict:
            log.warning(
                "launched server no longer wanted; terminating it",
                extra={"session_id": state.session_id, "instance_id": info.instance_id},
            )
            await self._provider.terminate(info.instance_id)
            return await self._streams.reload_session(state.session_id)
        assert launched is not None
        if stored:
            await self._tell(ProgressNotice(launched, "booting"))
        if self._backstop(launched) != backstop:
            await self._move_backstop(launched)
        if launched.status is SessionStatus.TERMINATING:
            reason = launched.termination_reason or "stopped_by_user"
            return await self.terminate(launched.session_id, reason, actor=actor)
        return await self.check_ready(launched.session_id, actor=actor)

    async def _fail_launch(
        self, state: SessionState, error: LaunchError, actor: Actor, causation_id: str | None
    ) -> SessionState:
        """Record the failed attempt and release the credit in one write, end the session
        (nothing billed) and tell the squadron in plain words."""
        now = self._clock.now()
        try:
            failed, stored = await self._write_launch_failure(
                state, error, actor, now, causation_id
            )
        except Conflict:
            # A stop adopted and ended this attempt's server while the launch was under way.
            log.info("launch failure moot", extra={"session_id": state.session_id})
            return await self._streams.reload_session(state.session_id)
        assert failed is not None
        ended, _ = await self._end(failed, actor, _first_id(stored, causation_id))
        if stored:
            await self._tell(LaunchFailedNotice(ended, error.message))
        return ended

    async def _write_launch_failure(
        self,
        state: SessionState,
        error: LaunchError,
        actor: Actor,
        now: datetime,
        causation_id: str | None,
    ) -> tuple[SessionState | None, list[StoredEvent]]:
        return await self._streams.write_both(
            state.session_id,
            state.guild_id,
            lambda session, squadron: (
                decide_session(
                    sessions.RecordLaunchFailed(
                        actor=actor,
                        now=now,
                        attempt=state.attempt,
                        reason=error.reason,
                        message=error.message,
                    ),
                    session,
                ),
                decide_squadron(
                    squadrons.ReleaseReservation(actor=actor, session_id=state.session_id),
                    squadron,
                ),
            ),
            causation_id=causation_id,
        )

    # --- readiness --------------------------------------------------------------------------

    async def check_ready(self, session_id: str, *, actor: Actor = SCHEDULER) -> SessionState:
        """Probe a launching server: record it ready once its game port answers, record it
        lost if the provider no longer has it, or finish a launch a crash interrupted."""
        with logged("check ready", session_id=session_id) as fields:
            state = await self._streams.session(session_id)
            fields["guild_id"] = state.guild_id
            if state.status is not SessionStatus.LAUNCHING:
                fields["outcome"] = f"nothing to do ({state.status})"
                return state
            if state.instance_id is None:
                fields["outcome"] = "launch unfinished"
                return await self.launch(session_id, actor=actor)
            info = await self._provider.describe(state.instance_id)
            fields["instance_state"] = info.state
            if info.is_over:
                fields["outcome"] = "lost"
                # It never served a game, so nothing is billed (as for "not_ready").
                return await self.terminate(
                    session_id, "instance_lost", actor=actor, ended_at=state.launched_at
                )
            if info.state != "running" or info.address is None:
                fields["outcome"] = "booting"
                return state
            settings = (await self._streams.squadron(state.guild_id)).settings
            port = info.game_port or settings.game_port
            if await self._agents.heartbeats.mission_running(session_id, state.attempt):
                fields["outcome"] = "mission running"
                return await self._record_ready(state, info.address, port, actor)
            if not await self._provider.game_port_open(info.address, port):
                fields["outcome"] = "starting dcs"
                await self._tell_starting_dcs(state)
                return state
            if await self._ready_by_port(state):
                fields["outcome"] = "game port answers"
                return await self._record_ready(state, info.address, port, actor)
            fields["outcome"] = "mission not running"
            await self._tell_starting_dcs(state)
            return state

    async def _ready_by_port(self, state: SessionState) -> bool:
        """Whether a server whose game port answers counts as ready without its hook saying the
        mission runs: at once for a server without an agent, else once the port has answered
        for `HOOK_SILENCE_LIMIT` (as this process saw it) and the hook never reported (no
        agent heard, or an agent whose DCS hook is silent). A hook that reports a mission
        loading or stopped is believed: the server is not flyable yet."""
        if self._compute.rr_url is None:
            return True
        now = self._clock.now()
        since = self._port_open_since.setdefault(state.session_id, now)
        if now - since < HOOK_SILENCE_LIMIT:
            return False
        if await self._agents.heartbeats.hook_heard(state.session_id, state.attempt):
            return False
        log.warning(
            "no word from the server's DCS hook; ready because its game port answers",
            extra={"session_id": state.session_id},
        )
        return True

    async def _tell_starting_dcs(self, state: SessionState) -> None:
        if state.session_id not in self._told_starting_dcs:
            self._told_starting_dcs.add(state.session_id)
            await self._tell(ProgressNotice(state, "starting_dcs"))

    def _state_reported(self, report: ServerReport) -> None:
        """A server reporting its mission running, having not before, has the readiness check
        run now rather than at its next probe."""
        before = self._reported_states.get(report.session_id)
        self._reported_states[report.session_id] = report.state
        if report.state == "running" and before != "running":
            self._background.spawn(
                self.check_ready(report.session_id), name=f"ready:{report.session_id}"
            )

    async def _record_ready(
        self,
        state: SessionState,
        address: str,
        port: int,
        actor: Actor,
    ) -> SessionState:
        ready, stored = await self._streams.write_session(
            state.session_id,
            lambda current: decide_session(
                sessions.RecordReady(
                    actor=actor,
                    now=self._clock.now(),
                    address=address,
                    port=port,
                    ready_at=self._clock.now(),
                ),
                current,
            ),
        )
        assert ready is not None
        self._told_starting_dcs.discard(state.session_id)
        self._port_open_since.pop(state.session_id, None)
        if stored:
            await self._tell(ProgressNotice(ready, "ready"))
            await self._send_recorded(ready, READY_NOTICE, first_try=True)
        return ready

    # --- extension --------------------------------------------------------------------------

    async def follow_extension(self, state: SessionState, minutes: int, actor: Actor) -> None:
        """Move the server's backstop to the session's new end (after an extension) and tell
        the squadron."""
        if state.instance_id is not None:
            await self._move_backstop(state)
        notice = SessionExtendedNotice(state, minutes, actor.user_id)
        self._say_notice_in_game(state, notice)
        await self._tell(notice)

    async def follow_cancellation(self, state: SessionState) -> None:
        """Tell the squadron a booking was cancelled before it started."""
        await self._tell(SessionEndedNotice(state, "cancelled", 0, 0))

    async def _move_backstop(self, state: SessionState) -> None:
        assert state.instance_id is not None
        try:
            await self._provider.move_backstop(state.instance_id, self._backstop(state))
        except Exception:
            log.exception(
                "backstop not moved; the server may stop at its old end",
                extra={"session_id": state.session_id, "instance_id": state.instance_id},
            )

    def _backstop(self, state: SessionState) -> datetime:
        return state.end_at + self._compute.backstop_grace

    # --- termination ------------------------------------------------------------------------

    async def terminate(
        self,
        session_id: str,
        reason: TerminationReason,
        *,
        actor: Actor = SCHEDULER,
        ended_at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> SessionState:
        """Stop the session's server and bill it: request the termination (unless already
        requested), terminate the instance, then record the end and the charge in one write.

        ``ended_at`` is when the server stopped running if that is known better than now (an
        instance found gone: the last time it was known running); it is recorded with the
        request as the moment billing stops, or the moment the credit ran out if that came
        first ("out_of_credit", "instance_lost"). A stop requested before (perhaps by a
        process that died since) keeps the moment it recorded. A session that never launched
        and is still booked is cancelled instead, its credit released. A stop for a deadline
        that no longer holds (extended, ready, credit set aside) does nothing; before stopping a
        server for lack of credit, the squadron's available credit is set aside.
        """
        with logged("terminate", session_id=session_id, reason=reason) as fields:
            state = await self._streams.session(session_id)
            fields["guild_id"] = state.guild_id
            if not state.is_active:
                self._ending.pop(session_id, None)
                fields["outcome"] = f"nothing to do ({state.status})"
                return state
            if state.status is SessionStatus.BOOKED and reason != "stopped_by_user":
                state = await self._cancel_unlaunched(state, reason, actor)
                if state.status is SessionStatus.BOOKED:
                    fields["outcome"] = "no longer due"
                    return state
                if not state.is_active:
                    fields["outcome"] = "cancelled before launch"
                    return state
            if (
                ended_at is None
                and state.status in SERVER_UP_STATUSES
                and state.instance_id is not None
            ):
                info = await self._provider.describe(state.instance_id)
                if info.is_over:
                    # Lost before its end came: billed to when it was last known running.
                    reason = "instance_lost"
                    ended_at = self._sightings.last_known(state, info, self._clock.now())
            stop_at = ended_at
            if reason in _CREDIT_BOUND and state.status is not SessionStatus.TERMINATING:
                funding = await self._fund_from_credit(state, actor)
                now = self._clock.now()
                if reason == "out_of_credit" and funding is not None and funding.runs_out > now:
                    fields["outcome"] = "funded from available credit"
                    return await self._streams.session(session_id)
                if funding is not None:
                    stop_at = min(stop_at or now, funding.runs_out)
            causation_id = None
            if state.status is not SessionStatus.TERMINATING:
                state, causation_id = await self._request_termination(
                    state, reason, actor, idempotency_key, stop_at
                )
                if not state.is_active:
                    fields["outcome"] = "ended elsewhere"
                    return state
                if state.status is not SessionStatus.TERMINATING:
                    fields["outcome"] = "no longer due"
                    return state
            if state.instance_id is None and state.launch_failure is None and state.attempt:
                state = await self._adopt(state, actor)
            if state.instance_id is not None:
                fields["instance_id"] = state.instance_id
                waiting = await self._graceful_end(state, actor)
                if waiting is not None:
                    fields["outcome"] = "ending the mission first"
                    return waiting
                await self._provider.terminate(state.instance_id)
            ended, stored = await self._end(state, actor, causation_id)
            if not stored:
                fields["outcome"] = "ended elsewhere"
                return ended
            fields["billed_minutes"] = ended.billed_minutes
            fields["amount_cents"] = ended.charged_cents
            await self._tell(
                SessionEndedNotice(
                    ended,
                    ended.termination_reason or reason,
                    ended.billed_minutes or 0,
                    ended.charged_cents or 0,
                )
            )
            if self._debriefs is not None:
                self._debriefs.follow(ended)
            return ended

    # --- graceful end -----------------------------------------------------------------------

    async def _graceful_end(self, state: SessionState, actor: Actor) -> SessionState | None:
        """The stopping session while its server is given time to end its mission cleanly, so
        the caller leaves the server running for now; None once it may be terminated.

        A server whose agent reports a mission under way is asked to end it, so DCS writes its
        Tacview, track and save files; `GracefulEndStarted` records the bound, never past the
        backstop. The server is terminated once its agent reports the mission over (the
        heartbeat wakes the stop), or at the bound. Billing stopped with the stop's request,
        recorded before, so this wait is not billed. After a restart the next try of the stop
        asks again (instructions live in memory) and keeps the recorded bound.
        """
        if state.graceful_end_until is None:
            if not self._mission_to_save(state):
                return None
            state = await self._start_graceful_end(state, actor)
            if state.graceful_end_until is None or state.status is not SessionStatus.TERMINATING:
                return None
        if self._clock.now() >= state.graceful_end_until or self._graceful_end_done(state):
            self._ending.pop(state.session_id, None)
            return None
        if state.session_id not in self._ending:
            self._ending[state.session_id] = state.termination_reason or "stopped_by_user"
            self._agents.instructions.post_end_mission(state.session_id)
            if self._debriefs is not None:
                # The agent uploads once the mission is over and its files are written.
                await self._debriefs.request_upload(state)
        return state

    def _mission_to_save(self, state: SessionState) -> bool:
        """A server that served a game and whose agent reports a mission under way; a lost one
        can end nothing."""
        report = self._reported(state)
        return (
            state.ready_at is not None
            and state.termination_reason != "instance_lost"
            and report is not None
            and report.state in MISSION_UNDER_WAY
        )

    def _graceful_end_done(self, state: SessionState) -> bool:
        """The agent reports the mission ended (its files are written), or a hook that no
        longer answers, and the debrief it was asked for uploaded: nothing more to wait for."""
        report = self._reported(state)
        return report is not None and self._over_and_debriefed(report)

    def _over_and_debriefed(self, report: ServerReport) -> bool:
        return report.state in MISSION_OVER and (
            self._debriefs is None or self._debriefs.upload_done(report.session_id)
        )

    async def _start_graceful_end(self, state: SessionState, actor: Actor) -> SessionState:
        """Record the bound of the graceful end and tell the pilots; the session as it is now
        (unchanged when the bound would fall at the backstop or another process ended it)."""
        now = self._clock.now()
        until = min(now + self._compute.graceful_end, self._backstop(state))
        if until <= now:
            return state
        try:
            started, stored = await self._streams.write_session(
                state.session_id,
                lambda current: decide_session(
                    sessions.StartGracefulEnd(actor=actor, now=self._clock.now(), until=until),
                    current,
                ),
            )
        except Conflict:
            return await self._streams.reload_session(state.session_id)
        assert started is not None
        if stored:
            self._say_in_game(started, GRACEFUL_END_LINE)
        return started

    def _heard(self, report: ServerReport) -> None:
        """A server ending its mission for rr reports it over and its debrief uploaded:
        terminate it now, not at the bound (in the background: this runs inside the agent's
        heartbeat, before the heartbeat's acknowledgements, so the upload's is heard with the
        next one)."""
        reason = self._ending.get(report.session_id)
        if reason is None or not self._over_and_debriefed(report):
            return
        del self._ending[report.session_id]
        self._background.spawn(
            self.terminate(report.session_id, reason), name=f"graceful-end:{report.session_id}"
        )

    def _reported(self, state: SessionState) -> ServerReport | None:
        """The latest report of the session's agent for its current launch, if any."""
        report = self._agents.heartbeats.latest(state.session_id)
        return report if report is not None and report.attempt == state.attempt else None

    def _say_in_game(self, state: SessionState, text: str) -> None:
        """Post ``text`` in the game's chat when the server's agent reports a mission running;
        else nothing (no pilot would read it)."""
        report = self._reported(state)
        if report is not None and report.state == "running":
            self._agents.instructions.post_chat(state.session_id, text)

    async def request_stop(
        self,
        session_id: str,
        reason: TerminationReason,
        *,
        actor: Actor,
        idempotency_key: str | None,
    ) -> SessionState:
        """Record that the session stops now, and nothing else: once this returns, the stop
        holds and is billed to this moment even if this process dies before terminating the
        server (the scheduler finishes it), so a member may be told "stopping" only after it.
        An operator's stop of a booking that never launched cancels it instead."""
        state = await self._streams.session(session_id)
        if state.status is SessionStatus.TERMINATING:
            return state
        if state.status is SessionStatus.BOOKED and reason != "stopped_by_user":
            return await self._cancel_unlaunched(state, reason, actor)
        requested, _ = await self._request_termination(state, reason, actor, idempotency_key)
        return requested

    async def _request_termination(
        self,
        state: SessionState,
        reason: TerminationReason,
        actor: Actor,
        idempotency_key: str | None,
        stop_at: datetime | None = None,
    ) -> tuple[SessionState, str | None]:
        """Record the termination request with the moment billing stops (``stop_at``, else
        now); the session comes back unchanged (not terminating) when the deadline behind
        ``reason`` no longer holds."""

        def decide(current: SessionState | None) -> list[NewEvent]:
            if reason == "out_of_credit" and current is not None and current.end_at != state.end_at:
                return []  # extended since its credit was looked at: the view plans again
            request = sessions.RequestTermination(
                actor=actor, now=self._clock.now(), reason=reason, stop_at=stop_at
            )
            return decide_session(request, current)

        try:
            requested, stored = await self._streams.write_session(
                state.session_id, decide, idempotency_key=idempotency_key
            )
        except AlreadyAppended:
            return await self._streams.reload_session(state.session_id), None
        except Conflict:
            current = await self._streams.reload_session(state.session_id)
            if current.is_active and reason not in DEADLINES:
                raise
            return current, None
        assert requested is not None
        return requested, _first_id(stored, None)

    async def _fund_from_credit(self, state: SessionState, actor: Actor) -> Funding | None:
        """Set the squadron's available credit aside for a server whose reservation runs out
        before its booked end (up to what the rest of the booked time costs), deciding on the
        ledger as stored; None when the session holds no reservation or never launched."""
        start = billable_start(state)
        if start is None or state.rate_cents_per_hour <= 0:
            return None
        rate = state.rate_cents_per_hour
        booked_run = cost_at_rate(rate, max(0, math.ceil((state.end_at - start) / _MINUTE)))
        funding: Funding | None = None

        def decide(squadron: SquadronState) -> list[NewEvent]:
            nonlocal funding
            reserved = squadron.reservations.get(state.session_id)
            if reserved is None:
                funding = None
                return []
            amount = max(min(booked_run - reserved, squadron.available_cents), 0)
            funding = Funding(
                ran_out_at=funded_until(start, reserved, rate),
                runs_out=funded_until(start, reserved + amount, rate),
            )
            if amount == 0:
                return []
            reserve = squadrons.Reserve(
                actor=actor, session_id=state.session_id, amount=amount, limits=self._limits
            )
            return decide_squadron(reserve, squadron)

        self._streams.squadrons.forget(squadron_stream(state.guild_id))
        _, stored = await self._streams.write_squadron(state.guild_id, decide)
        if stored:
            log.info(
                "reservation topped up from available credit",
                extra={"session_id": state.session_id, "guild_id": state.guild_id},
            )
        return funding

    async def _adopt(self, state: SessionState, actor: Actor) -> SessionState:
        """Record the server a launch attempt started but did not record (a crash or a stop
        raced it), so it is terminated and billed."""
        info = await self._provider.find_launch(state.session_id, state.attempt)
        if info is None:
            return state
        log.info(
            "adopting unrecorded server",
            extra={"session_id": state.session_id, "instance_id": info.instance_id},
        )
        adopted, _ = await self._write_launched(state.session_id, info, state.attempt, actor)
        assert adopted is not None
        return adopted

    async def _write_launched(
        self,
        session_id: str,
        info: InstanceInfo,
        attempt: int,
        actor: Actor,
        causation_id: str | None = None,
    ) -> tuple[SessionState | None, list[StoredEvent]]:
        """Record that ``info`` is the server launch ``attempt`` started."""
        launched_at = info.launched_at or self._clock.now()
        return await self._streams.write_session(
            session_id,
            lambda current: decide_session(
                sessions.RecordLaunched(
                    actor=actor,
                    now=self._clock.now(),
                    attempt=attempt,
                    instance_id=info.instance_id,
                    provider=self._provider.name,
                    launched_at=launched_at,
                ),
                current,
            ),
            causation_id=causation_id,
        )

    async def _end(
        self, state: SessionState, actor: Actor, causation_id: str | None
    ) -> tuple[SessionState, list[StoredEvent]]:
        """Record the end with its bill and the squadron's charge of the same bill in one
        write; returns the ended session and the events stored (none when another process
        recorded it first). The bill comes from the recorded facts alone, so an end recorded
        late (a crash, a failed cloud call) bills what one recorded at once would have."""

        def decide(
            session: SessionState | None, squadron: SquadronState
        ) -> tuple[list[NewEvent], list[NewEvent]]:
            if session is None or session.status is not SessionStatus.TERMINATING:
                return [], []
            now = self._clock.now()
            charged = bill(session, now)
            ending = sessions.RecordEnded(actor=actor, now=now)
            settle: squadrons.SquadronCommand = (
                squadrons.Charge(
                    actor=actor,
                    session_id=session.session_id,
                    minutes=charged.minutes,
                    amount=charged.cents,
                )
                if charged.minutes or charged.cents
                else squadrons.ReleaseReservation(actor=actor, session_id=session.session_id)
            )
            return decide_session(ending, session), decide_squadron(settle, squadron)

        ended, stored = await self._streams.write_both(
            state.session_id, state.guild_id, decide, causation_id=causation_id
        )
        assert ended is not None
        self._told_starting_dcs.discard(state.session_id)
        self._port_open_since.pop(state.session_id, None)
        self._reported_states.pop(state.session_id, None)
        if stored:
            await self._release_login(state.session_id)
            await self._end_agent(ended)
        return ended, stored

    async def _end_agent(self, ended: SessionState) -> None:
        """Revoke the ended session's credential and drop what the agent API keeps of it; the
        end is recorded already (and its view makes the credential refused), so a failure here
        is only logged."""
        try:
            await self._agents.end(ended.session_id, ended.termination_reason or "ended")
        except Exception:
            log.exception("agent credential not revoked", extra={"session_id": ended.session_id})

    async def _cancel_unlaunched(
        self, state: SessionState, reason: TerminationReason, actor: Actor
    ) -> SessionState:
        """Cancel a booking that never launched and release its credit, in one write; returns
        the session as it now is, which another process may have launched meanwhile (then its
        credit stays reserved, for the termination to charge)."""
        now = self._clock.now()

        def decide(
            session: SessionState | None, squadron: SquadronState
        ) -> tuple[list[NewEvent], list[NewEvent]]:
            if session is None or session.status is not SessionStatus.BOOKED:
                return [], []
            if reason == "booked_time_over" and now < session.end_at:
                return [], []
            release = squadrons.ReleaseReservation(actor=actor, session_id=session.session_id)
            return (
                decide_session(sessions.Cancel(actor=actor, now=now), session),
                decide_squadron(release, squadron),
            )

        cancelled, stored = await self._streams.write_both(state.session_id, state.guild_id, decide)
        assert cancelled is not None
        if stored:
            await self._tell(SessionEndedNotice(cancelled, reason, 0, 0))
        return cancelled

    # --- reminders --------------------------------------------------------------------------

    async def send_reminder(
        self, session_id: str, key: str, *, actor: Actor = SCHEDULER
    ) -> SessionState:
        """Record the reminder, then send it: once per key, ever, across processes."""
        with logged("reminder", session_id=session_id, key=key) as fields:
            if key == CREDIT_LOW:
                current = await self._streams.session(session_id)
                funding = await self._fund_from_credit(current, actor)
                if funding is not None and (
                    funding.runs_out > funding.ran_out_at or funding.runs_out >= current.end_at
                ):
                    fields["guild_id"] = current.guild_id
                    fields["outcome"] = "funded from available credit"
                    return current
            try:
                state, stored = await self._streams.write_session(
                    session_id,
                    lambda current: decide_session(
                        sessions.RecordReminder(actor=actor, now=self._clock.now(), key=key),
                        current,
                    ),
                )
            except Conflict:
                fields["outcome"] = "no longer wanted"
                return await self._streams.session(session_id)
            assert state is not None
            fields["guild_id"] = state.guild_id
            if not stored:
                fields["outcome"] = "already sent"
                return state
            await self._send_recorded(state, key, first_try=True)
            return state

    async def deliver(self, session_id: str, key: str) -> SessionState:
        """Send a notice that was recorded but whose delivery is not confirmed (the bot crashed
        or Discord failed in between); raises ``DeliveryFailed`` when it fails again, for the
        scheduler to back off. A session past its notices gets none."""
        with logged("deliver", session_id=session_id, key=key) as fields:
            state = await self._streams.session(session_id)
            fields["guild_id"] = state.guild_id
            if key not in state.undelivered_notices or state.status not in LIVE_STATUSES:
                fields["outcome"] = "nothing to do"
                return state
            await self._send_recorded(state, key, first_try=False)
            return state

    async def _send_recorded(self, state: SessionState, key: str, *, first_try: bool) -> None:
        """Send the notice recorded as ``key``, then record that it was delivered.

        Failing on its first try (just after it was recorded) it is logged and left to the
        scheduler, which sends it again; failing later, ``DeliveryFailed`` reaches the
        scheduler. A notice this process is sending already is left to that send.
        """
        slot = (state.session_id, key)
        if slot in self._delivering:
            return
        self._delivering.add(slot)
        delivered = False
        try:
            notice = await self._recorded_notice(state, key)
            if first_try:  # just recorded: in the game once, however often Discord is retried
                self._say_notice_in_game(state, notice)
            await self._notifier.notify(notice)
            delivered = True
        except Exception as error:
            if not first_try:
                raise DeliveryFailed(f"notice {key} not delivered") from error
            log.warning(
                "notice not delivered; the scheduler sends it again",
                exc_info=not isinstance(error, DeliveryFailed),
                extra={"session_id": state.session_id, "key": key},
            )
            return
        finally:
            if not delivered:
                self._delivering.discard(slot)
        # Confirmed in the background: a stop cancelling the scheduler's action now would
        # otherwise leave a notice that was sent unconfirmed, and sent again after a restart.
        self._background.spawn(
            self._confirm_delivered(slot), name=f"delivered:{state.session_id}:{key}"
        )

    async def _confirm_delivered(self, slot: tuple[str, str]) -> None:
        session_id, key = slot
        try:
            await self._streams.write_session(
                session_id,
                lambda current: decide_session(
                    sessions.RecordDelivered(actor=SCHEDULER, now=self._clock.now(), key=key),
                    current,
                ),
            )
        finally:
            self._delivering.discard(slot)

    def _say_notice_in_game(self, state: SessionState, notice: Notice) -> None:
        line = chat_line(notice)
        if line is not None:
            self._say_in_game(state, line)

    async def _recorded_notice(self, state: SessionState, key: str) -> Notice:
        if key == READY_NOTICE:
            assert state.address is not None and state.port is not None
            settings = (await self._streams.squadron(state.guild_id)).settings
            srs_port = settings.srs.port if settings.srs.enabled else None
            report = self._agents.heartbeats.latest(state.session_id)
            mission = report.mission if report and report.mission else state.mission_name
            return ReadyNotice(
                state, state.address, state.port, settings.password or None, srs_port, mission
            )
        return await self._reminder(state, key)

    async def _reminder(self, state: SessionState, key: str) -> Notice:
        now = self._clock.now()
        if key.startswith(END_WARNING_PREFIX):
            return EndWarningNotice(state, _minutes_until(state.end_at, now))
        if key == CREDIT_LOW and state.launched_at is not None:
            squadron = await self._streams.squadron(state.guild_id)
            runs_out = credit_runs_out(state, squadron.reservations.get(state.session_id, 0))
            if runs_out is not None:
                return LowCreditNotice(state, _minutes_until(runs_out, now))
        return ReminderNotice(key, state)

    # --- shared -----------------------------------------------------------------------------

    async def _release_login(self, session_id: str) -> None:
        if self._logins is not None:
            await self._logins.release(session_id)

    async def _tell(self, notice: Notice) -> None:
        """Notify; the event is recorded already, so a notifier's failure only gets logged."""
        try:
            await self._notifier.notify(notice)
        except Exception:
            log.exception(
                "notifier failed",
                extra={"notice": type(notice).__name__, "session_id": notice.session_id},
            )


def launch_unfinished(state: SessionState) -> bool:
    """A launch was requested but neither its server nor its failure is recorded."""
    return (
        state.status is SessionStatus.LAUNCHING
        and state.instance_id is None
        and state.launch_failure is None
    )


def _minutes_until(when: datetime, now: datetime) -> int:
    return max(0, math.ceil((when - now) / _MINUTE))
