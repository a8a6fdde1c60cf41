"""The composition root: `build` wires rr's object graph from settings, in one place.

The app opens what talks to the outside (the store, the compute provider, the web socket, the
object store) with the ``open_*`` functions here and passes them to `build`; tests pass their
own store, compute provider, notifier, clock and payments instead, so production and test wiring
are the same code. `build` starts nothing: the caller starts and stops the parts in order.
"""

import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import timedelta

from botocore.exceptions import BotoCoreError, ClientError
from prometheus_client import CollectorRegistry, Counter, Gauge

import eventstore
from bot.agentapi import build_agent_api
from bot.agentapi.sessions import ViewSessions
from bot.clock import Clock, ScaledClock, SystemClock
from bot.cloud.base import ComputeProvider
from bot.cloud.ec2 import open_ec2_provider
from bot.cloud.local import LocalProvider
from bot.cloud.logins import StoredLoginPool
from bot.config import InvalidSettings, Settings
from bot.domain.pricing import Limits, Pricing
from bot.files.limits import FileLimits
from bot.files.store import ObjectStore, open_object_store
from bot.leadership import RENEW_EVERY, RETRY_EVERY, TERM, FencedStore, Leadership
from bot.mailbox import Mailbox
from bot.notify import LoggingNotifier, Notice, Notifier
from bot.payments import PaymentsConfig, PaymentService, build_payment_service
from bot.scheduler import Scheduler, SessionActions
from bot.secrets import SealingStore, open_keyring
from bot.services import ComputeSettings, MissionLibrary, Services
from bot.services.reconcile import CloudReconciler
from bot.services.server_files import RenderedFiles
from bot.view import ScheduleConfig, View
from bot.view.checkpoint import ViewCheckpoints
from bot.view.feeder import ViewFeeder
from bot.view.handle import ViewHandle

log = logging.getLogger("rr.app")

FEED_INTERVAL = timedelta(seconds=5)
"""How often (in real time) the feeder brings other processes' events into the view."""


class FatalError(Exception):
    """rr cannot start, or cannot go on; ``str()`` is one line saying what to fix."""


class SwitchableNotifier:
    """Carries notices to ``target``, which the wiring replaces once Discord is connected
    (the Discord client needs the services, which need a notifier first)."""

    def __init__(self, target: Notifier) -> None:
        self.target = target

    async def notify(self, notice: Notice) -> None:
        await self.target.notify(notice)


@dataclass
class Rr:
    """rr's wired parts in one process, none of them started yet."""

    settings: Settings
    clock: Clock
    store: eventstore.EventStore
    compute: ComputeProvider
    notifier: Notifier
    schedule: ScheduleConfig
    view_mailbox: Mailbox[View]
    view: ViewHandle
    feeder: ViewFeeder
    feed_interval: timedelta
    services: Services
    reconciler: CloudReconciler
    scheduler: Scheduler
    registry: CollectorRegistry
    """The process's metrics; the scheduler's actions and the uptime are counted in it."""
    leadership: Leadership
    """Whether this process is the active one; the services write through its fence."""


