"""Least privilege, as far as local stand-ins reach.

1. moto with IAM enforcement on, rr's AWS credentials those of a user holding only the bot
   policy's actions: a whole session (launch, backstop, logins, store, extension, end) and
   ``rr-bot check`` succeed, and a call outside the policy is refused — so the policy names
   every action rr calls.
   moto matches actions only (against the resource "*"), so the user holds the actions with
   ``Resource: "*"`` and no conditions; that proves the action list, nothing more.
2. Every request rr sent in that session, recorded at the HTTP level, turned into the IAM
   authorisations AWS makes for it, is allowed by the template's real policy with its real
   resources and conditions (a small evaluator, tests/deploy/iam.py); and the policy allows no
   action the session did not use, except those listed with a reason.
3. The tag conditions moto cannot judge: neither the bot nor the backstop scheduler may
   terminate an instance without this deployment's tag, nor the bot re-tag one.
4. parliament finds nothing in any of the stack's policies.
"""

import ast
import asyncio
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import parliament
import pytest
from botocore.exceptions import ClientError
from moto import settings as moto_settings
from moto.core.authorization import ActionAuthenticatorMixin
from moto.iam.access_control import IAMRequest

from bot.domain.session import SessionStatus
from bot.preflight import Finding, preflight
from tests.bot.cloud.helpers import NO_RETRIES
from tests.deploy.iam import IamRequest, actions_of, allowed
from tests.deploy.recorded import Account, Recorded, authorisations, recording_server
from tests.deploy.session import (
    SessionRun,
    run_session,
    use_file_store,
    use_stack_settings,
    use_store_and_secrets,
)
from tests.deploy.stack import REPO, STACK_REGION, Stack, deploy
from tests.fakes.clock import FakeClock

pytestmark = pytest.mark.e2e

ACCOUNT_ID = "123456789012"
MOTO_OPERATION_ALIASES = {
    "dynamodb:PutItem": "dynamodb:TransactWriteItems",
    "s3:ListBucket": "s3:HeadBucket",
    "s3:GetObject": "s3:HeadObject",
}
"""Where moto authorises by the operation's name and AWS by another action: a transaction by
each item's action, HeadBucket as ``s3:ListBucket``, HeadObject as ``s3:GetObject``."""


@dataclass(frozen=True)
class EnforcedRun:
    stack: Stack
    run: SessionRun
    requests: list[Recorded]
    refused: list[int]
    checked: list[Finding]
    """``rr-bot check`` with the same credentials."""
    complaints: list[str]
    """What rr logged at WARNING or above: a refusal it handled would show here."""
    policies: dict[str, dict[str, Any]]
    """Every policy in the stack, resolved by CloudFormation: {name: document}."""
    account: Account


def _admin(endpoint: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=STACK_REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=NO_RETRIES,
    )


@pytest.fixture(scope="module")
def enforced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EnforcedRun]:
    key_table = tmp_path_factory.mktemp("keys") / "keys.json"
    with pytest.MonkeyPatch.context() as patch, recording_server() as (endpoint, recorder):
        yield _enforced_run(endpoint, recorder, patch, key_table)


