"""AWS stand-ins for the EC2 provider's tests: boto3 clients on the shared moto server, and a
fresh deployment name per test so tests never see each other's instances or schedules."""

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

import boto3
import pytest

from bot.cloud.ec2 import Backstop, Ec2Provider
from bot.config import Ec2Settings
from tests.bot.cloud.helpers import NO_RETRIES, REGION, ROLE_ARN, Aws, Network, ProviderFactory
from tests.fakes.clock import FakeClock


def _client(moto_endpoint: str, name: str) -> Any:
    return boto3.client(name, endpoint_url=moto_endpoint, region_name=REGION, config=NO_RETRIES)


@pytest.fixture(scope="session")
def aws(moto_endpoint: str) -> Aws:
    client = partial(_client, moto_endpoint)
    return Aws(client("ec2"), client("scheduler"), client("ssm"), client("iam"))


@pytest.fixture
def deployment() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def network(aws: Aws, deployment: str) -> Network:
    ec2 = aws.ec2
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    ec2.modify_subnet_attribute(SubnetId=subnet, MapPublicIpOnLaunch={"Value": True})
    group = ec2.create_security_group(
        GroupName=f"{deployment}-dcs", Description="DCS game ports", VpcId=vpc
    )["GroupId"]
    ec2.create_key_pair(KeyName=f"{deployment}-key")
    aws.iam.create_instance_profile(InstanceProfileName=f"{deployment}-profile")
    template = ec2.create_launch_template(
        LaunchTemplateName=f"{deployment}-dcs",
        LaunchTemplateData={"ImageId": "ami-0abc12345def67890", "InstanceType": "t3.micro"},
    )["LaunchTemplate"]
    return Network(
        launch_template_name=template["LaunchTemplateName"],
        launch_template_id=template["LaunchTemplateId"],
        subnet_id=subnet,
        security_group_id=group,
        key_name=f"{deployment}-key",
        instance_profile=f"{deployment}-profile",
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def ec2_settings(network: Network) -> Ec2Settings:
    return Ec2Settings(
        launch_template_name=network.launch_template_name,
        launch_template_version="1",
        subnet_id=network.subnet_id,
        security_group_ids=(network.security_group_id,),
        key_name=network.key_name,
        instance_profile=network.instance_profile,
        backstop_role_arn=ROLE_ARN,
    )


@pytest.fixture
def make_provider(aws: Aws, deployment: str, clock: FakeClock) -> ProviderFactory:
    def make(
        settings: Ec2Settings,
        *,
        kind: type[Ec2Provider] = Ec2Provider,
        ec2: Any = None,
        scheduler: Any = None,
    ) -> Ec2Provider:
        backstop = Backstop(
            scheduler or aws.scheduler, deployment=deployment, role_arn=ROLE_ARN, now=clock.now
        )
        return kind(ec2 or aws.ec2, backstop, settings, deployment=deployment, region=REGION)

    return make


@pytest.fixture
def provider(make_provider: ProviderFactory, ec2_settings: Ec2Settings) -> Ec2Provider:
    return make_provider(ec2_settings)


@pytest.fixture
def fresh_client(moto_endpoint: str) -> Callable[[str], Any]:
    """A client of its own, for a test that hooks AWS errors into it."""
    return partial(_client, moto_endpoint)
