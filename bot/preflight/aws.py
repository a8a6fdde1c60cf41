"""The preflight's AWS items, each exercising rr's permissions without changing anything:
EC2 calls with DryRun, DynamoDB writes whose condition can never hold, a disabled backstop
schedule that is deleted at once, descriptions of the launch template, image and SSM
parameters (never their values)."""

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from bot.cloud.base import LaunchRequest
from bot.cloud.ec2.backstop import TERMINATE_TARGET
from bot.cloud.ec2.errors import error_code
from bot.cloud.ec2.provider import TAG_DEPLOYMENT, Ec2Provider
from bot.cloud.ec2.setup import AWS_CLIENT_CONFIG
from bot.config import Settings
from bot.preflight.findings import Finding, aws_failure, failed, passed
from eventstore.dynamodb import FEED_INDEX

T = TypeVar("T")
PROBE_STREAM = "preflight#rr"
_NEVER_TRUE = "attribute_exists(pk) AND attribute_not_exists(pk)"
_DRY_RUN_PASSED = "DryRunOperation"
PROBE_LEAD = timedelta(days=365)


@dataclass(frozen=True)
class AwsClients:
    dynamodb: Any
    ec2: Any
    scheduler: Any
    ssm: Any

    @classmethod
    def from_environment(cls, dynamodb_region: str | None) -> "AwsClients":
        """boto3's clients, configured as rr's own (credentials and region from boto3)."""
        session = boto3.session.Session()
        return cls(
            dynamodb=session.client(
                "dynamodb", region_name=dynamodb_region, config=AWS_CLIENT_CONFIG
            ),
            ec2=session.client("ec2", config=AWS_CLIENT_CONFIG),
            scheduler=session.client("scheduler", config=AWS_CLIENT_CONFIG),
            ssm=session.client("ssm", config=AWS_CLIENT_CONFIG),
        )


def dynamodb_table(url: str) -> tuple[str, str | None] | None:
    """(table, region) of a dynamodb:// event store URL, None for another store."""
    parts = urlsplit(url)
    if parts.scheme != "dynamodb":
        return None
    return parts.netloc, dict(parse_qsl(parts.query)).get("region")


async def _call(function: Callable[..., T], **arguments: Any) -> T:
    return await asyncio.to_thread(function, **arguments)


async def event_table(dynamodb: Any, table: str) -> list[Finding]:
    """The table, then its reads and writes (not tried while the table itself is wrong)."""
    found = await _table(dynamodb, table)
    if not found.ok:
        later = "not tried until the event table is right"
        return [found, failed("event table reads", later), failed("event table writes", later)]
    return [found, await _table_reads(dynamodb, table), await _table_writes(dynamodb, table)]


async def _table(dynamodb: Any, table: str) -> Finding:
    item = f"event table {table}"
    try:
        described = (await _call(dynamodb.describe_table, TableName=table))["Table"]
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            return failed(
                item,
                "does not exist; deploy deploy/cloudformation/rr.yaml, or point "
                "RR_EVENT_STORE at the table it created.",
            )
        return aws_failure(item, error, "dynamodb:DescribeTable")
    except BotoCoreError as error:
        return aws_failure(item, error, "dynamodb:DescribeTable")
    indexes = {i["IndexName"]: i for i in described.get("GlobalSecondaryIndexes", [])}
    keys = [k["AttributeName"] for k in indexes.get(FEED_INDEX, {}).get("KeySchema", [])]
    if keys != ["gpk", "gsk"]:
        return failed(
            item,
            f"has no {FEED_INDEX!r} index on gpk/gsk; it was not made for rr's event "
            "store: use the template's table.",
        )
    return passed(item, f"exists with its {FEED_INDEX!r} index ({described['TableStatus']})")


async def _table_reads(dynamodb: Any, table: str) -> Finding:
    item = "event table reads"
    calls: list[tuple[str, dict[str, Any], Callable[..., Any]]] = [
        (
            "dynamodb:Query",
            dict(
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": PROBE_STREAM}},
            ),
            dynamodb.query,
        ),
        (
            "dynamodb:Query (feed)",
            dict(
                IndexName=FEED_INDEX,
                KeyConditionExpression="gpk = :g",
                ExpressionAttributeValues={":g": {"S": "preflight"}},
            ),
            dynamodb.query,
        ),
        ("dynamodb:Scan (feed)", dict(IndexName=FEED_INDEX), dynamodb.scan),
    ]
    for action, arguments, function in calls:
        try:
            await _call(function, TableName=table, Limit=1, **arguments)
        except (ClientError, BotoCoreError) as error:
            return aws_failure(item, error, action)
    return passed(item, "the table and its feed index answer")