def build(
    settings: Settings,
    *,
    store: eventstore.EventStore,
    compute: ComputeProvider,
    clock: Clock | None = None,
    notifier: Notifier | None = None,
    payments: PaymentsConfig | None = None,
    schedule: ScheduleConfig | None = None,
    login_pool: StoredLoginPool | None = None,
    files: ObjectStore | None = None,
    rr_url: str | None = None,
) -> Rr:
    """rr's object graph over an open ``store`` and ``compute`` provider.

    ``clock`` defaults to the one the settings choose, ``notifier`` to one that logs until
    Discord is connected (a `SwitchableNotifier`), ``schedule`` and ``login_pool`` to what the
    settings say; the services take payments only when ``payments`` is given, and keep a
    mission library only when ``files`` (the object store) is. ``rr_url`` is the web app's
    public address, where servers' agents reach rr; without it servers launch without an agent
    (tests of other parts).
    """
    clock = clock or make_clock(settings)
    notifier = notifier or SwitchableNotifier(LoggingNotifier())
    schedule = schedule or schedule_config(settings)
    keys = store.keys if isinstance(store, SealingStore) else None
    fenced = FencedStore(store)
    if login_pool is None and settings.compute == "ec2" and settings.ec2.login_parameters:
        login_pool = StoredLoginPool(fenced, settings.ec2.login_parameters)
    retention = timedelta(hours=settings.schedule.ended_retention_hours)
    view_mailbox: Mailbox[View] = Mailbox(View(schedule, retention=retention), name="view")
    view = ViewHandle(view_mailbox)
    feed_interval = FEED_INTERVAL * settings.sandbox_time_scale
    backstop_grace = timedelta(minutes=settings.schedule.backstop_grace_minutes)
    agents = build_agent_api(store, ViewSessions(view), clock, RenderedFiles(view))
    services = Services(
        store=fenced,
        view=view,
        provider=compute,
        notifier=notifier,
        clock=clock,
        pricing=Pricing(settings.pricing.rates_cents_per_hour, settings.pricing.currency),
        limits=limits(settings),
        compute=ComputeSettings(
            deployment=settings.deployment,
            backstop_grace=backstop_grace,
            graceful_end=timedelta(seconds=settings.schedule.graceful_end_seconds),
            rr_url=rr_url,
        ),
        agents=agents,
        login_pool=login_pool,
        keys=keys,
        file_limits=FileLimits.from_settings(settings.files),
    )
    if payments is not None:
        services.attach_payments(payment_service(payments, services, notifier, clock))
    if files is not None:
        agents.transfers.attach(files)
        services.attach_missions(
            MissionLibrary(
                streams=services.streams,
                files=files,
                quota=FileLimits.from_settings(settings.files).mission,
                installed_terrains=settings.installed_terrains,
            )
        )
    reconciler = CloudReconciler(
        provider=compute,
        view=view,
        sessions=services.sessions,
        notifier=notifier,
        clock=clock,
        sightings=services.sightings,
        logins=login_pool,
        backstop_grace=backstop_grace,
    )
    services.admin.reconciler = reconciler
    registry = CollectorRegistry()
    built_at = time.monotonic()
    uptime = Gauge("rr_uptime_seconds", "Seconds since the app was built.", registry=registry)
    uptime.set_function(lambda: round(time.monotonic() - built_at, 3))
    scheduler = Scheduler(
        view_mailbox, CountedActions(services.sessions, registry), clock, schedule
    )
    services.admin.scheduler = scheduler
    return Rr(
        settings=settings,
        clock=clock,
        store=store,
        compute=compute,
        notifier=notifier,
        schedule=schedule,
        view_mailbox=view_mailbox,
        view=view,
        feeder=ViewFeeder(
            store,
            view_mailbox,
            clock,
            interval=feed_interval,
            checkpoints=ViewCheckpoints(store),
        ),
        feed_interval=feed_interval,
        services=services,
        reconciler=reconciler,
        scheduler=scheduler,
        registry=registry,
        leadership=Leadership(
            fenced,
            clock,
            term=TERM * settings.sandbox_time_scale,
            renew_every=RENEW_EVERY * settings.sandbox_time_scale,
            retry_every=RETRY_EVERY * settings.sandbox_time_scale,
        ),
    )


def payment_service(
    config: PaymentsConfig, services: Services, notifier: Notifier, clock: Clock
) -> PaymentService:
    """Payments over ``services``' squadrons as their ledger."""
    return build_payment_service(config, ledger=services.squadrons, notifier=notifier, clock=clock)


def payments_config(settings: Settings, public_url: str) -> PaymentsConfig:
    try:
        return PaymentsConfig.from_settings(settings, public_url)
    except ValueError as error:
        raise FatalError(str(error)) from None


