"""Sessions on the EC2 provider end to end: the real services, view and event store, boto3
against the moto server. Crashes are simulated by a provider that raises where the process
would have died; a second `BotProcess` over the same store is the restarted bot."""

import asyncio
import json
import logging
import math
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

import eventstore
from bot.cloud.base import InstanceInfo, LaunchRequest
from bot.cloud.ec2 import Ec2Provider
from bot.cloud.logins import StoredLoginPool
from bot.config import Ec2Settings, ScheduleSettings
from bot.domain.pricing import cost_at_rate
from bot.domain.session import SessionState, SessionStatus
from bot.notify import AdminAlertNotice, LaunchFailedNotice, SessionEndedNotice
from bot.services.lifecycle import HOOK_SILENCE_LIMIT, NO_LOGIN_MESSAGE
from bot.services.reconcile import CloudReconciler
from eventstore import EventStore
from tests.bot.cloud.helpers import (
    REGION,
    RR_URL,
    Aws,
    ProviderFactory,
    at,
    described,
    instances_tagged,
    recorded_calls,
    schedule_of,
    user_data_of,
    with_error,
    with_states,
    with_stop_time,
    without_error,
)
from tests.bot.services.harness import GRACE, GUILD, SCHEDULE, BotProcess, member, operator
from tests.fakes.clock import FakeClock, settle

pytestmark = pytest.mark.e2e

FUNDS = 10_000
MINUTE = timedelta(minutes=1)
DCS_SLOWEST_BOOT = timedelta(minutes=30)
"""DCS takes 10 to 30 minutes to come up on a fresh instance (reference notes on DCS hosting)."""


class ProcessCrashed(Exception):
    """Stands for the bot process dying at the point it is raised."""


class LoopbackProbe(Ec2Provider):
    """The EC2 provider with its game-port probe aimed at a listener on loopback: the public
    addresses moto hands out lead nowhere, and tests send no traffic off this machine."""

    dcs: asyncio.Server | None = None

    async def game_port_open(self, address: str, port: int) -> bool:
        if self.dcs is None:
            return False
        return await super().game_port_open("127.0.0.1", self.dcs.sockets[0].getsockname()[1])


class CrashesAfterLaunch(LoopbackProbe):
    async def launch(self, request: LaunchRequest) -> InstanceInfo:
        await super().launch(request)
        raise ProcessCrashed


class CrashesBeforeLaunch(LoopbackProbe):
    async def launch(self, request: LaunchRequest) -> InstanceInfo:
        raise ProcessCrashed


class IgnoresTerminate(LoopbackProbe):
    async def terminate(self, instance_id: str) -> None:
        return None


class CannotTerminate(LoopbackProbe):
    refused: str | None = None

    async def terminate(self, instance_id: str) -> None:
        if instance_id == self.refused:
            raise ConnectionError("EC2 did not answer")
        await super().terminate(instance_id)


class SlowListing(LoopbackProbe):
    """Lists the servers, then runs ``meanwhile`` before the listing reaches the reconciler:
    what other work does while a slow list call is under way."""

    meanwhile: Callable[[], Awaitable[object]] | None = None

    async def list_managed(self) -> list[InstanceInfo]:
        servers = await super().list_managed()
        if self.meanwhile is not None:
            await self.meanwhile()
        return servers


Bots = Callable[..., Awaitable[BotProcess]]


@pytest.fixture
async def store(clock: FakeClock) -> AsyncIterator[EventStore]:
    async with eventstore.open("memory://", clock=clock.now) as memory:
        yield memory


