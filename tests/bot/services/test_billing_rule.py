"""The billing rule (``bot.domain.billing``) holds on every path, whatever happens to the bot:
random sessions (started now or booked), extensions, stops by a member, an operator, the
booked end, the end of credit or a lost server; servers whose agent reports a mission, which rr
asks to end before terminating them (ended when asked, or cut off at the bound); the bot dying
before or after a cloud termination or at any moment, and coming back after a random delay to a
cloud whose backstop went on stopping servers meanwhile. The real services, view, scheduler and
reconciler run over one memory store on a fake clock; the cloud is the in-memory fake, with
launch times cut to whole seconds as EC2 reports them. Each restart is a new ``BotProcess`` over
the same store."""

import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import eventstore
from bot.cloud.base import InstanceInfo, LaunchRequest
from bot.domain.errors import DomainError
from bot.domain.pricing import cost_at_rate
from bot.domain.session import SessionState, SessionStatus, session_stream
from bot.domain.squadron import squadron_stream
from bot.services.reconcile import CloudReconciler
from eventstore import EventStore
from tests.bot.services.agent_reports import instructions, report
from tests.bot.services.fake_provider import FakeProvider
from tests.bot.services.harness import (
    GRACE,
    GUILD,
    HOUR,
    MINUTE,
    PRICING,
    START,
    BotProcess,
    member,
    operator,
)
from tests.fakes.clock import FakeClock, settle

RATE = PRICING.rate("medium")
Stop = Literal["none", "member", "admin", "lost", "credit"]
Crash = Literal["none", "before_terminate", "after_terminate"]
AgentKind = Literal["none", "silent", "answers"]
"""No agent; an agent reporting the mission running that never ends it (cut off at the bound);
an agent that reports the mission ended once rr asked."""
SECOND = timedelta(seconds=1)
_ACTIONS = frozenset({"member", "admin", "lost"})


class ProcessCrashed(Exception):
    """Stands for the bot process dying where it is raised."""


class Cloud(FakeProvider):
    """The fake cloud as one bot process sees it: launch times in whole seconds, as EC2 reports
    them, and (``crash``) the process dying at its first termination. A dead process reaches
    the cloud no more."""

    def __init__(self, clock: FakeClock, crash: Crash = "none", shared: FakeProvider | None = None):
        super().__init__(clock)
        if shared is not None:
            self.instances = shared.instances
            self._ids = shared._ids
        self.crash = crash
        self.dead = False

    async def launch(self, request: LaunchRequest) -> InstanceInfo:
        self._alive()
        info = await super().launch(request)
        assert info.launched_at is not None
        whole = info.launched_at.replace(microsecond=0)
        self.instances[info.instance_id].info = info = replace(info, launched_at=whole)
        return info

    async def terminate(self, instance_id: str) -> None:
        self._alive()
        if self.crash == "after_terminate":
            await super().terminate(instance_id)
        if self.crash != "none":
            self.dead = True
            raise ProcessCrashed
        await super().terminate(instance_id)

    async def describe(self, instance_id: str) -> InstanceInfo:
        self._alive()
        return await super().describe(instance_id)

    def backstops_until(self, now: datetime) -> None:
        """What the cloud's backstop did while no bot ran: every server whose backstop time
        came is terminated then."""
        for instance in self.instances.values():
            info = instance.info
            if info.state == "running" and instance.terminate_at <= now:
                stopped = instance.terminate_at
                instance.info = replace(info, state="terminated", address=None, stopped_at=stopped)

    def _alive(self) -> None:
        if self.dead:
            raise ProcessCrashed


@dataclass
class Scenario:
    later: int | None
    """Minutes ahead of now the session is booked for; None starts it now."""
    duration: int
    extensions: list[tuple[int, int]]
    """(minutes after the start, minutes added)."""
    stop: Stop
    stop_after: int
    """Minutes (and ``stop_seconds``) after the start when the stop happens, or, for "credit",
    how long the squadron's credit lasts."""
    stop_seconds: int
    crash: Crash
    down_after: int | None
    """Minutes after the start when the bot dies, whatever it is doing; None: it does not."""
    restart_after: int
    """Minutes the bot stays down after dying."""
    reconcile_first: bool
    """Whether a restarted bot reconciles before its scheduler runs, or after."""
    press_ms: int
    """Milliseconds past the second at which the member presses start."""
    agent: AgentKind = "none"


