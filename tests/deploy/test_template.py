"""The CloudFormation template as written and as moto's CloudFormation deploys it: cfn-lint, the
event table the store expects, the bucket, the game ports, and outputs that are rr's settings."""

from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file

from bot.config import Settings, env_names
from bot.domain.settings import SquadronSettings
from bot.files.store.keys import ObjectKey
from eventstore.dynamodb import DynamoDBEventStore
from eventstore.events import NewEvent
from tests.deploy.stack import STACK_REGION, TEMPLATE, Stack, resource, template

BOTO3_SETTINGS = {"AWS_DEFAULT_REGION"}


def test_cfn_lint_finds_nothing() -> None:
    matches = lint_file(Path(TEMPLATE), config=ManualArgs(regions=[STACK_REGION, "us-east-1"]))

    assert [str(match) for match in matches] == []


def test_every_output_is_a_setting_rr_reads_named_as_its_variable() -> None:
    outputs = template()["Outputs"]
    names = {output["Description"] for output in outputs.values()}

    assert names <= set(env_names()) | BOTO3_SETTINGS
    for key, output in outputs.items():
        assert key == output["Description"].replace("_", "")


def test_the_stacks_outputs_are_valid_settings_for_ec2_and_dynamodb(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in stack.settings.items():
        monkeypatch.setenv(name, value)

    settings = Settings(_env_file=None)  # type: ignore[call-arg]

    assert settings.compute == "ec2" and settings.deployment == stack.deployment
    assert settings.event_store.endswith("create=false")
    assert settings.ec2.launch_template_id == stack.resources["ServerLaunchTemplate"]
    assert settings.ec2.backstop_role_arn is not None
    assert settings.ec2.backstop_role_arn.endswith(f":role/rr-{stack.deployment}-backstop")
    assert settings.ec2.login_parameters == (
        f"/rr/{stack.deployment}/ed-login/one",
        f"/rr/{stack.deployment}/ed-login/two",
    )
    assert stack.settings["AWS_DEFAULT_REGION"] == STACK_REGION


async def test_the_event_table_is_the_one_the_store_would_create(
    stack: Stack, admin: Any, moto_endpoint: str
) -> None:
    dynamodb = admin("dynamodb")
    created = DynamoDBEventStore(
        f"created-by-the-store-{stack.deployment}",
        region=STACK_REGION,
        endpoint_url=moto_endpoint,
    )
    await created.append("probe#1", 0, [NewEvent("Probed", {})])
    await created.close()

    ours = _shape(dynamodb.describe_table(TableName=f"rr-{stack.deployment}-events")["Table"])
    theirs = _shape(dynamodb.describe_table(TableName=created.table)["Table"])

    assert ours == theirs
    assert ours["indexes"] == [("feed", (("gpk", "HASH"), ("gsk", "RANGE")), "ALL")]
    # moto's CloudFormation does not switch TTL on: compare the template with the store's table.
    ttl = dynamodb.describe_time_to_live(TableName=created.table)["TimeToLiveDescription"]
    written = resource("AWS::DynamoDB::Table")["Properties"]["TimeToLiveSpecification"]
    assert ttl["TimeToLiveStatus"] == "ENABLED"
    assert written == {"AttributeName": ttl["AttributeName"], "Enabled": True}


def test_the_event_table_is_protected_and_recoverable(stack: Stack, admin: Any) -> None:
    written = resource("AWS::DynamoDB::Table")
    table = admin("dynamodb").describe_table(TableName=f"rr-{stack.deployment}-events")["Table"]

    assert table["DeletionProtectionEnabled"] is True
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    # moto keeps no point-in-time recovery from CloudFormation: read the template itself.
    assert written["Properties"]["PointInTimeRecoverySpecification"] == {
        "PointInTimeRecoveryEnabled": True
    }
    assert written["DeletionPolicy"] == written["UpdateReplacePolicy"] == "Retain"


def test_the_bucket_is_private_encrypted_https_only_and_expires_debriefs(
    stack: Stack, admin: Any
) -> None:
    bucket = stack.resources["FileBucket"]
    encryption = admin("s3").get_bucket_encryption(Bucket=bucket)
    rule = encryption["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    # moto's CloudFormation drops the rest of the bucket's properties: read the template.
    written = resource("AWS::S3::Bucket")["Properties"]
    assert set(written["PublicAccessBlockConfiguration"].values()) == {True}
    assert written["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    rules = {rule["Id"]: rule for rule in written["LifecycleConfiguration"]["Rules"]}
    debriefs = ObjectKey.debrief("123456789012345678", "session", "file").partition("/")[0]
    assert rules["expire-debriefs"]["Prefix"] == f"{_file_prefix()}/{debriefs}/"
    assert rules["expire-debriefs"]["ExpirationInDays"] == {"Ref": "DebriefDays"}
    assert template()["Outputs"]["RRFILESDEBRIEFDAYS"]["Value"] == {"Ref": "DebriefDays"}
    deny = resource("AWS::S3::BucketPolicy")["Properties"]["PolicyDocument"]["Statement"][0]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}
    }


def test_the_security_group_opens_exactly_the_default_game_ports(stack: Stack, admin: Any) -> None:
    group_id = stack.settings["RR_EC2_SECURITY_GROUP_IDS"]
    group = admin("ec2").describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    defaults = SquadronSettings()

    opened = {(p["IpProtocol"], p["FromPort"], p["ToPort"]) for p in group["IpPermissions"]}

    dcs, srs = defaults.game_port, defaults.srs.port
    assert opened == {
        ("tcp", dcs, dcs),
        ("udp", dcs, dcs),
        ("tcp", srs, srs),
        ("udp", srs, srs),
        ("tcp", defaults.tacview.telemetry_port, defaults.tacview.telemetry_port),
        ("tcp", defaults.lotatc.port, defaults.lotatc.port),
    }


def test_the_launch_template_terminates_on_shutdown_and_requires_imdsv2(
    stack: Stack, admin: Any
) -> None:
    versions = admin("ec2").describe_launch_template_versions(
        LaunchTemplateId=stack.settings["RR_EC2_LAUNCH_TEMPLATE_ID"]
    )["LaunchTemplateVersions"]
    data = versions[0]["LaunchTemplateData"]

    assert data["ImageId"] == stack.image_id
    assert data["InstanceInitiatedShutdownBehavior"] == "terminate"
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    root = data["BlockDeviceMappings"][0]["Ebs"]
    assert root["Encrypted"] is True and root["DeleteOnTermination"] is True


def _file_prefix() -> str:
    value = str(template()["Outputs"]["RRFILESSTORE"]["Value"]["Fn::Sub"])
    return value.removeprefix("s3://${FileBucket}/").partition("?")[0]


def _shape(table: dict[str, Any]) -> dict[str, Any]:
    def keys(schema: list[dict[str, str]]) -> tuple[tuple[str, str], ...]:
        return tuple((key["AttributeName"], key["KeyType"]) for key in schema)

    return {
        "attributes": sorted(
            (a["AttributeName"], a["AttributeType"]) for a in table["AttributeDefinitions"]
        ),
        "keys": keys(table["KeySchema"]),
        "indexes": sorted(
            (index["IndexName"], keys(index["KeySchema"]), index["Projection"]["ProjectionType"])
            for index in table.get("GlobalSecondaryIndexes", [])
        ),
        "billing": table["BillingModeSummary"]["BillingMode"],
    }
