"""The EC2 provider through boto3 against the moto server: launch, adopt, find, list, terminate,
refuse plainly, probe."""

import asyncio
import dataclasses
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.cloud.base import LaunchError
from bot.cloud.ec2 import Ec2Provider
from bot.cloud.ec2.provider import NO_AGENT_MESSAGE
from bot.config import Ec2Settings
from tests.bot.cloud.helpers import (
    GUILD_ID,
    RR_URL,
    SECRET_SETTINGS,
    SESSION_ID,
    Aws,
    Network,
    ProviderFactory,
    described,
    instances_tagged,
    launch_request,
    schedule_of,
    tags_of,
    user_data_of,
    with_answer_lost,
    with_error,
    with_states,
)
from tests.bot.cloud.userdata_reader import (
    agent_settings_in_user_data,
    credentials_in_user_data,
    strings_in_user_data,
)
from tests.fakes.clock import FakeClock


async def test_launch_uses_the_template_type_network_tags_token_and_user_data(
    provider: Ec2Provider, aws: Aws, network: Network, deployment: str, clock: FakeClock
) -> None:
    request = launch_request(clock, size="medium")

    info = await provider.launch(request)

    instance = described(aws, info.instance_id)
    assert info.session_id == SESSION_ID and info.attempt == 1
    assert info.state in ("pending", "running")
    assert instance["InstanceType"] == "i3en.large"
    assert instance["ClientToken"] == f"{SESSION_ID}-1"
    assert instance["SubnetId"] == network.subnet_id
    assert [g["GroupId"] for g in instance["SecurityGroups"]] == [network.security_group_id]
    assert instance["KeyName"] == network.key_name
    assert instance["IamInstanceProfile"]["Arn"].endswith(f"/{network.instance_profile}")
    assert "InstanceLifecycle" not in instance
    tags = tags_of(instance)
    assert tags["aws:ec2launchtemplate:id"] == network.launch_template_id
    assert tags["aws:ec2launchtemplate:version"] == "1"
    expected = {
        "rr:deployment": deployment,
        "rr:mission": SESSION_ID,
        "rr:guild": GUILD_ID,
        "rr:attempt": "1",
    }
    assert expected.items() <= tags.items()
    volumes = aws.ec2.describe_volumes(
        Filters=[{"Name": "attachment.instance-id", "Values": [info.instance_id]}]
    )["Volumes"]
    assert volumes and all(expected.items() <= tags_of(volume).items() for volume in volumes)
    shutdown = aws.ec2.describe_instance_attribute(
        InstanceId=info.instance_id, Attribute="instanceInitiatedShutdownBehavior"
    )
    assert shutdown["InstanceInitiatedShutdownBehavior"]["Value"] == "terminate"
    assert described(aws, info.instance_id)["MetadataOptions"]["HttpTokens"] == "required"
    assert described(aws, info.instance_id)["MetadataOptions"]["HttpPutResponseHopLimit"] == 1