scenarios = st.builds(
    Scenario,
    later=st.one_of(st.none(), st.integers(30, 600)),
    duration=st.sampled_from([30, 45, 60, 120, 180]),
    extensions=st.lists(st.tuples(st.integers(0, 200), st.sampled_from([15, 30, 60])), max_size=3),
    stop=st.sampled_from(["none", "member", "admin", "lost", "credit"]),
    stop_after=st.integers(0, 400),
    stop_seconds=st.integers(0, 59),
    crash=st.sampled_from(["none", "before_terminate", "after_terminate"]),
    down_after=st.one_of(st.none(), st.integers(1, 400)),
    restart_after=st.sampled_from([0, 1, 7, 60, 300, 600]),
    reconcile_first=st.booleans(),
    press_ms=st.integers(0, 999),
    agent=st.sampled_from(["none", "silent", "answers"]),
)


@dataclass
class Run:
    """One bot process at a time over the one store and cloud."""

    store: EventStore
    clock: FakeClock
    cloud: Cloud
    bot: BotProcess
    reconciler: CloudReconciler
    reconcile_first: bool
    restarts: int = 0
    extended: list[int] = field(default_factory=list)

    @classmethod
    async def begin(cls, store: EventStore, clock: FakeClock, scenario: Scenario) -> "Run":
        cloud = Cloud(clock, scenario.crash)
        bot = BotProcess(store, clock, cloud)
        await bot.start(scheduler=True)
        return cls(store, clock, cloud, bot, _reconciler(bot), scenario.reconcile_first)

    async def restart_if_dead(self, down_for: timedelta) -> None:
        """A dead bot comes back ``down_for`` later and starts as the app does: reconciling the
        cloud with the records and running its scheduler (in either order)."""
        if not self.cloud.dead:
            return
        await self.bot.stop()
        await self.clock.advance(down_for)
        self.cloud.backstops_until(self.clock.now())
        self.cloud = Cloud(self.clock, shared=self.cloud)
        self.bot = BotProcess(self.store, self.clock, self.cloud)
        self.reconciler = _reconciler(self.bot)
        await self.bot.start(scheduler=not self.reconcile_first)
        await self.reconciler.reconcile()
        if self.reconcile_first:
            self.bot.scheduler.start()
        await settle()
        self.restarts += 1

    async def session(self, session_id: str) -> SessionState:
        return await self.bot.services.sessions.get(session_id)

    async def agent_beats(self, session_id: str, agent: AgentKind) -> None:
        """The server's agent, if it has one, reports to the bot now: the mission running, or
        (answering) ended once the bot asked it to end it."""
        state = await self.session(session_id)
        if agent == "none" or self.cloud.dead or state.ready_at is None or not state.is_active:
            return
        if state.instance_id not in self.cloud.running():
            return
        services = self.bot.services
        asked = any(i.kind == "end_mission" for i in instructions(services, state))
        await report(services, state, "stopped" if asked and agent == "answers" else "running")
        await services.background.drain()


def _reconciler(bot: BotProcess) -> CloudReconciler:
    return CloudReconciler(
        provider=bot.provider,
        view=bot.view,
        sessions=bot.services.sessions,
        notifier=bot.notifier,
        clock=bot.clock,
        sightings=bot.services.sightings,
        backstop_grace=GRACE,
    )


async def _stop(run: Run, scenario: Scenario, session_id: str) -> None:
    """The stop the scenario asks for, now; a lost server was last seen now."""
    try:
        match scenario.stop:
            case "member":
                await run.bot.services.sessions.stop(member(), session_id)
            case "admin":
                await run.bot.services.admin.terminate(operator(), session_id)
            case "lost":
                await run.reconciler.reconcile()
                state = await run.session(session_id)
                if state.instance_id is not None and state.instance_id in run.cloud.instances:
                    run.cloud.vanish(state.instance_id)
                await run.clock.advance(5 * MINUTE)
                await run.reconciler.reconcile()
    except (ProcessCrashed, DomainError):
        pass


def _issue(**changes: object) -> Scenario:
    plain = Scenario(
        later=None,
        duration=60,
        extensions=[],
        stop="none",
        stop_after=0,
        stop_seconds=0,
        crash="none",
        down_after=None,
        restart_after=0,
        reconcile_first=True,
        press_ms=0,
    )
    return replace(plain, **changes)  # type: ignore[arg-type]


@example(_issue(duration=30, press_ms=700))  # EC2's whole-second launch time added a minute
@example(_issue(stop="member", stop_after=10, crash="after_terminate", restart_after=300))
@example(
    _issue(later=120, extensions=[(30, 30)], stop="admin", stop_after=70, crash="before_terminate")
)
@example(_issue(later=60, stop="lost", stop_after=50, crash="before_terminate", restart_after=600))
@example(_issue(duration=30, stop="lost", stop_after=25))  # found gone at its booked end
@example(_issue(duration=180, stop="credit", stop_after=45, crash="after_terminate"))
@example(_issue(duration=120, stop="credit", stop_after=45, down_after=30, restart_after=300))
@example(_issue(stop="member", stop_after=20, agent="answers", crash="before_terminate"))
@example(_issue(stop="credit", duration=120, stop_after=45, agent="silent", down_after=46))
@example(_issue(agent="answers", down_after=60, restart_after=1))  # down during the wait
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(scenario=scenarios)
async def test_every_session_is_billed_by_the_rule_whatever_happens_to_the_bot(
    scenario: Scenario,
) -> None:
    clock = FakeClock(START + timedelta(milliseconds=scenario.press_ms))
    async with eventstore.open("memory://", clock=clock.now) as store:
        run = await Run.begin(store, clock, scenario)
        try:
            await _play(run, scenario)
        finally:
            await run.bot.stop()


