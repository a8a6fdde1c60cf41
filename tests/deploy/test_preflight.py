"""``rr-bot check`` against a deployed stack in moto, the fake Stripe API and a local health
endpoint: every item passes, then each item is broken in turn and only it fails, saying what to
fix. AWS refusals moto cannot produce without IAM enforcement are AWS's error answers given by
botocore hooks on the real clients (tests/bot/cloud/helpers.with_error); the preflight under real
enforcement is in test_least_privilege.py."""

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.config import Settings
from bot.entrypoints.main import main
from bot.preflight import AwsClients, Finding, preflight
from tests.bot.cloud.helpers import with_error
from tests.deploy.stack import Stack
from tests.fakes.clock import FakeClock
from tests.fakes.stripe_api import FailureMode, FakeStripeApi

pytestmark = pytest.mark.e2e

WEBHOOK_SECRET = "whsec_preflight_test"
ITEMS = [
    "event table",
    "event table reads",
    "event table writes",
    "launch template",
    "server launch (dry run)",
    "server termination (dry run)",
    "backstop role",
    "ED logins",
    "secrets key",
    "file store",
    "Stripe API key",
    "Stripe webhook secret",
    "public URL",
]


class Health:
    """rr's /healthz as the public URL shows it: 200, or what a test sets."""

    def __init__(self) -> None:
        self.status = 200

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self._answer)
        return app

    async def _answer(self, _: web.Request) -> web.Response:
        return web.Response(status=self.status)


NOT_TRIED = {"event table": ["event table reads", "event table writes"]}
"""Items not tried (and so failed) while the one they depend on fails."""


@dataclass
class Deployment:
    stack: Stack
    admin: Any
    stripe: FakeStripeApi
    stripe_base: str
    health: "Health"
    env: dict[str, str]
    monkeypatch: pytest.MonkeyPatch
    clock: FakeClock

    def settings(self) -> Settings:
        for name, value in self.env.items():
            self.monkeypatch.setenv(name, value)
        return Settings(_env_file=None)  # type: ignore[call-arg]

    def clients(self) -> AwsClients:
        return AwsClients(
            dynamodb=self.admin("dynamodb"),
            ec2=self.admin("ec2"),
            scheduler=self.admin("scheduler"),
            ssm=self.admin("ssm"),
        )

    async def check(self, clients: AwsClients | None = None) -> list[Finding]:
        return await preflight(
            self.settings(),
            clients=clients or self.clients(),
            stripe_api_base=self.stripe_base,
            clock=self.clock,
        )


@pytest.fixture
async def deployment(
    stack: Stack,
    admin: Any,
    clock: FakeClock,
    moto_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Deployment]:
    for name in stack.settings["RR_EC2_LOGIN_PARAMETERS"].split(","):
        admin("ssm").put_parameter(Name=name, Value="{}", Type="SecureString")
    stripe = FakeStripeApi(now=lambda: clock.now().timestamp())
    stripe_server = TestServer(stripe.app(), host="127.0.0.1")
    health = Health()
    health_server = TestServer(health.app(), host="127.0.0.1")
    await stripe_server.start_server()
    await health_server.start_server()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    env = {
        **stack.settings,
        "RR_FILES_STORE": f"{stack.settings['RR_FILES_STORE']}&endpoint_url={moto_endpoint}",
        "STRIPE_API_KEY": stripe.api_key,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "RR_PUBLIC_URL": str(health_server.make_url("")).rstrip("/"),
    }
    stripe_base = str(stripe_server.make_url("")).rstrip("/")
    yield Deployment(stack, admin, stripe, stripe_base, health, env, monkeypatch, clock)
    await stripe_server.close()
    await health_server.close()


def _items(findings: list[Finding]) -> list[str]:
    names = [f.item.split(" lt-")[0].split(" rr-")[0].split(" arn:")[0] for f in findings]
    return [name.split(" s3:")[0].split(" kms:")[0] for name in names]


