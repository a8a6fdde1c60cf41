"""rr's application services: the one object cogs, the web app, the scheduler and admin tools use.

A command loads its aggregates through the cached repositories, decides, appends (deciding
again on a conflict) and publishes the stored events to the view, which wakes the scheduler
when they move its plan. Slow side effects (a launch) run after the decision is recorded.
Several ``Services`` over one store (several bot processes) are safe: every append is
conditional on the version it decided on.
"""

from bot.agentapi import AgentApi
from bot.clock import Clock
from bot.cloud.base import ComputeProvider
from bot.config import FilesSettings
from bot.domain.pricing import Limits, Pricing
from bot.files.limits import FileLimits
from bot.files.miz.limits import MizLimits
from bot.notify import Notifier
from bot.payments.service import PaymentService
from bot.secrets import KeyRing
from bot.services.admin import AdminService, Health, Reconciler, SchedulerStatus
from bot.services.background import BackgroundTasks
from bot.services.debriefs import Debriefs
from bot.services.downloads import ViewDownloads
from bot.services.intents import Intent, IntentRunner
from bot.services.lifecycle import ComputeSettings, Lifecycle, LoginPool
from bot.services.missions import Library, MissionLibrary
from bot.services.saves import CampaignSaves
from bot.services.sessions import Booking, Quote, SessionService
from bot.services.sightings import Sightings
from bot.services.squadrons import LedgerEntry, Page, SquadronService
from bot.services.streams import Streams
from bot.services.watch import ServerWatch
from bot.view.handle import ViewHandle
from eventstore import EventStore

__all__ = [
    "AdminService",
    "Booking",
    "ComputeSettings",
    "Health",
    "Intent",
    "LedgerEntry",
    "Library",
    "LoginPool",
    "MissionLibrary",
    "Page",
    "Quote",
    "Reconciler",
    "SchedulerStatus",
    "Services",
    "SessionService",
    "SquadronService",
]


class Services:
    """Builds and holds the services over one store, view, provider and notifier.

    The composition root (`bot.bootstrap.build`) attaches what needs the services to exist
    first: ``payments`` (its ledger is ``squadrons``), ``admin.reconciler`` and
    ``admin.scheduler``, and ``missions`` when it is given the object store.
    """

    def __init__(
        self,
        *,
        store: EventStore,
        view: ViewHandle,
        provider: ComputeProvider,
        notifier: Notifier,
        clock: Clock,
        pricing: Pricing,
        limits: Limits,
        compute: ComputeSettings,
        agents: AgentApi,
        login_pool: LoginPool | None = None,
        keys: KeyRing | None = None,
        file_limits: FileLimits | None = None,
    ) -> None:
        self.store = store
        self.view = view
        self.provider = provider
        self.notifier = notifier
        self.clock = clock
        self.pricing = pricing
        self.limits = limits
        self.agents = agents
        self.background = BackgroundTasks()
        self.sightings = Sightings()
        streams = self.streams = Streams(store, view)
        files = file_limits or FileLimits.from_settings(FilesSettings())
        self.saves = CampaignSaves(
            store, agents.transfers, MizLimits(max_file_bytes=files.debrief_max_bytes)
        )
        agents.transfers.downloads = ViewDownloads(view, self.saves, agents.transfers)
        self.debriefs = Debriefs(
            agents=agents,
            notifier=notifier,
            clock=clock,
            limits=files,
            background=self.background,
            view=view,
            saves=self.saves,
        )
        lifecycle = Lifecycle(
            streams=streams,
            provider=provider,
            sightings=self.sightings,
            notifier=notifier,
            clock=clock,
            compute=compute,
            limits=limits,
            background=self.background,
            agents=agents,
            login_pool=login_pool,
            debriefs=self.debriefs,
        )
        self.watch = ServerWatch(
            streams=streams,
            heartbeats=agents.heartbeats,
            lifecycle=lifecycle,
            notifier=notifier,
            clock=clock,
        )
        """Who is flying and the idle stop; the app starts it, tests call ``tick``."""
        self.sessions = SessionService(
            streams=streams,
            lifecycle=lifecycle,
            clock=clock,
            pricing=pricing,
            limits=limits,
            background=self.background,
        )
        self._intents = IntentRunner(self.sessions, streams, notifier, clock)
        self.squadrons = SquadronService(
            streams=streams,
            pricing=pricing,
            intents=self._intents,
            background=self.background,
            keys=keys,
        )
        self.admin = AdminService(
            store=store,
            view=view,
            lifecycle=lifecycle,
            pricing=pricing,
            background=self.background,
        )
        self._payments: PaymentService | None = None
        self._missions: MissionLibrary | None = None

    @property
    def missions(self) -> MissionLibrary:
        if self._missions is None:
            raise RuntimeError("The mission library is not attached to these services.")
        return self._missions

    def attach_missions(self, missions: MissionLibrary) -> None:
        self._missions = missions

    @property
    def payments(self) -> PaymentService:
        if self._payments is None:
            raise RuntimeError("Payments are not attached to these services.")
        return self._payments

    def attach_payments(self, payments: PaymentService) -> None:
        self._payments = payments

    async def aclose(self) -> None:
        """Let background work (launches under way, paid requests) finish, then close payments;
        paid requests waiting to be tried again are left for the next start-up."""
        self._intents.stop()
        await self.debriefs.aclose()
        await self.background.drain()
        if self._payments is not None:
            await self._payments.aclose()