async def test_user_data_holds_rrs_address_and_the_credential_and_no_setting_or_file(
    provider: Ec2Provider, aws: Aws, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    request = launch_request(clock)
    assert request.agent is not None

    info = await provider.launch(request)

    script = user_data_of(aws, info.instance_id)
    strings = strings_in_user_data(script)
    assert agent_settings_in_user_data(script)["RR_AGENT_URL"] == RR_URL
    assert credentials_in_user_data(script) == [request.agent.credential]
    secrets = [value for value in SECRET_SETTINGS.values() if isinstance(value, str)]
    assert secrets and all(any(s.encode() in c for c in request.files.values()) for s in secrets)
    for secret in secrets:
        assert secret not in script
    for content in request.files.values():
        lines = [line for line in content.decode().splitlines() if len(line.strip()) > 12]
        assert not any(line.strip() in text for line in lines for text in strings)
    assert caplog.records
    for record in caplog.records:
        assert request.agent.credential not in json.dumps(vars(record), default=str)


async def test_a_launch_without_an_agent_is_refused_and_starts_nothing(
    provider: Ec2Provider, aws: Aws, deployment: str, clock: FakeClock
) -> None:
    request = dataclasses.replace(launch_request(clock), agent=None)

    with pytest.raises(LaunchError) as refused:
        await provider.launch(request)

    assert refused.value.reason == "config" and refused.value.message == NO_AGENT_MESSAGE
    assert instances_tagged(aws, deployment, SESSION_ID) == []


async def test_instance_type_follows_the_size(
    make_provider: ProviderFactory, ec2_settings: Ec2Settings, aws: Aws, clock: FakeClock
) -> None:
    settings = ec2_settings.model_copy(update={"large_instance_type": "i3en.2xlarge"})
    provider = make_provider(settings)

    small = await provider.launch(launch_request(clock, session_id="m-small", size="small"))
    large = await provider.launch(launch_request(clock, session_id="m-large", size="large"))

    assert described(aws, small.instance_id)["InstanceType"] == "i3.large"
    assert described(aws, large.instance_id)["InstanceType"] == "i3en.2xlarge"


async def test_launch_from_an_ami_as_a_spot_instance(
    make_provider: ProviderFactory, aws: Aws, clock: FakeClock
) -> None:
    provider = make_provider(Ec2Settings(image_id="ami-0123456789abcdef0", spot=True))

    info = await provider.launch(launch_request(clock))

    instance = described(aws, info.instance_id)
    assert instance["ImageId"] == "ami-0123456789abcdef0"
    assert instance["InstanceLifecycle"] == "spot"
    assert "aws:ec2launchtemplate:id" not in tags_of(instance)


async def test_user_data_names_the_login_parameter_and_never_holds_the_credential(
    provider: Ec2Provider, aws: Aws, deployment: str, clock: FakeClock
) -> None:
    parameter = f"/rr/{deployment}/ed-login-1"
    aws.ssm.put_parameter(Name=parameter, Value="pilot@example.com:s3cret!", Type="SecureString")

    info = await provider.launch(launch_request(clock, login_ref=parameter))

    script = user_data_of(aws, info.instance_id)
    assert f"Get-SSMParameter -Name '{parameter}' -WithDecryption $true" in script
    assert "s3cret" not in script and "pilot@example.com" not in script


async def test_repeated_launch_adopts_the_instance_it_already_started(
    provider: Ec2Provider, aws: Aws, deployment: str, clock: FakeClock
) -> None:
    request = launch_request(clock)

    first = await provider.launch(request)
    again = await provider.launch(request)

    assert again.instance_id == first.instance_id
    assert len(instances_tagged(aws, deployment, SESSION_ID)) == 1


async def test_a_launch_whose_answer_was_lost_adopts_the_instance_it_started(
    make_provider: ProviderFactory,
    ec2_settings: Ec2Settings,
    fresh_client: Callable[[str], Any],
    aws: Aws,
    deployment: str,
    clock: FakeClock,
) -> None:
    provider = make_provider(
        ec2_settings, ec2=with_answer_lost(fresh_client("ec2"), "RunInstances")
    )

    info = await provider.launch(launch_request(clock))

    [instance] = instances_tagged(aws, deployment, SESSION_ID)
    assert info.instance_id == instance["InstanceId"]
    assert schedule_of(aws, deployment, info.instance_id) is not None


async def test_a_new_attempt_starts_a_new_instance(
    provider: Ec2Provider, aws: Aws, deployment: str, clock: FakeClock
) -> None:
    first = await provider.launch(launch_request(clock, attempt=1))
    await provider.terminate(first.instance_id)

    second = await provider.launch(launch_request(clock, attempt=2))

    assert second.instance_id != first.instance_id
    assert second.attempt == 2


async def test_find_launch_finds_the_attempts_instance_by_its_tags(
    provider: Ec2Provider, clock: FakeClock
) -> None:
    launched = await provider.launch(launch_request(clock, attempt=3))

    found = await provider.find_launch(SESSION_ID, 3)

    assert found is not None and found.instance_id == launched.instance_id
    assert await provider.find_launch(SESSION_ID, 2) is None
    assert await provider.find_launch("another-session", 3) is None


async def test_find_launch_reports_an_instance_that_already_ended(
    provider: Ec2Provider, clock: FakeClock
) -> None:
    launched = await provider.launch(launch_request(clock))
    await provider.terminate(launched.instance_id)

    found = await provider.find_launch(SESSION_ID, 1)

    assert found is not None and found.instance_id == launched.instance_id
    assert found.state == "terminated"


async def test_list_managed_holds_this_deployments_live_instances_only(
    provider: Ec2Provider, aws: Aws, clock: FakeClock
) -> None:
    kept = await provider.launch(launch_request(clock, session_id="m-kept"))
    ended = await provider.launch(launch_request(clock, session_id="m-ended"))
    await provider.terminate(ended.instance_id)
    aws.ec2.run_instances(ImageId="ami-0123456789abcdef0", MinCount=1, MaxCount=1)

    managed = await provider.list_managed()

    assert [info.instance_id for info in managed] == [kept.instance_id]
    assert managed[0].session_id == "m-kept"


async def test_describe_reports_state_and_public_address(
    provider: Ec2Provider, aws: Aws, clock: FakeClock
) -> None:
    launched = await provider.launch(launch_request(clock))

    info = await provider.describe(launched.instance_id)

    assert info.state == "running"
    assert info.address == described(aws, launched.instance_id)["PublicIpAddress"]
    assert info.launched_at is not None and info.launched_at.tzinfo is not None


async def test_describe_of_a_terminated_instance_says_when_it_stopped_running(
    provider: Ec2Provider, aws: Aws, clock: FakeClock
) -> None:
    launched = await provider.launch(launch_request(clock))
    running = await provider.describe(launched.instance_id)

    before = datetime.now(UTC).replace(microsecond=0)
    aws.ec2.terminate_instances(InstanceIds=[launched.instance_id])
    after = datetime.now(UTC)
    info = await provider.describe(launched.instance_id)

    assert running.stopped_at is None
    assert info.state in ("stopping", "terminated")
    assert info.stopped_at is not None and before <= info.stopped_at <= after


async def test_an_instance_shutting_down_is_terminated_and_no_longer_managed(
    make_provider: ProviderFactory,
    ec2_settings: Ec2Settings,
    fresh_client: Callable[[str], Any],
    clock: FakeClock,
) -> None:
    states: dict[str, str] = {}
    provider = make_provider(ec2_settings, ec2=with_states(fresh_client("ec2"), states))
    launched = await provider.launch(launch_request(clock))

    states[launched.instance_id] = "shutting-down"

    assert (await provider.describe(launched.instance_id)).state == "terminated"
    assert await provider.list_managed() == []


async def test_describe_of_an_unknown_instance_is_gone(provider: Ec2Provider) -> None:
    info = await provider.describe("i-0123456789abcdef0")

    assert info.state == "gone"
    assert info.address is None


async def test_terminate_is_idempotent_and_an_unknown_instance_is_fine(
    provider: Ec2Provider, aws: Aws, clock: FakeClock
) -> None:
    launched = await provider.launch(launch_request(clock))

    await provider.terminate(launched.instance_id)
    await provider.terminate(launched.instance_id)
    await provider.terminate("i-0123456789abcdef0")

    assert described(aws, launched.instance_id)["State"]["Name"] in ("shutting-down", "terminated")
    assert (await provider.describe(launched.instance_id)).state in ("stopping", "terminated")


@pytest.mark.parametrize(
    ("code", "reason", "words"),
    [
        ("InsufficientInstanceCapacity", "capacity", "no free i3en.large servers in eu-west-1"),
        ("InstanceLimitExceeded", "limit", "reached its AWS limit"),
        ("VcpuLimitExceeded", "limit", "reached its AWS limit"),
        ("InvalidAMIID.NotFound", "config", "an operator needs to fix"),
        ("InvalidParameterValue", "config", "an operator needs to fix"),
        ("RequestLimitExceeded", "unavailable", "try again in a few minutes"),
    ],
)
async def test_aws_refusals_become_one_plain_sentence(
    make_provider: ProviderFactory,
    ec2_settings: Ec2Settings,
    fresh_client: Callable[[str], Any],
    aws: Aws,
    deployment: str,
    clock: FakeClock,
    code: str,
    reason: str,
    words: str,
) -> None:
    ec2 = with_error(fresh_client("ec2"), "RunInstances", code, 503 if "Limit" in code else 400)
    provider = make_provider(ec2_settings, ec2=ec2)

    with pytest.raises(LaunchError) as refused:
        await provider.launch(launch_request(clock))

    assert refused.value.reason == reason
    assert words in refused.value.message
    assert refused.value.message.endswith(".") and "\n" not in refused.value.message
    assert instances_tagged(aws, deployment, SESSION_ID) == []


async def test_a_missing_launch_template_is_a_configuration_error(
    make_provider: ProviderFactory, ec2_settings: Ec2Settings, clock: FakeClock
) -> None:
    provider = make_provider(ec2_settings.model_copy(update={"launch_template_name": "no-such"}))

    with pytest.raises(LaunchError) as refused:
        await provider.launch(launch_request(clock))

    assert refused.value.reason == "config"
    assert "InvalidLaunchTemplateName" in refused.value.message


async def test_a_region_the_deployment_does_not_serve_is_refused(
    provider: Ec2Provider, aws: Aws, deployment: str, clock: FakeClock
) -> None:
    with pytest.raises(LaunchError) as refused:
        await provider.launch(launch_request(clock, region="us-east-1"))

    assert refused.value.reason == "config"
    assert "set the squadron's region to eu-west-1" in refused.value.message
    assert instances_tagged(aws, deployment, SESSION_ID) == []


async def test_game_port_probe_answers_whether_something_listens(provider: Ec2Provider) -> None:
    server = await asyncio.start_server(lambda _r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        assert await provider.game_port_open("127.0.0.1", port)
    assert not await provider.game_port_open("127.0.0.1", port)
