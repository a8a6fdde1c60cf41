"""The template deployed into moto's CloudFormation, on the shared moto server."""

from datetime import UTC, datetime
from functools import partial
from typing import Any

import boto3
import pytest

from tests.bot.cloud.helpers import NO_RETRIES
from tests.deploy.stack import STACK_REGION, Stack, deploy
from tests.fakes.clock import FakeClock


def _client(moto_endpoint: str, name: str) -> Any:
    return boto3.client(
        name, endpoint_url=moto_endpoint, region_name=STACK_REGION, config=NO_RETRIES
    )


@pytest.fixture(scope="session")
def admin(moto_endpoint: str) -> Any:
    """boto3 clients with moto's default (unrestricted) credentials: ``admin("ec2")``."""
    return partial(_client, moto_endpoint)


@pytest.fixture
def stack(admin: Any) -> Stack:
    return deploy(admin("cloudformation"), admin("ec2"), logins=("one", "two"))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC).replace(microsecond=0))