@pytest.fixture
async def bots(
    store: EventStore, clock: FakeClock, make_provider: ProviderFactory, ec2_settings: Ec2Settings
) -> AsyncIterator[Bots]:
    """Starts bot processes over the one store; the first funds the squadron and sets its
    region to the provider's."""
    started: list[BotProcess] = []

    async def start(
        kind: type[LoopbackProbe] = LoopbackProbe,
        *,
        logins: tuple[str, ...] = (),
        ec2: Any = None,
        scheduler: Any = None,
    ) -> BotProcess:
        provider = make_provider(ec2_settings, kind=kind, ec2=ec2, scheduler=scheduler)
        pool = StoredLoginPool(store, logins) if logins else None
        bot = BotProcess(store, clock, provider, login_pool=pool, rr_url=RR_URL)
        await bot.start()
        if not started:
            await bot.fund(FUNDS)
            manager = member(manager=True)
            await bot.services.squadrons.change_settings(manager, {"region": REGION})
        started.append(bot)
        return bot

    yield start
    for bot in started:
        await bot.stop()


def reconciler_of(bot: BotProcess, logins: StoredLoginPool | None = None) -> CloudReconciler:
    return CloudReconciler(
        provider=bot.provider,
        view=bot.view,
        sessions=bot.services.sessions,
        notifier=bot.notifier,
        clock=bot.clock,
        sightings=bot.services.sightings,
        logins=logins,
        backstop_grace=GRACE,
    )


def probe_of(bot: BotProcess) -> LoopbackProbe:
    assert isinstance(bot.provider, LoopbackProbe)
    return bot.provider


async def started(bot: BotProcess, minutes: int = 60) -> SessionState:
    """A session started now, its launch (in the background) finished."""
    session = await bot.services.sessions.start(member(), duration_minutes=minutes)
    await bot.services.background.drain()
    return await bot.services.sessions.get(session.session_id)


async def ready_by_probe(bot: BotProcess, session_id: str, clock: FakeClock) -> SessionState:
    """The session's server made ready by the game-port probe: no agent reports here (EC2 has
    no hook in moto), so rr falls back to the probe once the port has answered long enough."""
    dcs = probe_of(bot).dcs = await listening()
    async with dcs:
        await bot.services.sessions.check_ready(session_id)
        await clock.advance(HOOK_SILENCE_LIMIT)
        return await bot.services.sessions.check_ready(session_id)


async def listening() -> asyncio.Server:
    return await asyncio.start_server(lambda _reader, writer: writer.close(), "127.0.0.1", 0)


def run_tagged(aws: Aws, tags: dict[str, str]) -> str:
    """An instance started behind rr's back, with these tags."""
    reply = aws.ec2.run_instances(
        ImageId="ami-0123456789abcdef0",
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ],
    )
    instance_id: str = reply["Instances"][0]["InstanceId"]
    return instance_id


def expected_bill(session: SessionState, ended_at: datetime) -> tuple[int, int]:
    assert session.launched_at is not None
    minutes = math.ceil((ended_at - session.launched_at) / MINUTE)
    return minutes, cost_at_rate(session.rate_cents_per_hour, minutes)


async def test_a_launch_interrupted_by_a_crash_is_adopted_at_restart_and_billed(
    bots: Bots, aws: Aws, deployment: str, clock: FakeClock
) -> None:
    crashed = await bots(CrashesAfterLaunch)
    session = await started(crashed)
    assert session.status is SessionStatus.LAUNCHING and session.instance_id is None
    await crashed.stop()

    restarted = await bots()
    report = await reconciler_of(restarted).reconcile()

    instances = instances_tagged(aws, deployment, session.session_id)
    assert len(instances) == 1
    adopted = await restarted.services.sessions.get(session.session_id)
    assert adopted.instance_id == instances[0]["InstanceId"]
    assert report.count("adopted") == 1
    types = await restarted.types(f"mission#{session.session_id}")
    assert types.count("InstanceLaunchRequested") == 1 and types.count("InstanceLaunched") == 1

    await clock.advance(timedelta(minutes=45))
    ended = await restarted.services.sessions.stop(member(), session.session_id)

    minutes, amount = expected_bill(adopted, clock.now())
    assert (ended.billed_minutes, ended.charged_cents) == (minutes, amount)
    assert adopted.launched_at is not None and adopted.launched_at >= session.start_at
    balance = await restarted.services.squadrons.balance(session.guild_id)
    assert (balance.balance_cents, balance.reserved_cents) == (FUNDS - amount, 0)
    assert adopted.instance_id is not None
    assert described(aws, adopted.instance_id)["State"]["Name"] in ("shutting-down", "terminated")


