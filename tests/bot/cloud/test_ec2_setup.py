"""Starting with RR_COMPUTE=ec2: what must be configured; login parameters checked in SSM."""

import pytest

from bot.cloud.ec2 import open_ec2_provider
from bot.config import InvalidSettings, Settings
from tests.bot.cloud.helpers import REGION, ROLE_ARN, Aws
from tests.fakes.clock import FakeClock


@pytest.fixture
def aws_endpoint(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """boto3's own endpoint variable, so the provider is built exactly as in production."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    return moto_endpoint


def settings(monkeypatch: pytest.MonkeyPatch, **ec2: str) -> Settings:
    monkeypatch.setenv("RR_COMPUTE", "ec2")
    for name, value in ec2.items():
        monkeypatch.setenv(f"RR_EC2_{name.upper()}", value)
    return Settings(_env_file=None)  # type: ignore[call-arg]


async def test_a_complete_configuration_gives_a_provider_in_boto3s_region(
    aws_endpoint: str, aws: Aws, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws.ssm.put_parameter(Name="/rr/setup/ok-1", Value="pilot:pw", Type="SecureString")
    configured = settings(
        monkeypatch,
        launch_template_name="rr-dcs",
        backstop_role_arn=ROLE_ARN,
        login_parameters="/rr/setup/ok-1",
    )

    provider = await open_ec2_provider(configured, clock.now)

    assert provider.name == "ec2"
    assert (await provider.describe("i-0123456789abcdef0")).state == "gone"


@pytest.mark.parametrize(
    ("ec2", "words"),
    [
        ({"backstop_role_arn": ROLE_ARN}, "RR_EC2_LAUNCH_TEMPLATE_ID, RR_EC2_LAUNCH_TEMPLATE_NAME"),
        (
            {
                "launch_template_id": "lt-0123456789abcdef0",
                "launch_template_name": "rr-dcs",
                "backstop_role_arn": ROLE_ARN,
            },
            "give one of them, not both",
        ),
        ({"image_id": "ami-0123456789abcdef0"}, "RR_EC2_BACKSTOP_ROLE_ARN"),
    ],
)
async def test_an_incomplete_configuration_stops_start_up_naming_what_to_set(
    aws_endpoint: str,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    ec2: dict[str, str],
    words: str,
) -> None:
    with pytest.raises(InvalidSettings, match=words):
        await open_ec2_provider(settings(monkeypatch, **ec2), clock.now)


@pytest.mark.parametrize("kind", ["missing", "String"])
async def test_a_login_that_is_not_an_ssm_secure_string_stops_start_up(
    aws_endpoint: str, aws: Aws, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    name = f"/rr/setup/{kind}"
    if kind != "missing":
        aws.ssm.put_parameter(Name=name, Value="pilot:pw", Type=kind, Overwrite=True)
    configured = settings(
        monkeypatch,
        image_id="ami-0123456789abcdef0",
        backstop_role_arn=ROLE_ARN,
        login_parameters=name,
    )

    with pytest.raises(InvalidSettings, match=f"{name} is not an SSM SecureString parameter"):
        await open_ec2_provider(configured, clock.now)


async def test_without_a_region_start_up_says_to_set_one(
    aws_endpoint: str, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    configured = settings(monkeypatch, image_id="ami-0123456789abcdef0", backstop_role_arn=ROLE_ARN)

    with pytest.raises(InvalidSettings, match="set AWS_DEFAULT_REGION"):
        await open_ec2_provider(configured, clock.now)
