"""The deployed stack runs a session: rr's real EC2 provider and DynamoDB store, configured
only from the stack's outputs, launch a server from the stack's launch template into its
subnet and security group with its instance profile, set the backstop with its role, and end
it, the bill recorded in the stack's table."""

from pathlib import Path
from typing import Any

import pytest

from bot.domain.session import SessionState, SessionStatus
from tests.bot.cloud.helpers import tags_of
from tests.deploy.session import (
    run_session,
    use_file_store,
    use_stack_settings,
    use_store_and_secrets,
)
from tests.deploy.stack import Stack
from tests.fakes.clock import FakeClock

pytestmark = pytest.mark.e2e


def put_logins(admin: Any, stack: Stack) -> None:
    for name in stack.settings["RR_EC2_LOGIN_PARAMETERS"].split(","):
        admin("ssm").put_parameter(Name=name, Value='{"username": "u"}', Type="SecureString")


async def test_a_session_runs_on_the_stack_from_its_outputs_alone(
    stack: Stack,
    admin: Any,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    moto_endpoint: str,
    tmp_path: Path,
) -> None:
    put_logins(admin, stack)
    settings = use_stack_settings(monkeypatch, stack.settings, moto_endpoint)
    seen: dict[str, Any] = {}

    def while_running(session: SessionState) -> None:
        reply = admin("ec2").describe_instances(InstanceIds=[session.instance_id])
        seen["instance"] = reply["Reservations"][0]["Instances"][0]
        name = f"rr-{stack.deployment}-{session.instance_id}"
        seen["backstop"] = admin("scheduler").get_schedule(Name=name)

    run = await run_session(settings, clock, while_running)
    kept = await use_file_store(settings, clock)
    await use_store_and_secrets(settings, clock, tmp_path / "keys.json")

    instance = seen["instance"]
    assert tags_of(instance)["aws:ec2launchtemplate:id"] == stack.resources["ServerLaunchTemplate"]
    assert instance["ImageId"] == stack.image_id
    assert instance["SubnetId"] == stack.resources["ServerSubnet"]
    assert [g["GroupId"] for g in instance["SecurityGroups"]] == [
        stack.resources["ServerSecurityGroup"]
    ]
    assert instance["IamInstanceProfile"]["Arn"] == stack.settings["RR_EC2_INSTANCE_PROFILE"]
    assert tags_of(instance)["rr:deployment"] == stack.deployment
    assert seen["backstop"]["Target"]["RoleArn"] == stack.settings["RR_EC2_BACKSTOP_ROLE_ARN"]
    assert run.ended.status is SessionStatus.ENDED
    ended = admin("ec2").describe_instances(InstanceIds=[run.launched.instance_id])
    assert ended["Reservations"][0]["Instances"][0]["State"]["Name"] == "terminated"
    with pytest.raises(admin("scheduler").exceptions.ResourceNotFoundException):
        admin("scheduler").get_schedule(Name=f"rr-{stack.deployment}-{run.launched.instance_id}")
    table = admin("dynamodb").scan(TableName=f"rr-{stack.deployment}-events")["Items"]
    types = {item["type"]["S"] for item in table if "type" in item}
    assert {"InstanceLaunched", "SessionEnded", "SessionCharged", "LoginAcquired"} <= types
    listed = admin("s3").list_objects_v2(Bucket=stack.resources["FileBucket"])["Contents"]
    assert [o["Key"] for o in listed] == [f"rr/{kept}"]