async def test_a_launch_requested_but_never_sent_is_sent_again_at_restart(
    bots: Bots, aws: Aws, deployment: str
) -> None:
    crashed = await bots(CrashesBeforeLaunch)
    session = await started(crashed)
    await crashed.stop()

    restarted = await bots()
    report = await reconciler_of(restarted).reconcile()

    instances = instances_tagged(aws, deployment, session.session_id)
    assert len(instances) == 1
    assert instances[0]["ClientToken"] == f"{session.session_id}-1"
    resumed = await restarted.services.sessions.get(session.session_id)
    assert resumed.instance_id == instances[0]["InstanceId"]
    assert report.count("resumed") == 1


async def test_a_launch_left_unrecorded_past_its_booked_end_is_ended_not_resumed(
    bots: Bots, aws: Aws, deployment: str, clock: FakeClock
) -> None:
    crashed = await bots(CrashesBeforeLaunch)
    session = await started(crashed, minutes=30)
    await crashed.stop()
    await clock.set(session.end_at + timedelta(minutes=5))

    restarted = await bots()
    report = await reconciler_of(restarted).reconcile()

    ended = await restarted.services.sessions.get(session.session_id)
    assert ended.status is SessionStatus.ENDED and ended.billed_minutes == 0
    assert instances_tagged(aws, deployment, session.session_id) == []
    assert report.count("ended") == 1
    balance = await restarted.services.squadrons.balance(session.guild_id)
    assert (balance.balance_cents, balance.reserved_cents) == (FUNDS, 0)


async def test_a_launch_never_sent_and_then_refused_by_aws_is_marked_failed_at_restart(
    bots: Bots, aws: Aws, deployment: str, fresh_client: Callable[[str], Any]
) -> None:
    crashed = await bots(CrashesBeforeLaunch)
    session = await started(crashed)
    await crashed.stop()

    ec2 = with_error(fresh_client("ec2"), "RunInstances", "InsufficientInstanceCapacity")
    restarted = await bots(ec2=ec2)
    report = await reconciler_of(restarted).reconcile()

    assert report.count("launch_failed") == 1
    failed = await restarted.services.sessions.get(session.session_id)
    assert failed.status is SessionStatus.ENDED and failed.termination_reason == "launch_failed"
    assert instances_tagged(aws, deployment, session.session_id) == []
    notice = restarted.notifier.of_type(LaunchFailedNotice)[0]
    assert notice.message.startswith("AWS has no free i3en.large servers")
    balance = await restarted.services.squadrons.balance(session.guild_id)
    assert (balance.balance_cents, balance.reserved_cents) == (FUNDS, 0)


async def test_a_server_booting_as_slowly_as_dcs_can_is_not_given_up_by_default(
    bots: Bots, clock: FakeClock
) -> None:
    bot = await bots()
    session = await started(bot)
    assert session.launched_at is not None

    await clock.set(session.launched_at + DCS_SLOWEST_BOOT)
    due = await bot.view.due_actions(clock.now())

    assert [a.kind for a in due if a.session_id == session.session_id] == ["check_ready"]
    assert ScheduleSettings().readiness_timeout_minutes * MINUTE > DCS_SLOWEST_BOOT