def _enforced_run(
    endpoint: str, recorder: Any, patch: pytest.MonkeyPatch, key_table: Path
) -> EnforcedRun:
    def admin(service: str) -> Any:
        return _admin(endpoint, service)

    stack = deploy(admin("cloudformation"), admin("ec2"), logins=("one",))
    admin("ssm").put_parameter(
        Name=stack.settings["RR_EC2_LOGIN_PARAMETERS"], Value="{}", Type="SecureString"
    )
    policies = _stack_policies(admin("iam"), stack)
    user = f"rr-bot-{stack.deployment}"
    admin("iam").create_user(UserName=user)
    admin("iam").put_user_policy(
        UserName=user,
        PolicyName="bot-actions",
        PolicyDocument=json.dumps(_actions_only(policies["bot"])),
    )
    key = admin("iam").create_access_key(UserName=user)["AccessKey"]
    patch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    patch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    patch.delenv("AWS_SESSION_TOKEN", raising=False)
    settings = use_stack_settings(patch, stack.settings, endpoint)
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))

    # moto computes a wrong SigV4 signature for EventBridge Scheduler's GET requests and would
    # refuse GetSchedule as SignatureDoesNotMatch; signatures are not what this test checks.
    patch.setattr(IAMRequest, "check_signature", lambda _self: None)
    previous = moto_settings.INITIAL_NO_AUTH_ACTION_COUNT
    moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    ActionAuthenticatorMixin.request_count = 0
    complaints = _Complaints()
    logging.getLogger("rr").addHandler(complaints)
    recorder.on = True
    try:
        run = asyncio.run(run_session(settings, clock))
        asyncio.run(use_file_store(settings, clock))
        asyncio.run(use_store_and_secrets(settings, clock, key_table))
        checked = asyncio.run(preflight(settings, clock=clock))
        recorder.on = False
        refused = _refusals(endpoint, stack)
    finally:
        recorder.on = False
        moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = previous
        logging.getLogger("rr").removeHandler(complaints)
    return EnforcedRun(
        stack=stack,
        run=run,
        requests=list(recorder.requests),
        refused=refused,
        checked=checked,
        complaints=complaints.messages,
        policies=policies,
        account=_account(admin, stack),
    )


class _Complaints(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.name}: {record.getMessage()}")


def _refusals(endpoint: str, stack: Stack) -> list[int]:
    """HTTP statuses of calls outside the policy, made with the bot user's credentials."""
    table = f"rr-{stack.deployment}-events"
    attempts = [
        ("dynamodb", lambda c: c.delete_table(TableName=table)),
        ("ec2", lambda c: c.describe_vpcs()),
        ("scheduler", lambda c: c.list_schedules()),
    ]
    codes = []
    for service, call in attempts:
        client = boto3.client(
            service, endpoint_url=endpoint, region_name=STACK_REGION, config=NO_RETRIES
        )
        try:
            call(client)
        except ClientError as error:
            codes.append(error.response["ResponseMetadata"]["HTTPStatusCode"])
        else:
            codes.append(200)
    return codes


def _stack_policies(iam: Any, stack: Stack) -> dict[str, dict[str, Any]]:
    bot_arn = f"arn:aws:iam::{ACCOUNT_ID}:policy/rr-{stack.deployment}-bot"
    version = iam.get_policy(PolicyArn=bot_arn)["Policy"]["DefaultVersionId"]
    found = {
        "bot": iam.get_policy_version(PolicyArn=bot_arn, VersionId=version)["PolicyVersion"][
            "Document"
        ]
    }
    for role in ("backstop", "server"):
        name = f"rr-{stack.deployment}-{role}"
        for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            document = iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
            found[role] = document
        trust = iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
        found[f"{role}-trust"] = trust
    return {name: _as_dict(document) for name, document in found.items()}


def _as_dict(document: Any) -> dict[str, Any]:
    """A policy document as IAM returned it: parsed JSON, JSON text, or (moto's CloudFormation
    stores a role's inline policies so) a Python literal."""
    if not isinstance(document, str):
        return dict(document)
    try:
        parsed: dict[str, Any] = json.loads(document)
    except json.JSONDecodeError:
        parsed = ast.literal_eval(document)
    return parsed


def _actions_only(policy: dict[str, Any]) -> dict[str, Any]:
    actions = actions_of(policy)
    actions |= {alias for action, alias in MOTO_OPERATION_ALIASES.items() if action in actions}
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": sorted(actions), "Resource": "*"}],
    }


