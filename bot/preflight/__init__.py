"""``rr-bot check``: a deployment checked item by item before rr runs on it.

Each item is exercised the way rr uses it, leaving nothing changed: the event table and its
index (reads, and a conditional put that can never succeed), the launch template and its image,
a dry-run launch and termination, a disabled backstop schedule with the backstop role (deleted
at once), the ED login parameters (described, never read), the secrets key (a data key made
and unwrapped), the file store's bucket (an empty
probe object written and deleted), Stripe's keys (listing checkout sessions), and the public
URL's health check. One line per item says what to fix.
"""

from collections.abc import Callable
from datetime import datetime

from bot.clock import Clock, SystemClock
from bot.cloud.ec2.backstop import Backstop
from bot.cloud.ec2.provider import Ec2Provider
from bot.cloud.ec2.setup import check_ec2_settings
from bot.config import InvalidSettings, Settings
from bot.preflight.aws import AwsClients, dynamodb_table, event_table, servers
from bot.preflight.files import file_store
from bot.preflight.findings import Finding, failed, passed
from bot.preflight.secrets import secrets_key
from bot.preflight.web import public_url, stripe_keys

__all__ = ["AwsClients", "Finding", "preflight"]


async def preflight(
    settings: Settings,
    *,
    clients: AwsClients | None = None,
    stripe_api_base: str | None = None,
    clock: Clock | None = None,
) -> list[Finding]:
    """Every item's finding, in a fixed order; AWS clients are boto3's unless given."""
    clock = clock or SystemClock()
    table = dynamodb_table(settings.event_store)
    if clients is None and (table is not None or settings.compute == "ec2"):
        clients = AwsClients.from_environment(table[1] if table else None)
    found: list[Finding] = []
    if table is None:
        scheme = settings.event_store.partition(":")[0]
        found.append(passed("event store", f"{scheme}, on this machine: nothing on AWS to check"))
    else:
        assert clients is not None
        found += await event_table(clients.dynamodb, table[0])
    if settings.compute == "ec2":
        assert clients is not None
        found += await _servers(settings, clients, clock.now)
    else:
        found.append(passed("servers", "local stand-ins (RR_COMPUTE=local): nothing to check"))
    found.append(await secrets_key(settings))
    found.append(await file_store(settings, clock))
    found += await stripe_keys(settings, stripe_api_base)
    found.append(await public_url(settings))
    return found


async def _servers(
    settings: Settings, clients: AwsClients, now: Callable[[], datetime]
) -> list[Finding]:
    try:
        check_ec2_settings(settings.ec2)
    except InvalidSettings as error:
        return [failed("servers", str(error))]
    region = clients.ec2.meta.region_name
    if not region:
        return [failed("servers", "no AWS region: set AWS_DEFAULT_REGION.")]
    assert settings.ec2.backstop_role_arn is not None
    backstop = Backstop(
        clients.scheduler,
        deployment=settings.deployment,
        role_arn=settings.ec2.backstop_role_arn,
        now=now,
    )
    provider = Ec2Provider(
        clients.ec2, backstop, settings.ec2, deployment=settings.deployment, region=region
    )
    return await servers(settings, clients, provider, now())


def report(findings: list[Finding]) -> tuple[str, int]:
    """The lines to print, and the exit status: 0 when every item passed."""
    lines = [finding.line() for finding in findings]
    failures = sum(not finding.ok for finding in findings)
    lines.append("rr: every item passed." if not failures else f"rr: {failures} item(s) to fix.")
    return "\n".join(lines), 0 if not failures else 1