async def test_a_server_that_never_becomes_ready_is_terminated_and_credited_back(
    bots: Bots, aws: Aws, deployment: str, clock: FakeClock
) -> None:
    bot = await bots()
    session = await started(bot)
    assert session.launched_at is not None and session.ready_at is None

    await clock.set(session.launched_at + SCHEDULE.readiness_timeout - MINUTE)
    early = await bot.view.due_actions(clock.now())
    await clock.set(session.launched_at + SCHEDULE.readiness_timeout)
    due = await bot.view.due_actions(clock.now())

    assert [a.kind for a in early if a.session_id == session.session_id] == ["check_ready"]
    assert [(a.kind, a.key_or_reason) for a in due] == [("terminate", "not_ready")]
    ended = await bot.services.sessions.terminate(session.session_id, "not_ready")
    assert ended.termination_reason == "not_ready"
    assert (ended.billed_minutes, ended.charged_cents) == (0, 0)
    balance = await bot.services.squadrons.balance(session.guild_id)
    assert (balance.balance_cents, balance.reserved_cents) == (FUNDS, 0)
    assert session.instance_id is not None
    assert described(aws, session.instance_id)["State"]["Name"] in ("shutting-down", "terminated")
    assert schedule_of(aws, deployment, session.instance_id) is None


async def test_a_ready_server_that_disappears_is_billed_to_when_it_was_last_seen(
    bots: Bots, aws: Aws, clock: FakeClock
) -> None:
    bot = await bots()
    session = await started(bot, minutes=120)
    assert session.instance_id is not None
    reconciler = reconciler_of(bot)
    ready = await ready_by_probe(bot, session.session_id, clock)
    assert ready.status is SessionStatus.RUNNING
    await clock.advance(timedelta(minutes=20))
    assert str(await reconciler.reconcile()).endswith("everything matches.")
    last_seen = clock.now()

    aws.ec2.terminate_instances(InstanceIds=[session.instance_id])
    await clock.advance(timedelta(minutes=15))
    report = await reconciler.reconcile()

    lost = await bot.services.sessions.get(session.session_id)
    assert report.count("lost") == 1
    assert lost.termination_reason == "instance_lost" and lost.ended_at == last_seen
    minutes, amount = expected_bill(ready, last_seen)
    assert (lost.billed_minutes, lost.charged_cents) == (minutes, amount)
    balance = await bot.services.squadrons.balance(session.guild_id)
    assert (balance.balance_cents, balance.reserved_cents) == (FUNDS - amount, 0)
    notice = bot.notifier.of_type(SessionEndedNotice)[-1]
    assert notice.reason == "instance_lost"


async def ready_then_bot_down(bots: Bots, clock: FakeClock, minutes: int) -> SessionState:
    """A session whose server became ready, run by a bot process that has since stopped."""
    bot = await bots()
    session = await started(bot, minutes=minutes)
    ready = await ready_by_probe(bot, session.session_id, clock)
    assert ready.status is SessionStatus.RUNNING and ready.instance_id is not None
    await bot.stop()
    return ready


async def test_a_server_lost_while_the_bot_was_down_is_billed_to_when_ec2_says_it_stopped(
    bots: Bots, aws: Aws, clock: FakeClock, fresh_client: Callable[[str], Any]
) -> None:
    ready = await ready_then_bot_down(bots, clock, minutes=120)
    assert ready.instance_id is not None
    await clock.advance(timedelta(minutes=50))
    stopped_at = clock.now()
    aws.ec2.terminate_instances(InstanceIds=[ready.instance_id])
    await clock.advance(timedelta(minutes=20))

    ec2 = with_stop_time(fresh_client("ec2"), ready.instance_id, stopped_at)
    restarted = await bots(ec2=ec2)
    report = await reconciler_of(restarted).reconcile()

    lost = await restarted.services.sessions.get(ready.session_id)
    assert report.count("lost") == 1
    assert lost.termination_reason == "instance_lost" and lost.ended_at == stopped_at
    minutes, amount = expected_bill(ready, stopped_at)
    assert (lost.billed_minutes, lost.charged_cents) == (minutes, amount)
    balance = await restarted.services.squadrons.balance(ready.guild_id)
    assert (balance.balance_cents, balance.reserved_cents) == (FUNDS - amount, 0)


