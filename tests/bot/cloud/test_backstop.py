"""The termination backstop: an EventBridge Scheduler one-time schedule per instance, on moto."""

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from bot.cloud.ec2 import Ec2Provider
from bot.config import Ec2Settings
from tests.bot.cloud.helpers import (
    ROLE_ARN,
    Aws,
    ProviderFactory,
    at,
    described,
    launch_request,
    recorded_calls,
    schedule_of,
    with_error,
)
from tests.fakes.clock import FakeClock


async def test_launch_sets_a_schedule_that_terminates_the_instance_at_the_backstop_time(
    provider: Ec2Provider, aws: Aws, deployment: str, clock: FakeClock
) -> None:
    request = launch_request(clock)

    info = await provider.launch(request)

    schedule = schedule_of(aws, deployment, info.instance_id)
    assert schedule is not None
    assert schedule["ScheduleExpression"] == at(request.terminate_at)
    assert schedule["ScheduleExpressionTimezone"] == "UTC"
    assert schedule["ActionAfterCompletion"] == "DELETE"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    target = schedule["Target"]
    assert target["Arn"] == "arn:aws:scheduler:::aws-sdk:ec2:terminateInstances"
    assert target["RoleArn"] == ROLE_ARN
    assert json.loads(target["Input"]) == {"InstanceIds": [info.instance_id]}


async def test_moving_the_backstop_reschedules_it(
    provider: Ec2Provider, aws: Aws, deployment: str, clock: FakeClock
) -> None:
    request = launch_request(clock)
    info = await provider.launch(request)
    later = request.terminate_at + timedelta(hours=1)

    moved = await provider.move_backstop(info.instance_id, later)

    assert moved is True
    schedule = schedule_of(aws, deployment, info.instance_id)
    assert schedule is not None and schedule["ScheduleExpression"] == at(later)
    assert json.loads(schedule["Target"]["Input"]) == {"InstanceIds": [info.instance_id]}
    assert schedule["ActionAfterCompletion"] == "DELETE"


async def test_moving_a_missing_backstop_creates_it(
    provider: Ec2Provider, aws: Aws, deployment: str, clock: FakeClock
) -> None:
    info = await provider.launch(launch_request(clock))
    aws.scheduler.delete_schedule(Name=f"rr-{deployment}-{info.instance_id}")
    later = clock.now() + timedelta(hours=5)

    created = await provider.move_backstop(info.instance_id, later)

    assert created is True
    schedule = schedule_of(aws, deployment, info.instance_id)
    assert schedule is not None and schedule["ScheduleExpression"] == at(later)


async def test_moving_the_backstop_to_the_time_it_has_only_reads_it(
    make_provider: ProviderFactory,
    ec2_settings: Ec2Settings,
    fresh_client: Callable[[str], Any],
    aws: Aws,
    deployment: str,
    clock: FakeClock,
) -> None:
    scheduler = fresh_client("scheduler")
    provider = make_provider(ec2_settings, scheduler=scheduler)
    request = launch_request(clock)
    info = await provider.launch(request)
    calls = recorded_calls(scheduler)

    moved = await provider.move_backstop(info.instance_id, request.terminate_at)

    assert moved is False
    assert calls == ["GetSchedule"]
    schedule = schedule_of(aws, deployment, info.instance_id)
    assert schedule is not None and schedule["ScheduleExpression"] == at(request.terminate_at)


async def test_a_backstop_time_already_past_is_set_a_minute_ahead(
    provider: Ec2Provider, aws: Aws, deployment: str, clock: FakeClock
) -> None:
    info = await provider.launch(launch_request(clock))

    await provider.move_backstop(info.instance_id, clock.now() - timedelta(hours=1))

    schedule = schedule_of(aws, deployment, info.instance_id)
    assert schedule is not None
    assert schedule["ScheduleExpression"] == at(clock.now() + timedelta(minutes=1))


async def test_terminating_deletes_the_backstop_and_a_missing_one_is_fine(
    provider: Ec2Provider, aws: Aws, deployment: str, clock: FakeClock
) -> None:
    info = await provider.launch(launch_request(clock))

    await provider.terminate(info.instance_id)
    await provider.terminate(info.instance_id)

    assert schedule_of(aws, deployment, info.instance_id) is None


async def test_a_backstop_that_cannot_be_deleted_does_not_hold_up_the_termination(
    make_provider: ProviderFactory,
    ec2_settings: Ec2Settings,
    fresh_client: Callable[[str], Any],
    aws: Aws,
    deployment: str,
    clock: FakeClock,
) -> None:
    scheduler = with_error(
        fresh_client("scheduler"), "DeleteSchedule", "InternalServerException", 500
    )
    provider = make_provider(ec2_settings, scheduler=scheduler)
    info = await provider.launch(launch_request(clock))

    await provider.terminate(info.instance_id)

    assert described(aws, info.instance_id)["State"]["Name"] in ("shutting-down", "terminated")
    assert schedule_of(aws, deployment, info.instance_id) is not None


async def test_an_adopted_launch_keeps_one_backstop(
    provider: Ec2Provider, aws: Aws, deployment: str, clock: FakeClock
) -> None:
    request = launch_request(clock)
    first = await provider.launch(request)

    again = await provider.launch(request)

    assert again.instance_id == first.instance_id
    names = [
        s["Name"] for s in aws.scheduler.list_schedules(NamePrefix=f"rr-{deployment}-")["Schedules"]
    ]
    assert names == [f"rr-{deployment}-{first.instance_id}"]


async def test_a_server_whose_backstop_cannot_be_set_is_launched_all_the_same(
    make_provider: ProviderFactory,
    ec2_settings: Ec2Settings,
    fresh_client: Callable[[str], Any],
    aws: Aws,
    deployment: str,
    clock: FakeClock,
) -> None:
    scheduler = with_error(fresh_client("scheduler"), "CreateSchedule", "AccessDeniedException")
    provider = make_provider(ec2_settings, scheduler=scheduler)

    info = await provider.launch(launch_request(clock))

    assert info.state in ("pending", "running")
    assert described(aws, info.instance_id)["State"]["Name"] in ("pending", "running")
    assert schedule_of(aws, deployment, info.instance_id) is None