def _account(admin: Any, stack: Stack) -> Account:
    reply = admin("ec2").describe_instances(
        Filters=[{"Name": "tag:rr:deployment", "Values": [stack.deployment]}]
    )
    instances = [i for r in reply["Reservations"] for i in r["Instances"]]
    profile_arn = stack.settings["RR_EC2_INSTANCE_PROFILE"]
    profile = admin("iam").get_instance_profile(InstanceProfileName=profile_arn.rpartition("/")[2])
    return Account(
        account_id=ACCOUNT_ID,
        partition="aws",
        instance_tags={
            i["InstanceId"]: {t["Key"]: t["Value"] for t in i.get("Tags", [])} for i in instances
        },
        profile_roles={profile_arn: profile["InstanceProfile"]["Roles"][0]["Arn"]},
        template_images={stack.settings["RR_EC2_LAUNCH_TEMPLATE_ID"]: stack.image_id},
        kms_aliases={
            alias[
                "AliasName"
            ]: f"arn:aws:kms:{STACK_REGION}:{ACCOUNT_ID}:key/{alias['TargetKeyId']}"
            for alias in admin("kms").list_aliases()["Aliases"]
            if "TargetKeyId" in alias
        },
    )


def _requests_of(enforced: EnforcedRun) -> list[IamRequest]:
    return [a for request in enforced.requests for a in authorisations(request, enforced.account)]


def test_a_whole_session_succeeds_with_only_the_bots_actions(enforced: EnforcedRun) -> None:
    assert enforced.run.ended.status is SessionStatus.ENDED
    assert enforced.complaints == []
    services = {r.service for r in enforced.requests}
    assert services == {"dynamodb", "ec2", "kms", "s3", "scheduler", "ssm"}


def test_rr_bot_check_passes_every_aws_item_with_only_the_bots_actions(
    enforced: EnforcedRun,
) -> None:
    aws_items = [f for f in enforced.checked if not f.item.startswith(("Stripe", "public URL"))]

    assert [f.line() for f in aws_items if not f.ok] == []
    assert len(aws_items) == 10


def test_moto_enforced_the_policy_calls_outside_it_are_refused(enforced: EnforcedRun) -> None:
    assert len(enforced.refused) == 3
    assert all(status in (401, 403) for status in enforced.refused), enforced.refused


def test_every_call_rr_made_is_allowed_with_its_resources_and_conditions(
    enforced: EnforcedRun,
) -> None:
    bot = enforced.policies["bot"]

    denied = [r for r in _requests_of(enforced) if not allowed([bot], r)]

    assert denied == []


def test_the_bots_policy_allows_no_action_a_session_did_not_use(enforced: EnforcedRun) -> None:
    used = {r.action for r in _requests_of(enforced)}

    unused = actions_of(enforced.policies["bot"]) - used

    assert unused == set()


def _instance(deployment: str | None) -> IamRequest:
    tags = {} if deployment is None else {"aws:ResourceTag/rr:deployment": deployment}
    arn = f"arn:aws:ec2:{STACK_REGION}:{ACCOUNT_ID}:instance/i-0123456789abcdef0"
    return IamRequest("ec2:TerminateInstances", arn, tags)


@pytest.mark.parametrize("who", ["bot", "backstop"])
def test_only_instances_tagged_with_the_deployment_may_be_terminated(
    enforced: EnforcedRun, who: str
) -> None:
    policy = enforced.policies[who]
    deployment = enforced.stack.deployment

    assert allowed([policy], _instance(deployment))
    assert not allowed([policy], _instance(None))
    assert not allowed([policy], _instance("another-deployment"))
    other_region = _instance(deployment)
    other_region = IamRequest(
        other_region.action,
        other_region.resource.replace(STACK_REGION, "us-east-1"),
        other_region.context,
    )
    assert not allowed([policy], other_region)


def test_the_backstop_scheduler_may_do_nothing_but_terminate(enforced: EnforcedRun) -> None:
    assert actions_of(enforced.policies["backstop"]) == {"ec2:TerminateInstances"}
    trust = enforced.policies["backstop-trust"]["Statement"][0]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}