async def test_a_server_the_backstop_stopped_while_the_bot_was_down_is_billed_to_its_end(
    bots: Bots, aws: Aws, clock: FakeClock, fresh_client: Callable[[str], Any]
) -> None:
    ready = await ready_then_bot_down(bots, clock, minutes=60)
    assert ready.instance_id is not None
    backstop_at = ready.end_at + timedelta(minutes=15)
    aws.ec2.terminate_instances(InstanceIds=[ready.instance_id])
    await clock.set(backstop_at + timedelta(minutes=30))

    ec2 = with_stop_time(fresh_client("ec2"), ready.instance_id, backstop_at)
    restarted = await bots(ec2=ec2)
    await reconciler_of(restarted).reconcile()

    lost = await restarted.services.sessions.get(ready.session_id)
    assert lost.termination_reason == "instance_lost" and lost.ended_at == ready.end_at
    minutes, amount = expected_bill(ready, ready.end_at)
    assert (lost.billed_minutes, lost.charged_cents) == (minutes, amount)


async def test_a_server_still_running_after_its_session_ended_is_terminated(
    bots: Bots, aws: Aws
) -> None:
    bot = await bots(IgnoresTerminate)
    session = await started(bot)
    assert session.instance_id is not None
    await bot.services.sessions.stop(member(), session.session_id)
    assert described(aws, session.instance_id)["State"]["Name"] == "running"

    operator_side = await bots()
    report = await reconciler_of(operator_side).reconcile()

    assert report.count("terminated") == 1
    assert described(aws, session.instance_id)["State"]["Name"] in ("shutting-down", "terminated")
    [alert] = operator_side.notifier.of_type(AdminAlertNotice)
    assert alert.guild_id is None and session.instance_id in alert.message


async def test_a_server_shutting_down_after_its_session_ended_raises_no_alarm(
    bots: Bots, fresh_client: Callable[[str], Any]
) -> None:
    bot = await bots(IgnoresTerminate)
    session = await started(bot)
    assert session.instance_id is not None
    await bot.services.sessions.stop(member(), session.session_id)

    ec2 = with_states(fresh_client("ec2"), {session.instance_id: "shutting-down"})
    operator_side = await bots(ec2=ec2)
    report = await reconciler_of(operator_side).reconcile()

    assert str(report).endswith("everything matches.")
    assert operator_side.notifier.of_type(AdminAlertNotice) == []


async def test_a_server_whose_session_ends_during_the_pass_is_no_stray(
    bots: Bots, aws: Aws
) -> None:
    bot = await bots(SlowListing)
    session = await started(bot)
    assert session.instance_id is not None
    listing = bot.provider
    assert isinstance(listing, SlowListing)
    listing.meanwhile = lambda: bot.services.sessions.stop(member(), session.session_id)

    report = await reconciler_of(bot).reconcile()

    assert report.count("terminated") == 0
    assert bot.notifier.of_type(AdminAlertNotice) == []
    ended = await bot.services.sessions.get(session.session_id)
    assert (ended.status, ended.termination_reason) == (SessionStatus.ENDED, "stopped_by_user")
    assert described(aws, session.instance_id)["State"]["Name"] in ("shutting-down", "terminated")


