"""Building the EC2 provider from rr's settings, and refusing to start when they cannot work."""

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import boto3
from botocore.config import Config

from bot.cloud.ec2.backstop import Backstop
from bot.cloud.ec2.provider import Ec2Provider
from bot.config import Ec2Settings, InvalidSettings, Settings

AWS_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30
)


async def open_ec2_provider(settings: Settings, now: Callable[[], datetime]) -> Ec2Provider:
    """The provider for RR_COMPUTE=ec2, in boto3's configured region.

    Raises `InvalidSettings` naming what to fix: no launch template or AMI, no backstop role,
    no region, or a login parameter that is not an SSM SecureString.
    """
    ec2_settings = settings.ec2
    check_ec2_settings(ec2_settings)
    session, region = await asyncio.to_thread(_session_and_region)
    if not region:
        raise InvalidSettings(
            "RR_COMPUTE=ec2 needs an AWS region: set AWS_DEFAULT_REGION to the region rr's "
            "servers run in."
        )

    def clients() -> tuple[Any, Any, Any]:
        return (
            session.client("ec2", config=AWS_CLIENT_CONFIG),
            session.client("scheduler", config=AWS_CLIENT_CONFIG),
            session.client("ssm", config=AWS_CLIENT_CONFIG),
        )

    ec2, scheduler, ssm = await asyncio.to_thread(clients)
    await check_login_parameters(ssm, ec2_settings.login_parameters, region)
    assert ec2_settings.backstop_role_arn is not None
    backstop = Backstop(
        scheduler,
        deployment=settings.deployment,
        role_arn=ec2_settings.backstop_role_arn,
        now=now,
    )
    return Ec2Provider(ec2, backstop, ec2_settings, deployment=settings.deployment, region=region)


def _session_and_region() -> tuple[boto3.session.Session, str | None]:
    """boto3's session and its region, which it reads from the environment and ~/.aws files."""
    session = boto3.session.Session()
    return session, session.region_name


def check_ec2_settings(settings: Ec2Settings) -> None:
    """What RR_COMPUTE=ec2 needs beyond each value being well-formed."""
    if settings.launch_template_id is not None and settings.launch_template_name is not None:
        raise InvalidSettings(
            "Invalid settings RR_EC2_LAUNCH_TEMPLATE_ID and RR_EC2_LAUNCH_TEMPLATE_NAME: give "
            "one of them, not both."
        )
    if (
        settings.launch_template_id is None
        and settings.launch_template_name is None
        and settings.image_id is None
    ):
        raise InvalidSettings(
            "RR_COMPUTE=ec2 needs RR_EC2_LAUNCH_TEMPLATE_ID, RR_EC2_LAUNCH_TEMPLATE_NAME or "
            "RR_EC2_IMAGE_ID: the image DCS servers start from."
        )
    if settings.backstop_role_arn is None:
        raise InvalidSettings(
            "RR_COMPUTE=ec2 needs RR_EC2_BACKSTOP_ROLE_ARN: the IAM role EventBridge Scheduler "
            "assumes to terminate a server when the bot cannot."
        )


async def check_login_parameters(ssm: Any, names: Sequence[str], region: str) -> None:
    """Every ED login reference must be an SSM SecureString parameter the bot can see.

    Reads only the parameters' descriptions, never their values.
    """

    def types() -> dict[str, str]:
        found = {}
        for name in names:
            reply = ssm.describe_parameters(
                ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [name]}]
            )
            for parameter in reply.get("Parameters", []):
                found[parameter["Name"]] = parameter["Type"]
        return found

    found = await asyncio.to_thread(types)
    for name in names:
        if found.get(name) != "SecureString":
            raise InvalidSettings(
                f"Invalid setting RR_EC2_LOGIN_PARAMETERS: {name} is not an SSM SecureString "
                f"parameter in {region}; create it or remove it from the list."
            )