class CountedActions:
    """The services' session actions, counted per kind and outcome for /metrics."""

    def __init__(self, actions: SessionActions, registry: CollectorRegistry) -> None:
        self._actions = actions
        self._counts = Counter(
            "rr_scheduler_actions_total",
            "Actions the scheduler performed, by kind and outcome.",
            ["kind", "outcome"],
            registry=registry,
        )

    async def launch(self, session_id: str) -> object:
        return await self._counted("launch", self._actions.launch(session_id))

    async def check_ready(self, session_id: str) -> object:
        return await self._counted("check_ready", self._actions.check_ready(session_id))

    async def terminate(self, session_id: str, reason: str) -> object:
        return await self._counted("terminate", self._actions.terminate(session_id, reason))

    async def send_reminder(self, session_id: str, key: str) -> object:
        return await self._counted("remind", self._actions.send_reminder(session_id, key))

    async def deliver(self, session_id: str, key: str) -> object:
        return await self._counted("deliver", self._actions.deliver(session_id, key))

    async def _counted(self, kind: str, action: Awaitable[object]) -> object:
        try:
            result = await action
        except Exception:
            self._counts.labels(kind, "failed").inc()
            raise
        self._counts.labels(kind, "done").inc()
        return result


def make_clock(settings: Settings) -> Clock:
    if settings.sandbox_time_scale == 1:
        return SystemClock()
    return ScaledClock(settings.sandbox_time_scale)


def schedule_config(settings: Settings) -> ScheduleConfig:
    schedule = settings.schedule
    return ScheduleConfig(
        reminder_offsets_minutes=schedule.reminder_offsets_minutes,
        boot_lead=timedelta(minutes=schedule.boot_lead_minutes),
        boot_lead_floor=timedelta(minutes=schedule.boot_lead_floor_minutes),
        boot_lead_ceiling=timedelta(minutes=schedule.boot_lead_ceiling_minutes),
        end_warning_offsets_minutes=schedule.end_warnings_minutes,
        low_credit_warning=timedelta(minutes=schedule.low_credit_warning_minutes),
        readiness_timeout=timedelta(minutes=schedule.readiness_timeout_minutes),
        readiness_probe_interval=timedelta(seconds=schedule.readiness_probe_seconds),
        terminate_retry=timedelta(seconds=schedule.terminate_retry_seconds),
    )


def limits(settings: Settings) -> Limits:
    return Limits(
        min_duration_minutes=settings.limits.min_duration_minutes,
        max_duration_minutes=settings.limits.max_duration_minutes,
        booking_horizon_days=settings.limits.booking_horizon_days,
        max_concurrent_per_guild=settings.limits.max_concurrent_per_guild,
        min_extension_minutes=settings.limits.min_extension_minutes,
    )


async def open_store(settings: Settings, clock: Clock) -> SealingStore:
    """The event store, sealing squadrons' secret settings with their keys. The store records
    each event's time on the bot's clock, so that a scaled sandbox clock and recorded times
    agree."""
    try:
        store = eventstore.open(settings.event_store, clock=clock.now)
    except ValueError as error:
        raise FatalError(f"RR_EVENT_STORE is not usable: {error}") from None
    try:
        keys = await open_keyring(settings.secrets_key, store, settings.secrets_key_table)
    except (ValueError, OSError, BotoCoreError, ClientError) as error:
        await store.close()
        raise FatalError(f"RR_SECRETS_KEY is not usable: {error}") from None
    log.info("secrets ready", extra={"master_key": keys.master.name})
    return SealingStore(store, keys)


async def open_compute(settings: Settings, clock: Clock) -> ComputeProvider:
    if settings.compute == "ec2":
        try:
            return await open_ec2_provider(settings, clock.now)
        except InvalidSettings as error:
            raise FatalError(str(error)) from None
        except (BotoCoreError, ClientError) as error:
            raise FatalError(f"EC2 cannot be reached: {error}") from None
    return LocalProvider(
        settings.local_instances_dir,
        settings.deployment,
        now=clock.now,
        time_scale=settings.sandbox_time_scale,
        retention=timedelta(hours=settings.local_retention_hours),
    )


async def open_files(settings: Settings, clock: Clock, base_url: str) -> ObjectStore:
    key = settings.files.signing_key
    try:
        return await open_object_store(
            settings.files.store,
            clock=clock,
            base_url=base_url,
            signing_key=None if key is None else key.get_secret_value().encode(),
        )
    except ValueError as error:
        raise FatalError(f"RR_FILES_STORE is not usable: {error}") from None
    except (BotoCoreError, ClientError) as error:
        raise FatalError(f"The file store's bucket cannot be used: {error}") from None