async def test_servers_of_no_known_session_are_terminated_and_operators_told(
    bots: Bots, aws: Aws, deployment: str
) -> None:
    bot = await bots()

    unknown = run_tagged(aws, {"rr:deployment": deployment, "rr:mission": str(uuid.uuid4())})
    untagged = run_tagged(aws, {"rr:deployment": deployment})
    elsewhere = run_tagged(
        aws, {"rr:deployment": f"{deployment}-other", "rr:mission": str(uuid.uuid4())}
    )

    report = await reconciler_of(bot).reconcile()

    assert report.count("terminated") == 2
    assert str(report).startswith("Checked 2 servers against 0 sessions: 2 terminated.\n- ")
    for instance_id in (unknown, untagged):
        assert described(aws, instance_id)["State"]["Name"] in ("shutting-down", "terminated")
    assert described(aws, elsewhere)["State"]["Name"] == "running"
    alerts = bot.notifier.of_type(AdminAlertNotice)
    assert len(alerts) == 2 and all(alert.guild_id is None for alert in alerts)


async def test_the_backstop_follows_the_session_from_launch_to_end(
    bots: Bots, aws: Aws, deployment: str
) -> None:
    bot = await bots()
    session = await started(bot, minutes=60)
    assert session.instance_id is not None
    grace = timedelta(minutes=15)

    first = schedule_of(aws, deployment, session.instance_id)
    extended = await bot.services.sessions.extend(member(), session.session_id, 30)
    moved = schedule_of(aws, deployment, session.instance_id)
    await bot.services.sessions.stop(member(), session.session_id)
    gone = schedule_of(aws, deployment, session.instance_id)

    assert first is not None and moved is not None
    assert first["ScheduleExpression"] == at(session.end_at + grace)
    assert moved["ScheduleExpression"] == at(extended.end_at + grace)
    assert gone is None


async def test_a_backstop_the_launch_could_not_set_is_set_by_reconciliation(
    bots: Bots, aws: Aws, deployment: str, fresh_client: Callable[[str], Any]
) -> None:
    scheduler = with_error(fresh_client("scheduler"), "CreateSchedule", "ThrottlingException")
    bot = await bots(scheduler=scheduler)
    session = await started(bot)
    assert session.status is SessionStatus.LAUNCHING and session.instance_id is not None
    assert schedule_of(aws, deployment, session.instance_id) is None
    without_error(scheduler, "CreateSchedule")

    report = await reconciler_of(bot).reconcile()

    schedule = schedule_of(aws, deployment, session.instance_id)
    assert schedule is not None
    assert schedule["ScheduleExpression"] == at(session.end_at + GRACE)
    assert report.count("backstop_set") == 1
    assert str(report).startswith("Checked 1 server against 1 session: 1 backstop set.\n- ")


async def test_a_backstop_an_extension_could_not_move_is_moved_by_reconciliation(
    bots: Bots, aws: Aws, deployment: str, fresh_client: Callable[[str], Any]
) -> None:
    scheduler = fresh_client("scheduler")
    bot = await bots(scheduler=scheduler)
    session = await started(bot)
    assert session.instance_id is not None
    with_error(scheduler, "UpdateSchedule", "InternalServerException", 500)
    extended = await bot.services.sessions.extend(member(), session.session_id, 30)
    without_error(scheduler, "UpdateSchedule")
    stale = schedule_of(aws, deployment, session.instance_id)
    assert stale is not None and stale["ScheduleExpression"] == at(session.end_at + GRACE)

    report = await reconciler_of(bot).reconcile()

    moved = schedule_of(aws, deployment, session.instance_id)
    assert moved is not None and moved["ScheduleExpression"] == at(extended.end_at + GRACE)
    assert [repair.kind for repair in report.repairs] == ["backstop_set"]


async def test_reconciliation_asks_the_scheduler_only_about_backstops_it_has_not_checked(
    bots: Bots, fresh_client: Callable[[str], Any]
) -> None:
    scheduler = fresh_client("scheduler")
    bot = await bots(scheduler=scheduler)
    session = await started(bot)
    reconciler = reconciler_of(bot)
    calls = recorded_calls(scheduler)

    first = await reconciler.reconcile()
    checked = calls.copy()
    calls.clear()
    second = await reconciler.reconcile()
    unchanged = calls.copy()
    await bot.services.sessions.extend(member(), session.session_id, 30)
    calls.clear()
    third = await reconciler.reconcile()

    assert checked == ["GetSchedule"]
    assert unchanged == []
    assert calls == ["GetSchedule"]
    assert first.repairs == second.repairs == third.repairs == ()