async def _play(run: Run, scenario: Scenario) -> None:
    clock = run.clock
    booked_minutes = scenario.duration
    funded_minutes = None
    if scenario.stop == "credit":  # a booking for later needs its whole cost
        booked_now = booked_minutes if scenario.later is not None else 0
        funded_minutes = max(30, scenario.stop_after, booked_now)
    grant = 100_000 if funded_minutes is None else cost_at_rate(RATE, funded_minutes)
    await run.bot.fund(grant)
    services = run.bot.services
    if scenario.later is None:
        placed = await services.sessions.start(member(), duration_minutes=booked_minutes)
        await services.background.drain()
    else:
        start_at = clock.now() + scenario.later * MINUTE
        placed = await services.sessions.book(
            member(), start_at=start_at, duration_minutes=booked_minutes
        )
    await settle()  # the scheduler learns of the session before the clock moves
    session_id, start = placed.session_id, placed.start_at
    down_for = scenario.restart_after * MINUTE

    plan: list[tuple[datetime, str, int]] = [
        (start + offset * MINUTE, "extend", minutes) for offset, minutes in scenario.extensions
    ]
    plan.append((start + MINUTE, "beat", 0))  # the server is ready: its agent reports
    if scenario.stop in _ACTIONS:
        stop_at = start + timedelta(minutes=scenario.stop_after, seconds=scenario.stop_seconds)
        plan.append((stop_at, "stop", 0))
        plan.append((stop_at + 30 * SECOND, "beat", 0))
    if scenario.down_after is not None:
        plan.append((start + scenario.down_after * MINUTE, "down", 0))
    added = 0
    stopped_at: datetime | None = None
    for when, step, minutes in sorted(plan):
        if when > clock.now():
            await clock.set(when)
        await run.restart_if_dead(down_for)
        await run.agent_beats(session_id, scenario.agent)
        if step == "down":
            run.cloud.dead = True
            await run.restart_if_dead(down_for)
        elif step == "extend":
            try:
                await run.bot.services.sessions.extend(member(), session_id, minutes)
                await settle()
                added += minutes
            except DomainError:
                pass  # over: ended, stopping, out of credit or longer than allowed
        elif step == "stop":
            still = await run.session(session_id)
            if still.status in (SessionStatus.LAUNCHING, SessionStatus.RUNNING):
                never_served = scenario.stop == "lost" and still.ready_at is None
                stopped_at = start if never_served else clock.now()
                await _stop(run, scenario, session_id)
        await run.restart_if_dead(down_for)
        await run.agent_beats(session_id, scenario.agent)
    end_at = start + (booked_minutes + added) * MINUTE
    await clock.set(max(clock.now(), end_at - 30 * SECOND))
    for _ in range(3):  # up to the booked end, then the agent answering the end of its mission
        await run.restart_if_dead(down_for)
        await run.agent_beats(session_id, scenario.agent)
        await clock.advance(30 * SECOND)
    await clock.advance(HOUR)
    await run.restart_if_dead(down_for)
    await clock.advance(HOUR)

    ended = await run.session(session_id)
    assert ended.status is SessionStatus.ENDED, ended
    assert ended.end_at == end_at
    stops = [end_at]
    if stopped_at is not None:
        stops.append(stopped_at)
    if funded_minutes is not None:
        stops.append(start + funded_minutes * MINUTE)
    expected = max(0, math.ceil((min(stops) - start) / MINUTE))
    assert ended.billed_minutes == expected
    assert ended.billed_minutes <= booked_minutes + added
    assert ended.charged_cents == cost_at_rate(RATE, expected)
    if scenario.stop == "none":
        assert ended.billed_minutes == booked_minutes + added

    events = await run.bot.stream(session_stream(session_id))
    assert [e.type for e in events].count("SessionEnded") == 1
    squadron = await run.bot.squadron_in_store()
    ledger = [e.type for e in await run.bot.stream(squadron_stream(GUILD))]
    assert ledger.count("SessionCharged") == (1 if ended.charged_cents else 0)
    assert squadron.reservations == {}
    assert squadron.balance_cents == grant - (ended.charged_cents or 0)
    assert squadron.balance_cents >= 0
    assert ended.instance_id is not None
    assert ended.instance_id not in run.cloud.running()