async def test_a_complete_deployment_passes_every_item(deployment: Deployment) -> None:
    findings = await deployment.check()

    assert [f.line() for f in findings if not f.ok] == []
    assert _items(findings) == ITEMS
    schedules = deployment.admin("scheduler").list_schedules()["Schedules"]
    assert not [s for s in schedules if s["Name"].endswith("-preflight")]


Breaker = Callable[[Deployment, AwsClients], None]


def _env(name: str, value: Callable[[Deployment], str]) -> Breaker:
    def apply(deployment: Deployment, _: AwsClients) -> None:
        deployment.env[name] = value(deployment)

    return apply


def _refuse(client: str, operation: str, code: str) -> Breaker:
    def apply(_: Deployment, clients: AwsClients) -> None:
        with_error(getattr(clients, client), operation, code, status=403)

    return apply


def _table_without_index(deployment: Deployment, _: AwsClients) -> None:
    name = f"rr-{deployment.stack.deployment}-bare"
    deployment.admin("dynamodb").create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    deployment.env["RR_EVENT_STORE"] = f"dynamodb://{name}?region=eu-west-1&create=false"


def _template_without_image(deployment: Deployment, _: AwsClients) -> None:
    template = deployment.admin("ec2").create_launch_template(
        LaunchTemplateName=f"rr-{deployment.stack.deployment}-no-image",
        LaunchTemplateData={"ImageId": "ami-00000000000000000"},
    )["LaunchTemplate"]
    deployment.env["RR_EC2_LAUNCH_TEMPLATE_ID"] = template["LaunchTemplateId"]


def _running_server(deployment: Deployment, clients: AwsClients) -> None:
    deployment.admin("ec2").run_instances(
        ImageId=deployment.stack.image_id,
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": [{"Key": "rr:deployment", "Value": deployment.stack.deployment}],
            }
        ],
    )
    with_error(clients.ec2, "TerminateInstances", "UnauthorizedOperation", status=403)


def _outside_prefix(deployment: Deployment, _: AwsClients) -> None:
    name = f"/elsewhere/{deployment.stack.deployment}/login"
    deployment.admin("ssm").put_parameter(Name=name, Value="{}", Type="SecureString")
    deployment.env["RR_EC2_LOGIN_PARAMETERS"] = name


def _stripe_refuses_the_key(deployment: Deployment, _: AwsClients) -> None:
    deployment.stripe.fail(FailureMode.BAD_KEY)


def _unhealthy(deployment: Deployment, _: AwsClients) -> None:
    deployment.health.status = 503