async def test_a_capacity_shortage_fails_the_launch_plainly_and_releases_the_credit(
    bots: Bots, fresh_client: Callable[[str], Any]
) -> None:
    ec2 = with_error(fresh_client("ec2"), "RunInstances", "InsufficientInstanceCapacity")
    bot = await bots(ec2=ec2)

    session = await started(bot)

    assert session.status is SessionStatus.ENDED and session.termination_reason == "launch_failed"
    notice = bot.notifier.of_type(LaunchFailedNotice)[0]
    assert notice.message.startswith("AWS has no free i3en.large servers in eu-west-1")
    balance = await bot.services.squadrons.balance(session.guild_id)
    assert (balance.balance_cents, balance.reserved_cents) == (FUNDS, 0)


async def test_each_server_gets_its_own_login_and_none_is_shared(
    bots: Bots, aws: Aws, deployment: str
) -> None:
    login = f"/rr/{deployment}/ed-login-1"
    bot = await bots(logins=(login,))

    first = await started(bot)
    second = await started(bot)

    assert first.login_ref == login and first.instance_id is not None
    assert f"-Name '{login}'" in user_data_of(aws, first.instance_id)
    assert second.status is SessionStatus.ENDED and second.instance_id is None
    assert bot.notifier.of_type(LaunchFailedNotice)[0].message == NO_LOGIN_MESSAGE

    await bot.services.sessions.stop(member(), first.session_id)
    third = await started(bot)

    assert third.login_ref == login and third.instance_id is not None


async def test_the_login_credential_is_never_in_events_logs_or_user_data(
    bots: Bots, aws: Aws, store: EventStore, deployment: str, caplog: pytest.LogCaptureFixture
) -> None:
    login = f"/rr/{deployment}/ed-login-1"
    secret = "pilot@example.com:Sup3r-s3cret!"
    aws.ssm.put_parameter(Name=login, Value=secret, Type="SecureString")
    caplog.set_level(logging.DEBUG, logger="rr")
    bot = await bots(logins=(login,))

    session = await started(bot)
    await bot.services.sessions.stop(member(), session.session_id)

    assert session.login_ref == login and session.instance_id is not None
    assert secret not in user_data_of(aws, session.instance_id)
    events = [event async for event in store.read_all()]
    assert any(event.data.get("login_ref") == login for event in events)
    for event in events:
        assert secret not in json.dumps([event.data, event.metadata])
    rr_records = [record for record in caplog.records if record.name.startswith("rr")]
    assert rr_records
    for record in rr_records:
        assert secret not in record.getMessage() and secret not in repr(vars(record))


async def test_a_login_still_held_after_its_session_ended_is_released(
    bots: Bots, store: EventStore, deployment: str
) -> None:
    login = f"/rr/{deployment}/ed-login-1"
    bot = await bots(logins=(login,))
    pool = StoredLoginPool(store, (login,))
    await pool.acquire("a-session-that-never-was")

    report = await reconciler_of(bot, pool).reconcile()

    assert report.count("released") == 1
    assert await pool.holders() == {}


async def test_a_repair_that_fails_is_reported_and_the_pass_goes_on(
    bots: Bots, aws: Aws, deployment: str
) -> None:
    bot = await bots(CannotTerminate)
    stuck = run_tagged(aws, {"rr:deployment": deployment})
    stray = run_tagged(aws, {"rr:deployment": deployment})
    probe = bot.provider
    assert isinstance(probe, CannotTerminate)
    probe.refused = stuck

    report = await reconciler_of(bot).reconcile()

    assert report.count("failed") == 1 and report.count("terminated") == 1
    assert f"- failed {stuck}: ConnectionError: EC2 did not answer" in str(report)
    assert described(aws, stray)["State"]["Name"] in ("shutting-down", "terminated")