def test_the_bot_cannot_tag_an_instance_into_its_deployment(enforced: EnforcedRun) -> None:
    bot = enforced.policies["bot"]
    arn = f"arn:aws:ec2:{STACK_REGION}:{ACCOUNT_ID}:instance/i-0123456789abcdef0"
    tag = {"aws:RequestTag/rr:deployment": enforced.stack.deployment}

    assert not allowed([bot], IamRequest("ec2:CreateTags", arn, tag))
    assert allowed(
        [bot], IamRequest("ec2:CreateTags", arn, {**tag, "ec2:CreateAction": "RunInstances"})
    )
    untagged_launch = IamRequest("ec2:RunInstances", arn.replace("i-0123456789abcdef0", "*"))
    assert not allowed([bot], untagged_launch)


def test_the_bot_passes_each_role_only_to_its_service(enforced: EnforcedRun) -> None:
    bot = enforced.policies["bot"]
    backstop = enforced.stack.settings["RR_EC2_BACKSTOP_ROLE_ARN"]
    server = enforced.account.profile_roles[enforced.stack.settings["RR_EC2_INSTANCE_PROFILE"]]

    def passes(role: str, service: str) -> bool:
        return allowed([bot], IamRequest("iam:PassRole", role, {"iam:PassedToService": service}))

    assert passes(backstop, "scheduler.amazonaws.com") and passes(server, "ec2.amazonaws.com")
    assert not passes(backstop, "ec2.amazonaws.com")
    assert not passes(server, "scheduler.amazonaws.com")
    assert not passes(f"arn:aws:iam::{ACCOUNT_ID}:role/Admin", "ec2.amazonaws.com")


def test_the_servers_read_only_their_deployments_ed_logins(enforced: EnforcedRun) -> None:
    server = enforced.policies["server"]
    mine = enforced.stack.settings["RR_EC2_LOGIN_PARAMETERS"]

    def reads(name: str) -> bool:
        arn = f"arn:aws:ssm:{STACK_REGION}:{ACCOUNT_ID}:parameter{name}"
        return allowed([server], IamRequest("ssm:GetParameter", arn))

    assert actions_of(server) == {"ssm:GetParameter"}
    assert reads(mine)
    assert not reads("/rr/another-deployment/ed-login/one")
    assert not reads("/some/other/secret")


def test_parliament_finds_nothing_in_the_stacks_policies(enforced: EnforcedRun) -> None:
    """parliament judges each statement alone and wants every resource type RunInstances
    touches in one statement; the bot's launch is two statements (AWS's documented pattern for
    requiring tags at launch: the tag condition applies to the instance and its volumes only),
    so it is judged with those two read together, as AWS evaluates them."""
    policies = {k: v for k, v in enforced.policies.items() if not k.endswith("-trust")}
    bot_alone = _findings(policies["bot"])
    policies["bot"] = _launch_statements_together(policies["bot"])

    findings = {name: _findings(document) for name, document in policies.items()}

    assert findings == {name: [] for name in policies}
    assert {issue for issue, _ in bot_alone} == {"RESOURCE_MISMATCH"}
    assert {d["action"] for _, details in bot_alone for d in details} == {"ec2:RunInstances"}


def _findings(document: dict[str, Any]) -> list[tuple[str, Any]]:
    analysed = parliament.analyze_policy_string(json.dumps(document))
    return [(finding.issue, finding.detail) for finding in analysed.findings]


def _launch_statements_together(policy: dict[str, Any]) -> dict[str, Any]:
    launch = [s for s in policy["Statement"] if s["Action"] == "ec2:RunInstances"]
    others = [s for s in policy["Statement"] if s["Action"] != "ec2:RunInstances"]
    resources = sorted({r for s in launch for r in s["Resource"]})
    together = {"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": resources}
    return {**policy, "Statement": [*others, together]}


def test_the_readmes_iam_list_is_the_templates_bot_policy(enforced: EnforcedRun) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("- **IAM for the bot**", 1)[1].split("\n- **", 1)[0]

    listed = set(re.findall(r"`([a-z0-9]+:[A-Z][A-Za-z]+)`", section))

    assert listed == actions_of(enforced.policies["bot"])