async def _table_writes(dynamodb: Any, table: str) -> Finding:
    """A put whose condition can never hold: allowed if DynamoDB gets as far as the condition."""
    item = "event table writes"
    try:
        await _call(
            dynamodb.put_item,
            TableName=table,
            Item={"pk": {"S": PROBE_STREAM}, "sk": {"N": "0"}},
            ConditionExpression=_NEVER_TRUE,
        )
    except ClientError as error:
        if error_code(error) == "ConditionalCheckFailedException":
            return passed(item, "a conditional put is allowed (nothing written)")
        return aws_failure(item, error, "dynamodb:PutItem")
    except BotoCoreError as error:
        return aws_failure(item, error, "dynamodb:PutItem")
    return failed(item, "a put that can never succeed succeeded: this is not DynamoDB's answer.")


async def servers(
    settings: Settings, clients: AwsClients, provider: Ec2Provider, now: datetime
) -> list[Finding]:
    return [
        await _launch_image(settings, clients.ec2),
        await _dry_run_launch(settings, clients.ec2, provider, now),
        await _dry_run_terminate(settings, clients.ec2),
        await _backstop_role(settings, clients.scheduler, now),
        await _logins(settings, clients.ssm),
    ]


async def _launch_image(settings: Settings, ec2: Any) -> Finding:
    ec2_settings = settings.ec2
    template = ec2_settings.launch_template_id or ec2_settings.launch_template_name
    image = ec2_settings.image_id
    if template is not None:
        item = f"launch template {template}"
        key = "LaunchTemplateId" if ec2_settings.launch_template_id else "LaunchTemplateName"
        try:
            versions = (
                await _call(
                    ec2.describe_launch_template_versions,
                    **{key: template},
                    Versions=[ec2_settings.launch_template_version],
                )
            )["LaunchTemplateVersions"]
        except ClientError as error:
            if error_code(error).startswith("InvalidLaunchTemplate"):
                return failed(
                    item,
                    f"version {ec2_settings.launch_template_version} does not exist in this "
                    "region; set RR_EC2_LAUNCH_TEMPLATE_ID to the stack's output.",
                )
            return aws_failure(item, error, "ec2:DescribeLaunchTemplateVersions")
        except BotoCoreError as error:
            return aws_failure(item, error, "ec2:DescribeLaunchTemplateVersions")
        image = image or versions[0]["LaunchTemplateData"].get("ImageId")
    else:
        item = f"image {image}"
    if image is None:
        return failed(item, "names no image (AMI); build one with deploy/packer and set it.")
    try:
        images = (await _call(ec2.describe_images, ImageIds=[image]))["Images"]
    except ClientError as error:
        if error_code(error).startswith("InvalidAMIID"):
            images = []
        else:
            return aws_failure(item, error, "ec2:DescribeImages")
    except BotoCoreError as error:
        return aws_failure(item, error, "ec2:DescribeImages")
    if not images:
        return failed(
            item, f"its image {image} does not exist here; build it with deploy/packer first."
        )
    return passed(item, f"launches image {image} ({images[0].get('State', 'available')})")


async def _dry_run_launch(
    settings: Settings, ec2: Any, provider: Ec2Provider, now: datetime
) -> Finding:
    item = "server launch (dry run)"
    request = LaunchRequest(
        session_id="preflight",
        guild_id="0",
        attempt=1,
        client_token="rr-preflight",
        size="small",
        region=provider.region,
        files={},
        game_port=0,
        terminate_at=now,
        login_ref=None,
        deployment=settings.deployment,
    )
    parameters = provider.run_parameters(request, settings.ec2.small_instance_type, "")
    try:
        await _call(ec2.run_instances, DryRun=True, **parameters)
    except ClientError as error:
        if error_code(error) == _DRY_RUN_PASSED:
            return passed(item, "EC2 would launch a tagged server (nothing launched)")
        return aws_failure(item, error, "ec2:RunInstances")
    except BotoCoreError as error:
        return aws_failure(item, error, "ec2:RunInstances")
    return failed(item, "EC2 ignored DryRun and launched a server; terminate it.")