async def test_reconciliation_also_runs_every_few_minutes(
    bots: Bots, aws: Aws, deployment: str, clock: FakeClock
) -> None:
    bot = await bots()
    reconciler = reconciler_of(bot)
    reconciler.start(timedelta(minutes=5))
    try:
        stray = run_tagged(aws, {"rr:deployment": deployment})
        await settle()
        assert clock.deadlines() == [clock.now() + timedelta(minutes=5)]

        await clock.advance(timedelta(minutes=5))
        alert = await bot.notifier.wait_for(AdminAlertNotice)
    finally:
        await reconciler.stop()

    assert stray in alert.message
    assert described(aws, stray)["State"]["Name"] in ("shutting-down", "terminated")


def with_launch_time(client: Any, when: datetime) -> Any:
    """Make ``client`` report every instance's LaunchTime as ``when``: EC2 gives it in whole
    seconds, and moto stamps its own wall-clock time while the tests run on a fake clock."""

    def rewrite(parsed: dict[str, Any], **_: object) -> None:
        instances = list(parsed.get("Instances", []))
        for reservation in parsed.get("Reservations", []):
            instances += reservation.get("Instances", [])
        for instance in instances:
            instance["LaunchTime"] = when

    for operation in ("RunInstances", "DescribeInstances"):
        client.meta.events.register(f"after-call.ec2.{operation}", rewrite)
    return client


async def test_a_session_run_to_its_end_is_billed_its_booked_minutes_though_ec2_rounds_its_launch(
    bots: Bots, clock: FakeClock, fresh_client: Callable[[str], Any]
) -> None:
    await clock.advance(timedelta(milliseconds=700))
    pressed = clock.now()
    ec2 = with_launch_time(fresh_client("ec2"), pressed.replace(microsecond=0))
    bot = await bots(ec2=ec2)
    session = await started(bot, minutes=30)
    assert session.launched_at is not None and session.launched_at < session.start_at == pressed

    await clock.set(session.end_at)
    ended = await bot.services.sessions.terminate(session.session_id, "booked_time_over")

    assert (ended.billed_minutes, ended.charged_cents) == (
        30,
        cost_at_rate(ended.rate_cents_per_hour, 30),
    )
    balance = await bot.services.squadrons.balance(session.guild_id)
    assert (balance.balance_cents, balance.reserved_cents) == (FUNDS - ended.charged_cents, 0)


async def test_a_server_lost_while_the_bot_was_down_is_billed_no_further_than_its_credit(
    bots: Bots, aws: Aws, clock: FakeClock, fresh_client: Callable[[str], Any]
) -> None:
    bot = await bots()
    credit = 180
    await bot.services.squadrons.refund(operator(), GUILD, FUNDS - credit, "45 minutes left")
    session = await started(bot, minutes=120)
    ready = await ready_by_probe(bot, session.session_id, clock)
    assert ready.status is SessionStatus.RUNNING and ready.instance_id is not None
    await bot.stop()
    backstop_at = ready.end_at + GRACE
    aws.ec2.terminate_instances(InstanceIds=[ready.instance_id])
    await clock.set(backstop_at + timedelta(minutes=30))

    ec2 = with_stop_time(fresh_client("ec2"), ready.instance_id, backstop_at)
    restarted = await bots(ec2=ec2)
    await reconciler_of(restarted).reconcile()

    lost = await restarted.services.sessions.get(ready.session_id)
    assert lost.termination_reason == "instance_lost"
    funded = credit * 60 // ready.rate_cents_per_hour
    assert (lost.billed_minutes, lost.charged_cents) == (funded, credit)
    balance = await restarted.services.squadrons.balance(ready.guild_id)
    assert (balance.balance_cents, balance.reserved_cents) == (0, 0)
