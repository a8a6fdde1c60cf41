"""Shared pieces of the EC2 provider's tests: a launch request, reading what EC2 holds, and
AWS errors moto cannot produce."""

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ReadTimeoutError

from bot.cloud.base import AgentBoot, LaunchRequest
from bot.cloud.ec2 import Ec2Provider
from bot.dcs import SessionOptions, render_server_files
from bot.domain.settings import SECRET_KEYS, SquadronSettings
from tests.fakes.clock import FakeClock

REGION = "eu-west-1"
ROLE_ARN = "arn:aws:iam::123456789012:role/rr-backstop"
NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})
"""Tests provoke errors on purpose; retrying them would only add back-off sleeps."""


@dataclass
class Aws:
    ec2: Any
    scheduler: Any
    ssm: Any
    iam: Any


@dataclass
class Network:
    """What one test's servers launch into."""

    launch_template_name: str
    launch_template_id: str
    subnet_id: str
    security_group_id: str
    key_name: str
    instance_profile: str


ProviderFactory = Callable[..., Ec2Provider]

GUILD_ID = "123456789012345678"
SESSION_ID = "0f8e7d6c-5b4a-4321-9abc-def012345678"
RR_URL = "https://rr.example.org"
SECRET_SETTINGS: dict[str, object] = {
    **{key: f"Secret{number}-{key}" for number, key in enumerate(SECRET_KEYS)},
    "srs.enabled": True,
    "srs.eam_enabled": True,
    "lotatc.enabled": True,
    "tacview.enabled": True,
    "tacview.remote_control_enabled": True,
}
"""Squadron settings with every password rr renders into a server's files."""


def credential_for(session_id: str) -> str:
    """A credential shaped as rr mints them: ``rr1.<session>.<secret>``."""
    return f"rr1.{session_id}.{base64.urlsafe_b64encode(bytes(range(32))).decode().rstrip('=')}"


def launch_request(
    clock: FakeClock,
    *,
    session_id: str = SESSION_ID,
    attempt: int = 1,
    size: str = "medium",
    region: str = REGION,
    login_ref: str | None = None,
) -> LaunchRequest:
    settings = SquadronSettings().apply_changes(SECRET_SETTINGS)
    return LaunchRequest(
        session_id=session_id,
        guild_id=GUILD_ID,
        attempt=attempt,
        client_token=f"{session_id}-{attempt}",
        size=size,
        region=region,
        files=render_server_files(settings, SessionOptions(session_id=session_id)),
        game_port=10308,
        terminate_at=clock.now() + timedelta(hours=2, minutes=15),
        login_ref=login_ref,
        deployment="ignored-by-ec2",
        agent=AgentBoot(RR_URL, credential_for(session_id)),
    )


def described(aws: Aws, instance_id: str) -> dict[str, Any]:
    reply = aws.ec2.describe_instances(InstanceIds=[instance_id])
    instance: dict[str, Any] = reply["Reservations"][0]["Instances"][0]
    return instance


def tags_of(resource: dict[str, Any]) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in resource.get("Tags", [])}


def user_data_of(aws: Aws, instance_id: str) -> str:
    reply = aws.ec2.describe_instance_attribute(InstanceId=instance_id, Attribute="userData")
    return base64.b64decode(reply["UserData"]["Value"]).decode()


def instances_tagged(aws: Aws, deployment: str, session_id: str) -> list[dict[str, Any]]:
    reply = aws.ec2.describe_instances(
        Filters=[
            {"Name": "tag:rr:deployment", "Values": [deployment]},
            {"Name": "tag:rr:mission", "Values": [session_id]},
        ]
    )
    return [i for r in reply["Reservations"] for i in r["Instances"]]


def with_error(client: Any, operation: str, code: str, status: int = 400) -> Any:
    """Make ``client`` answer ``operation`` with the AWS error ``code``, as AWS would.

    moto cannot run out of capacity or hit account limits, so a botocore ``before-call`` hook
    on the real client answers instead of sending the request; everything after it (error
    parsing, the ClientError, the provider's mapping) is botocore's own path.
    """

    def answer(**_: object) -> tuple[AWSResponse, dict[str, Any]]:
        response = AWSResponse(url="", status_code=status, headers={}, raw=None)
        error = {"Code": code, "Message": f"{code} (raised by the test)"}
        return response, {"Error": error, "ResponseMetadata": {"HTTPStatusCode": status}}

    service = client.meta.service_model.service_id.hyphenize()
    client.meta.events.register(
        f"before-call.{service}.{operation}", answer, unique_id=_error_id(operation)
    )
    return client


def without_error(client: Any, operation: str) -> Any:
    """Undo `with_error`: AWS answers ``operation`` again."""
    service = client.meta.service_model.service_id.hyphenize()
    client.meta.events.unregister(
        f"before-call.{service}.{operation}", unique_id=_error_id(operation)
    )
    return client


def _error_id(operation: str) -> str:
    return f"rr-test-error-{operation}"


def recorded_calls(client: Any) -> list[str]:
    """The names of the operations ``client`` calls from now on, in order."""
    calls: list[str] = []

    def record(model: Any, **_: object) -> None:
        calls.append(model.name)

    service = client.meta.service_model.service_id.hyphenize()
    client.meta.events.register(f"before-call.{service}", record)
    return calls


def with_answer_lost(client: Any, operation: str) -> Any:
    """Make ``client`` lose AWS's answer to ``operation``: the request is carried out, then the
    call fails as a read timeout would, after botocore's retries."""

    def lose(**_: object) -> None:
        raise ReadTimeoutError(endpoint_url=client.meta.endpoint_url)

    service = client.meta.service_model.service_id.hyphenize()
    client.meta.events.register(f"after-call.{service}.{operation}", lose)
    return client


def with_stop_time(client: Any, instance_id: str, when: datetime) -> Any:
    """Make ``client``'s DescribeInstances say ``instance_id`` stopped running at ``when``, in
    EC2's words; moto stamps its own wall-clock time, and the tests run on a fake clock."""

    def rewrite(parsed: dict[str, Any], **_: object) -> None:
        for reservation in parsed.get("Reservations", []):
            for instance in reservation.get("Instances", []):
                if instance["InstanceId"] == instance_id:
                    reason = f"User initiated ({when:%Y-%m-%d %H:%M:%S} GMT)"
                    instance["StateTransitionReason"] = reason

    client.meta.events.register("after-call.ec2.DescribeInstances", rewrite)
    return client


def with_states(client: Any, states: dict[str, str]) -> Any:
    """Make ``client``'s DescribeInstances report each instance in ``states`` (instance id: EC2
    state name) in that state; moto has no lasting "shutting-down"."""

    def rewrite(parsed: dict[str, Any], **_: object) -> None:
        for reservation in parsed.get("Reservations", []):
            for instance in reservation.get("Instances", []):
                if instance["InstanceId"] in states:
                    instance["State"]["Name"] = states[instance["InstanceId"]]

    client.meta.events.register("after-call.ec2.DescribeInstances", rewrite)
    return client


def schedule_of(aws: Aws, deployment: str, instance_id: str) -> dict[str, Any] | None:
    try:
        schedule: dict[str, Any] = aws.scheduler.get_schedule(Name=f"rr-{deployment}-{instance_id}")
    except aws.scheduler.exceptions.ResourceNotFoundException:
        return None
    return schedule


def at(when: datetime) -> str:
    return f"at({when:%Y-%m-%dT%H:%M:%S})"
