"""One rr process for tests: a store, its view in a mailbox, the services and (when asked) the
scheduler, on a fake clock. Two of them over one store are two bot processes."""

import itertools
from datetime import UTC, datetime, timedelta

from bot.bootstrap import build
from bot.cloud.base import ComputeProvider
from bot.config import PricingSettings, ScheduleSettings, Settings
from bot.domain import squadron as squadrons
from bot.domain.actor import Actor
from bot.domain.pricing import Limits, Pricing
from bot.domain.squadron import SquadronState, squadron_stream
from bot.mailbox import Mailbox as ViewMailbox
from bot.services.lifecycle import LoginPool
from bot.view import ScheduleConfig, View
from eventstore import EventStore, StoredEvent
from tests.fakes.clock import FakeClock, settle
from tests.fakes.notifier import RecordingNotifier

START = datetime(2026, 11, 28, 18, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
GUILD = "100000000000000001"
OTHER_GUILD = "100000000000000002"
BOOKER = "200000000000000001"
MEMBER = "200000000000000002"
OPERATOR_ID = "300000000000000001"
PRICING = Pricing({"small": 120, "medium": 240, "large": 480})
"""A medium server costs 4 cents a minute: 60 minutes are 240 cents, the boot lead 80."""
LIMITS = Limits()
SCHEDULE = ScheduleConfig(heartbeat=timedelta(days=30))
GRACE = timedelta(minutes=15)
DEPLOYMENT = "test"
SETTINGS = Settings(
    _env_file=None,
    deployment=DEPLOYMENT,
    pricing=PricingSettings(
        small_cents_per_hour=120, medium_cents_per_hour=240, large_cents_per_hour=480
    ),
    schedule=ScheduleSettings(boot_lead_minutes=SCHEDULE.boot_lead // MINUTE),
)

_interactions = itertools.count(900_000_000_000_000_001)


def member(user_id: str = BOOKER, *, guild_id: str = GUILD, manager: bool = False) -> Actor:
    """A member acting through a new Discord interaction."""
    return Actor(
        user_id=user_id, guild_id=guild_id, is_manager=manager, source_id=str(next(_interactions))
    )


def operator() -> Actor:
    return Actor(
        user_id=OPERATOR_ID, guild_id=None, is_operator=True, source_id=str(next(_interactions))
    )


class BotProcess:
    def __init__(
        self,
        store: EventStore,
        clock: FakeClock,
        provider: ComputeProvider,
        *,
        login_pool: LoginPool | None = None,
        rr_url: str | None = None,
    ) -> None:
        """``rr_url`` set, servers launch with an agent that reaches rr there."""
        self.store = store
        self.clock = clock
        self.provider = provider
        self.notifier = RecordingNotifier()
        rr = build(
            SETTINGS,
            store=store,
            compute=provider,
            clock=clock,
            notifier=self.notifier,
            schedule=SCHEDULE,
            login_pool=login_pool,
            rr_url=rr_url,
        )
        self.view_mailbox: ViewMailbox[View] = rr.view_mailbox
        self.view = rr.view
        self.services = rr.services
        self.feeder = rr.feeder
        self.scheduler = rr.scheduler
        # Admin sees timed work only where it runs, and a test process runs it only when asked.
        self.services.admin.reconciler = None
        self.services.admin.scheduler = None

    async def start(self, *, scheduler: bool = False) -> None:
        """Start as the app does: rebuild the view from the feed, then run the scheduler."""
        self.view_mailbox.start()
        await self.feeder.catch_up()
        if scheduler:
            self.scheduler.start()
        await settle()

    async def stop(self) -> None:
        await self.scheduler.stop()
        await self.services.aclose()
        await self.view_mailbox.stop()

    async def fund(self, cents: int, guild_id: str = GUILD) -> None:
        await self.services.squadrons.grant(operator(), guild_id, cents, "test credit")

    async def stream(self, stream_id: str) -> list[StoredEvent]:
        return [event async for event in self.store.read(stream_id)]

    async def squadron_in_store(self, guild_id: str = GUILD) -> SquadronState:
        """The squadron folded from the store itself, whatever any process has cached."""
        state = squadrons.initial_squadron
        for event in await self.stream(squadron_stream(guild_id)):
            state = squadrons.evolve(state, event)
        return state

    async def types(self, stream_id: str) -> list[str]:
        return [event.type for event in await self.stream(stream_id)]