BROKEN: list[tuple[str, Breaker, str, str]] = [
    (
        "no table",
        _env("RR_EVENT_STORE", lambda d: "dynamodb://rr-missing?region=eu-west-1&create=false"),
        "event table",
        "does not exist",
    ),
    ("table without the feed index", _table_without_index, "event table", "no 'feed' index"),
    (
        "reads refused",
        _refuse("dynamodb", "Query", "AccessDeniedException"),
        "event table reads",
        "dynamodb:Query is refused",
    ),
    (
        "writes refused",
        _refuse("dynamodb", "PutItem", "AccessDeniedException"),
        "event table writes",
        "dynamodb:PutItem is refused",
    ),
    (
        "no launch template",
        _env("RR_EC2_LAUNCH_TEMPLATE_ID", lambda d: "lt-00000000000000000"),
        "launch template",
        "does not exist",
    ),
    ("no image", _template_without_image, "launch template", "does not exist here"),
    (
        "launch refused",
        _refuse("ec2", "RunInstances", "UnauthorizedOperation"),
        "server launch (dry run)",
        "ec2:RunInstances is refused",
    ),
    (
        "termination refused",
        _running_server,
        "server termination (dry run)",
        "ec2:TerminateInstances is refused",
    ),
    (
        "backstop role refused",
        _refuse("scheduler", "CreateSchedule", "ValidationException"),
        "backstop role",
        "set RR_EC2_BACKSTOP_ROLE_ARN",
    ),
    (
        "login parameter missing",
        _env("RR_EC2_LOGIN_PARAMETERS", lambda d: f"/rr/{d.stack.deployment}/ed-login/gone"),
        "ED logins",
        "is not an SSM SecureString",
    ),
    ("login the servers cannot read", _outside_prefix, "ED logins", "is outside"),
    (
        "no bucket",
        _env(
            "RR_FILES_STORE",
            lambda d: d.env["RR_FILES_STORE"].replace("s3://rr-", "s3://gone-rr-"),
        ),
        "file store",
        "the bucket does not exist",
    ),
    (
        "no secrets key",
        _env("RR_SECRETS_KEY", lambda d: "kms://alias/rr-gone?region=eu-west-1"),
        "secrets key",
        "does not exist",
    ),
    ("Stripe refuses the key", _stripe_refuses_the_key, "Stripe API key", "refuses"),
    (
        "webhook secret not a signing secret",
        _env("STRIPE_WEBHOOK_SECRET", lambda d: "sk_test_oops"),
        "Stripe webhook secret",
        "whsec_",
    ),
    (
        "public URL unreachable",
        _env("RR_PUBLIC_URL", lambda d: "http://127.0.0.1:9"),
        "public URL",
        "not reachable",
    ),
    ("public URL unhealthy", _unhealthy, "public URL", "answers 503"),
]


@pytest.mark.parametrize(
    ("breaker", "item", "words"),
    [pytest.param(b, i, w, id=name) for name, b, i, w in BROKEN],
)
async def test_each_broken_item_fails_alone_saying_what_to_fix(
    deployment: Deployment, breaker: Breaker, item: str, words: str
) -> None:
    clients = deployment.clients()
    breaker(deployment, clients)

    findings = await deployment.check(clients)

    failures = [f for f in findings if not f.ok]
    expected = [item, *NOT_TRIED.get(item, [])]
    assert [_items([f])[0] for f in failures] == expected, [f.line() for f in failures]
    assert words in failures[0].detail
    assert _items(findings) == ITEMS


async def test_rr_bot_check_prints_one_line_per_item_and_no_secret(
    deployment: Deployment,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """The command as an operator runs it, boto3 finding moto through AWS_ENDPOINT_URL; with
    sandbox payments in Discord instead of Stripe keys (so that it calls no Stripe), and a
    Discord token it must not print."""
    token = "discord-token-that-must-not-be-printed"
    del deployment.env["STRIPE_API_KEY"], deployment.env["STRIPE_WEBHOOK_SECRET"]
    deployment.env["DISCORD_TOKEN"] = token
    deployment.env["RR_SANDBOX_PAYMENTS"] = "true"
    deployment.settings()
    for name in ("STRIPE_API_KEY", "STRIPE_WEBHOOK_SECRET"):
        deployment.monkeypatch.delenv(name, raising=False)
    deployment.monkeypatch.chdir(tmp_path)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        status = await asyncio.to_thread(main, ["check"])
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)

    printed = capsys.readouterr().out.splitlines()
    assert status == 1
    assert len(printed) == len(ITEMS)  # the two Stripe items are one while unset, and a summary
    assert [line for line in printed if line.startswith("FAIL")] == [
        "FAIL Stripe: RR_SANDBOX_PAYMENTS=true: Discord members get credit for free; set "
        "STRIPE_API_KEY and STRIPE_WEBHOOK_SECRET for real payments."
    ]
    assert printed[-1] == "rr: 1 item(s) to fix."
    assert not any(token in line for line in printed)


def test_rr_bot_refuses_an_unknown_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chekc"]) == 2
    assert capsys.readouterr().err.strip() == "usage: rr-bot [check]"