async def _dry_run_terminate(settings: Settings, ec2: Any) -> Finding:
    item = "server termination (dry run)"
    filters = [
        {"Name": f"tag:{TAG_DEPLOYMENT}", "Values": [settings.deployment]},
        {"Name": "instance-state-name", "Values": ["pending", "running"]},
    ]
    try:
        reply = await _call(ec2.describe_instances, Filters=filters, MaxResults=5)
    except (ClientError, BotoCoreError) as error:
        return aws_failure(item, error, "ec2:DescribeInstances")
    running = [i["InstanceId"] for r in reply.get("Reservations", []) for i in r["Instances"]]
    if not running:
        return passed(item, "no rr server is running to try it on; ec2:DescribeInstances works")
    try:
        await _call(ec2.terminate_instances, InstanceIds=running[:1], DryRun=True)
    except ClientError as error:
        if error_code(error) == _DRY_RUN_PASSED:
            return passed(item, f"EC2 would terminate {running[0]} (nothing terminated)")
        return aws_failure(item, error, "ec2:TerminateInstances")
    except BotoCoreError as error:
        return aws_failure(item, error, "ec2:TerminateInstances")
    return failed(item, f"EC2 ignored DryRun and terminated {running[0]}.")


async def _backstop_role(settings: Settings, scheduler: Any, now: datetime) -> Finding:
    """A disabled schedule far ahead, with the backstop role, created, moved and deleted."""
    role = settings.ec2.backstop_role_arn
    item = f"backstop role {role}"
    name = f"rr-{settings.deployment}-preflight"
    when = now + PROBE_LEAD
    definition = {
        "Name": name,
        "Description": "rr preflight: never enabled, deleted at once",
        "State": "DISABLED",
        "ScheduleExpression": f"at({when:%Y-%m-%dT%H:%M:%S})",
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "ActionAfterCompletion": "DELETE",
        "Target": {
            "Arn": TERMINATE_TARGET,
            "RoleArn": role,
            "Input": json.dumps({"InstanceIds": []}),
        },
    }
    steps: list[tuple[str, Callable[..., Any], dict[str, Any]]] = [
        ("scheduler:CreateSchedule", scheduler.create_schedule, definition),
        ("scheduler:GetSchedule", scheduler.get_schedule, {"Name": name}),
        ("scheduler:UpdateSchedule", scheduler.update_schedule, definition),
        ("scheduler:DeleteSchedule", scheduler.delete_schedule, {"Name": name}),
    ]
    for action, function, arguments in steps:
        try:
            await _call(function, **arguments)
        except ClientError as error:
            if action == "scheduler:CreateSchedule" and error_code(error) == "ConflictException":
                continue  # left by an interrupted preflight: moved, then deleted below
            if error_code(error) == "ValidationException":
                return failed(
                    item,
                    "EventBridge Scheduler refuses it "
                    f"({error.response['Error'].get('Message', '')}); set "
                    "RR_EC2_BACKSTOP_ROLE_ARN to the stack's backstop role.",
                )
            return aws_failure(item, error, action)
        except BotoCoreError as error:
            return aws_failure(item, error, action)
    return passed(item, "a disabled backstop was created, moved and deleted with it")


async def _logins(settings: Settings, ssm: Any) -> Finding:
    names = settings.ec2.login_parameters
    item = "ED logins"
    if not names:
        return passed(item, "none configured: the server image must sign DCS in by itself")
    found: dict[str, str] = {}
    try:
        for name in names:
            reply = await _call(
                ssm.describe_parameters,
                ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [name]}],
            )
            found.update({p["Name"]: p["Type"] for p in reply.get("Parameters", [])})
    except (ClientError, BotoCoreError) as error:
        return aws_failure(item, error, "ssm:DescribeParameters")
    prefix = f"/rr/{settings.deployment}/ed-login/"
    for name in names:
        if found.get(name) != "SecureString":
            return failed(
                item,
                f"{name} is not an SSM SecureString parameter; put it (deploy/README.md) or "
                "remove it from RR_EC2_LOGIN_PARAMETERS.",
            )
        if not name.startswith(prefix):
            return failed(
                item,
                f"{name} is outside {prefix}, which is all the template's server role may "
                "read; rename it.",
            )
    return passed(item, f"{len(names)} SecureString parameter(s), values not read")
