"""Payments under test: the real services over ``memory://``, the stripe SDK against the fake
Stripe API, webhooks signed like Stripe's and posted over HTTP to the bot's web app."""

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

import eventstore
from bot.bootstrap import Rr, build, payment_service
from bot.cloud.local import LocalProvider
from bot.config import ScheduleSettings, Settings
from bot.domain.actor import Actor as Member
from bot.entrypoints.web import create_web_app
from bot.mailbox import Mailbox
from bot.notify import Notice
from bot.payments import PaymentsConfig, PaymentService, payment_routes
from bot.services import Services, SquadronService
from bot.view import ScheduleConfig, View
from bot.view.feeder import ViewFeeder
from tests.fakes.clock import FakeClock
from tests.fakes.stripe_api import FakeStripeApi, signed_delivery, webhook_event

GUILD = "111111111111111111"
BUYER = "222222222222222222"
START = datetime(2026, 11, 28, 18, 0, tzinfo=UTC)


@dataclass
class RecordingNotifier:
    """Keeps every notice; ``wait_for`` returns once a notice of a type has arrived."""

    notices: list[Notice] = field(default_factory=list)
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def notify(self, notice: Notice) -> None:
        async with self._arrived:
            self.notices.append(notice)
            self._arrived.notify_all()

    async def wait_for(self, kind: type) -> Any:
        async with self._arrived:
            await asyncio.wait_for(
                self._arrived.wait_for(lambda: any(isinstance(n, kind) for n in self.notices)), 5
            )
        return next(n for n in self.notices if isinstance(n, kind))

    def of(self, kind: type) -> list[Any]:
        return [n for n in self.notices if isinstance(n, kind)]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def buyer() -> Member:
    return Member(user_id=BUYER, guild_id=GUILD, source="discord", source_id="interaction-1")


@pytest.fixture
async def store(clock: FakeClock) -> AsyncIterator[eventstore.EventStore]:
    opened = eventstore.open("memory://", clock=clock.now)
    yield opened
    await opened.close()


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


SETTINGS = Settings(
    _env_file=None,
    deployment="test",
    schedule=ScheduleSettings(boot_lead_minutes=ScheduleConfig().boot_lead // timedelta(minutes=1)),
)


def build_process(
    store: eventstore.EventStore, notifier: RecordingNotifier, clock: FakeClock, instances_dir: Path
) -> Rr:
    """A bot process over ``store`` whose view mailbox the caller starts and stops."""
    return build(
        SETTINGS,
        store=store,
        compute=LocalProvider(instances_dir, "test", now=clock.now),
        clock=clock,
        notifier=notifier,
    )


@pytest.fixture
async def process(
    store: eventstore.EventStore, notifier: RecordingNotifier, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[Rr]:
    built = build_process(store, notifier, clock, tmp_path)
    built.view_mailbox.start()
    yield built
    await built.services.aclose()
    await built.view_mailbox.stop()


@pytest.fixture
def view_mailbox(process: Rr) -> Mailbox[View]:
    return process.view_mailbox


@pytest.fixture
def feeder(process: Rr) -> ViewFeeder:
    """Brings other processes' writes into the view; tests run its passes themselves."""
    return process.feeder


@pytest.fixture
def services(process: Rr) -> Services:
    return process.services


@dataclass
class OtherProcess:
    """A second bot process on the same store: its own caches and view, fed by its feeder."""

    services: Services
    feeder: ViewFeeder


@pytest.fixture
async def other_process(
    store: eventstore.EventStore, notifier: RecordingNotifier, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[OtherProcess]:
    built = build_process(store, notifier, clock, tmp_path / "other")
    built.view_mailbox.start()
    yield OtherProcess(built.services, built.feeder)
    await built.services.aclose()
    await built.view_mailbox.stop()


@pytest.fixture
def ledger(services: Services) -> SquadronService:
    return services.squadrons


@pytest.fixture
async def stripe_api(clock: FakeClock) -> AsyncIterator[tuple[FakeStripeApi, str]]:
    fake = FakeStripeApi(now=lambda: clock.now().timestamp())
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    yield fake, str(server.make_url("")).rstrip("/")
    await server.close()


@dataclass
class Running:
    """A PaymentService behind the bot's web app on a free loopback port."""

    payments: PaymentService
    base_url: str
    http: ClientSession
    clock: FakeClock

    async def deliver(
        self, event: dict[str, Any], *, secret: str | None = None, signed_at: int | None = None
    ) -> tuple[int, dict[str, Any]]:
        """POST ``event`` to the webhook signed like Stripe; returns status and JSON answer."""
        timestamp = int(self.clock.now().timestamp()) if signed_at is None else signed_at
        body, headers = signed_delivery(
            event, secret or self.payments.provider.webhook_secret, timestamp
        )
        return await self.post_webhook(body, headers)

    async def post_webhook(
        self, body: bytes, headers: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        async with self.http.post(
            f"{self.base_url}/stripe/webhook", data=body, headers=headers
        ) as reply:
            return reply.status, await reply.json()

    def event(self, event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
        """A Stripe event about ``obj``, created now."""
        return webhook_event(event_type, obj, created=int(self.clock.now().timestamp()))


@pytest.fixture
async def running(
    services: Services, notifier: RecordingNotifier, clock: FakeClock
) -> AsyncIterator[Callable[[PaymentsConfig], Any]]:
    """Starts the web app with payments configured by the test; cleans everything up after."""
    started: list[tuple[TestServer, ClientSession]] = []

    async def start(config: PaymentsConfig, process: Services | None = None) -> Running:
        """The web app of ``process`` (the test's own ``services`` unless another is given)."""
        host = services if process is None else process
        payments = payment_service(config, host, notifier, clock)
        host.attach_payments(payments)
        app = create_web_app(health={}, routes=[payment_routes(payments)])
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        http = ClientSession()
        started.append((server, http))
        return Running(payments, str(server.make_url("")).rstrip("/"), http, clock)

    yield start
    for server, http in started:
        await http.close()
        await server.close()


async def bought(app: Running, fake: FakeStripeApi, buyer: Member, amount: int = 2500) -> str:
    """A checkout started through the service; returns its session id."""
    link = await app.payments.start_checkout(buyer, GUILD, amount)
    return next(
        s["id"] for s in fake.sessions.values() if s["client_reference_id"] == link.purchase_id
    )


def stripe_config(api_base: str) -> PaymentsConfig:
    """Stripe through the fake API; no SDK retries, whose back-off would sleep for real."""
    return PaymentsConfig(
        provider="stripe",
        public_url="https://rr.example.test",
        stripe_api_key="sk_test_fake_key",
        stripe_webhook_secret="whsec_test_secret",
        stripe_api_base=api_base,
        stripe_network_retries=0,
    )


def sandbox_config() -> PaymentsConfig:
    """The sandbox; its links name RR_PUBLIC_URL, tests follow their path on the test server."""
    return PaymentsConfig(provider="sandbox", public_url="https://rr.example.test")
