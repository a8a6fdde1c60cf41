"""The running process: opens the store, compute and web socket, has `bot.bootstrap.build` wire
the rest, then starts view, feeder, payments and web app, and, in the process holding the lease
(`bot.leadership`), Discord, reconciler, scheduler and server watch; a standby starts those when
it takes over.

`App.start` opens each part in that order and logs where it lives; `App.stop` closes them in
reverse order (server watch, scheduler, reconciler, background work, Discord, the lease, web,
payments, feeder, view, store), and so does a start that fails half-way. `serve` runs an app
until SIGINT or SIGTERM, or until the process loses the lease.
"""

import asyncio
import logging
import os
import signal
import time
from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack
from dataclasses import replace
from datetime import timedelta
from typing import Any, Protocol

import aiohttp
import discord
from prometheus_client import Counter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

import eventstore
from bot.agentapi import AgentApi, agent_routes
from bot.bootstrap import (
    FatalError,
    Rr,
    SwitchableNotifier,
    build,
    make_clock,
    open_compute,
    open_files,
    open_store,
    payments_config,
)
from bot.clock import Clock, ScaledClock
from bot.clock_anchor import carry_clock
from bot.cloud.local import LocalProvider
from bot.config import Settings
from bot.entrypoints.sandbox import (
    CONSOLE_PATH,
    GUILD_READY_TIMEOUT,
    Sandbox,
    announce,
    is_loopback,
)
from bot.entrypoints.standin_panel import PANEL_PATH, StandinPanel
from bot.entrypoints.web import CheckResult, HealthCheck, WebServer, create_web_app
from bot.files.limits import FileLimits
from bot.files.store import ObjectStore
from bot.leadership import Leadership
from bot.logs import redact_also, url_without_credentials
from bot.notify import FanoutNotifier, LoggingNotifier
from bot.payments import payment_routes
from bot.services import SchedulerStatus, Services
from bot.services.reconcile import CloudReconciler
from bot.view import ViewStats
from bot.view.handle import ViewHandle
from cogs.utils.client import DiscordOptions, RRBot

log = logging.getLogger("rr.app")

HEALTH_PROBE_STREAM = "health#probe"
"""A stream nobody writes: reading it is the cheapest request that proves the store answers."""
VIEW_MAX_LAG_PASSES = 6
"""The view is behind when the feeder has not reached the store's head for this many passes."""
SCHEDULER_MAX_SILENCE_HEARTBEATS = 3
EXIT_INTERRUPTED = 130
PANEL_LINK = "Stand-in servers: pilots and in-game chat"


class App:
    """Everything rr runs in one process. ``on_fatal`` is called when a part fails for good
    after start-up (Discord refusing the connection), so the runner can stop the app."""

    def __init__(
        self,
        settings: Settings,
        on_fatal: Callable[[], None] = lambda: None,
        *,
        clock: Clock | None = None,
        guild_ready_timeout: float = DiscordOptions.guild_ready_timeout,
    ) -> None:
        """``clock`` replaces the one the settings choose (tests drive a fake one);
        ``guild_ready_timeout`` is how long discord.py waits for guilds before it is ready."""
        self.settings = settings
        self.clock = clock or make_clock(settings)
        self.discord: RRBot | None = None
        """The Discord client, once connected."""
        self.sandbox: Sandbox | None = None
        """The local Discord sandbox, while it runs (without DISCORD_TOKEN)."""
        self._guild_ready_timeout = guild_ready_timeout
        self.failure: str | None = None
        """Why the app asked to be stopped, if it did."""
        self._on_fatal = on_fatal
        self._stack = AsyncExitStack()
        self._web: WebServer | None = None
        self._services: Services | None = None
        self.agent_api: AgentApi | None = None
        """rr's side of the server agents (credentials, files, heartbeats), once started."""
        self.files: ObjectStore | None = None
        """The object store of squadrons' missions and debriefs, once started."""
        self.file_limits = FileLimits.from_settings(settings.files)
        self._notifier = SwitchableNotifier(LoggingNotifier())
        self._active = AsyncExitStack()
        """What only the active process runs, closed before the lease is released."""
        self._rr: Rr | None = None
        self._interactions: Counter | None = None
        self._leading: asyncio.Task[None] | None = None
        self._rest_client: RRBot | None = None
        """A standby's Discord client for notices, without a gateway connection."""

    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("The app has not started.")
        return self._services

    @property
    def base_url(self) -> str:
        """Where the web app is reached (RR_PUBLIC_URL, else the address it listens on)."""
        if self._web is None:
            raise RuntimeError("The app has not started.")
        return self.settings.base_url(self._web.port)

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Close every part that was opened, the last opened first; safe to call twice."""
        await self._stack.aclose()
        self._active = AsyncExitStack()
        self._notifier = SwitchableNotifier(LoggingNotifier())
        self._rr = None
        self._rest_client = None
        self.discord = None
        self.sandbox = None
        self._web = None
        self._services = None
        self.agent_api = None
        self.files = None

    async def _start(self) -> None:
        settings, clock, stack = self.settings, self.clock, self._stack
        if settings.discord_token is None and not is_loopback(settings.web_host):
            raise FatalError(
                "Without DISCORD_TOKEN rr serves a Discord sandbox where anyone can act as any "
                f"member or operator, so it listens on loopback only, not {settings.web_host}: "
                "set RR_WEB_HOST=127.0.0.1, or set DISCORD_TOKEN."
            )
        store = await open_store(settings, clock)
        stack.push_async_callback(store.close)
        if isinstance(clock, ScaledClock):
            now = await carry_clock(store, clock)
            log.info("sandbox clock carried on", extra={"now": now.isoformat()})
        compute = await open_compute(settings, clock)
        self._web = _bind_web(settings)
        stack.callback(self._web.close)
        files = self.files = await open_files(settings, clock, self.base_url)
        stack.push_async_callback(files.close)
        log.info("files ready", extra={"store": files.location})
        notifier = self._notifier
        rr = build(
            settings,
            store=store,
            compute=compute,
            clock=clock,
            notifier=notifier,
            payments=payments_config(settings, self.base_url),
            files=files,
            rr_url=self.base_url,
        )
        services, view = rr.services, rr.view

        rr.view_mailbox.start()
        stack.push_async_callback(rr.view_mailbox.stop)
        rebuild_started = time.monotonic()
        try:
            restored = await rr.feeder.restore()
            events = await rr.feeder.catch_up()
        except Exception as error:
            raise FatalError(
                f"The event store {url_without_credentials(settings.event_store)} cannot be "
                f"read: {type(error).__name__}: {error}"
            ) from None
        log.info(
            "event store ready",
            extra={
                "store": url_without_credentials(settings.event_store),
                "events": events,
                "from_checkpoint": restored,
                "rebuilt_seconds": round(time.monotonic() - rebuild_started, 3),
            },
        )
        rr.feeder.start()
        stack.push_async_callback(rr.feeder.stop)
        log.info(
            "compute ready",
            extra={"provider": compute.name, "deployment": settings.deployment, **_where(settings)},
        )

        stack.push_async_callback(services.aclose)
        stack.push_async_callback(self._web.stop)
        self._services = services
        payments = services.payments
        redact_also(payments.provider.webhook_secret)  # the sandbox's is made just now
        log.info("payments ready", extra={"provider": payments.config.provider})
        if settings.sandbox_payments_in_discord:
            log.warning(
                "RR_SANDBOX_PAYMENTS is on with a real Discord bot: anyone who presses Pay on "
                "the sandbox checkout gets free credit"
            )

        sandbox = None
        panel = None
        if settings.discord_token is None:
            links = []
            if isinstance(compute, LocalProvider):
                panel = StandinPanel(view, services.agents, compute)
                links.append((PANEL_LINK, PANEL_PATH))
            sandbox = self.sandbox = Sandbox(clock, settings.sandbox_time_scale, links)
            stack.push_async_callback(sandbox.close)
            await sandbox.open(services.squadrons)

        interactions = Counter(
            "rr_discord_interactions_total",
            "Discord interactions received (commands, buttons, autocomplete), by type.",
            ["type"],
            registry=rr.registry,
        )
        view_metrics = ViewMetrics(view)
        rr.registry.register(view_metrics)
        self.agent_api = services.agents
        max_lag = rr.feed_interval * VIEW_MAX_LAG_PASSES
        web_app = create_web_app(
            health={
                "store": store_reachable(store),
                "view": view_caught_up(view, rr.feeder, clock, max_lag),
                "role": role(rr.leadership),
                "scheduler": active_only(
                    rr.leadership, scheduler_alive(rr.scheduler, clock, rr.schedule.heartbeat)
                ),
            },
            metrics=rr.registry,
            refresh_metrics=[view_metrics.refresh],
            routes=[
                payment_routes(payments),
                agent_routes(self.agent_api),
                *files.web_routes(),
                *([sandbox.console_routes] if sandbox else []),
                *([panel.routes] if panel else []),
            ],
        )
        leadership = rr.leadership
        # Before the web app answers: a payment recorded on a standby is left to the active.
        services.squadrons.carries_out_paid_requests = False
        await self._web.start(web_app)
        log.info("web app listening", extra={"url": self.base_url})

        self._rr, self._interactions = rr, interactions
        stack.push_async_callback(leadership.release)  # once the active parts have stopped
        stack.push_async_callback(self._active.aclose)
        acquired = await leadership.try_acquire()
        # Renewing (or waiting for the lease) starts now: a slow start must not outlast the term.
        self._leading = asyncio.create_task(self._lead(), name="leadership")
        stack.push_async_callback(self._stop_leading)
        if acquired:
            await self._become_active()
            return
        log.info(
            "standby: another process is the active one; taking over when its lease expires",
            extra={"owner": leadership.owner},
        )
        if settings.discord_token is not None:
            await self._notify_through_rest(settings.discord_token.get_secret_value())

    async def _notify_through_rest(self, token: str) -> None:
        """A standby has no gateway connection, yet the webhooks it answers tell the buyer:
        its notices go through Discord's REST API (the notifier fetches channels and users)."""
        assert self._rr is not None
        options = replace(self._discord_options(None), sync_on_start=False)
        client = self._rest_client = RRBot(self._rr.services, options, self.clock)
        self._stack.push_async_callback(client.close)
        await log_in(client, token)
        self._notifier.target = FanoutNotifier([LoggingNotifier(), client.notifier])

    async def _become_active(self) -> None:
        """Start what only the lease holder runs: Discord, reconciliation, paid requests, the
        scheduler. Commands are answered "starting up" until the view has read everything
        written before this process took over."""
        rr, stack, settings = self._rr, self._active, self.settings
        assert rr is not None and self._interactions is not None
        services, sandbox = rr.services, self.sandbox
        # Discord before anything that notifies, so that notices due at start-up reach it.
        client = RRBot(services, self._discord_options(sandbox), rr.clock)
        client.starting_up = True
        client.add_listener(_interaction_counter(self._interactions), "on_interaction")
        if sandbox is not None:
            await sandbox.connect(client)
            announce(self.base_url + CONSOLE_PATH)
        elif settings.discord_token is not None:
            discord_connection = DiscordConnection(client, on_lost=self._discord_lost)
            stack.push_async_callback(discord_connection.close)
            await discord_connection.open(settings.discord_token.get_secret_value())
            log.info("connecting to Discord", extra={"dev_guild": settings.discord_guild_id})
        self._notifier.target = FanoutNotifier([LoggingNotifier(), client.notifier])
        self.discord = client
        if self._rest_client is not None:
            await self._rest_client.close()
        await rr.feeder.catch_up()
        client.starting_up = False

        stack.push_async_callback(services.background.drain)  # finish launches while Discord is up
        services.squadrons.carries_out_paid_requests = True
        await reconcile_at_start(rr.reconciler)
        await services.squadrons.resume_paid_requests()
        await services.debriefs.resume()
        rr.reconciler.start()
        stack.push_async_callback(rr.reconciler.stop)
        pickup = asyncio.create_task(self._take_up_paid_requests(), name="paid-requests")
        stack.push_async_callback(_cancelled, pickup)
        rr.scheduler.start()
        stack.push_async_callback(rr.scheduler.stop)
        services.watch.start()
        stack.push_async_callback(services.watch.stop)
        log.info("scheduler started", extra={"time_scale": settings.sandbox_time_scale})

    async def _lead(self) -> None:
        """Wait for the lease if this process is a standby, then act while holding it; once
        it is lost, stop the app (the simplest safe end: the supervisor starts it again, as
        a standby, with none of its parts acting on the old authority)."""
        assert self._rr is not None
        leadership = self._rr.leadership
        try:
            why = await leadership.lead(self._become_active)
        except FatalError as error:
            why = str(error)
        except Exception as error:
            log.exception("taking over as the active process failed")
            why = f"taking over as the active process failed: {type(error).__name__}: {error}"
        self.failure = f"this process stopped acting: {why}; start it again to run as a standby"
        self._on_fatal()

    async def _stop_leading(self) -> None:
        if self._leading is not None:
            await _cancelled(self._leading)
            self._leading = None

    async def _take_up_paid_requests(self) -> None:
        """Carry out the paid requests a standby recorded, as the feed brings them."""
        assert self._rr is not None
        rr = self._rr
        while True:
            await rr.clock.sleep_until(rr.clock.now() + rr.feed_interval)
            try:
                if await rr.view.guilds_with_unsettled_paid_requests():
                    await rr.services.squadrons.resume_paid_requests()
            except Exception:
                log.exception("taking up paid requests failed; the next pass tries again")

    def _discord_options(self, sandbox: Sandbox | None) -> DiscordOptions:
        settings = self.settings
        if sandbox is not None:
            return DiscordOptions(
                operator_ids=sandbox.operator_ids(settings.operator_ids),
                operator_guild_id=sandbox.operator_guild_id,
                guild_ready_timeout=GUILD_READY_TIMEOUT,
            )
        return DiscordOptions(
            operator_ids=frozenset(settings.operator_ids),
            operator_guild_id=settings.operator_guild_id,
            dev_guild_id=settings.discord_guild_id,
            guild_ready_timeout=self._guild_ready_timeout,
        )

    def _discord_lost(self, reason: str) -> None:
        self.failure = reason
        self._on_fatal()


class DiscordConnection:
    """The Discord client's gateway connection, run as a task; discord.py reconnects by itself
    after network trouble, so the task ending with an error means it gave up for good."""

    def __init__(self, client: RRBot, on_lost: Callable[[str], None]) -> None:
        self._client = client
        self._on_lost = on_lost
        self._task: asyncio.Task[None] | None = None

    async def open(self, token: str) -> None:
        await log_in(self._client, token)
        self._task = asyncio.create_task(self._client.connect(), name="discord")
        self._task.add_done_callback(self._ended)

    async def close(self) -> None:
        await self._client.close()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    def _ended(self, task: "asyncio.Task[None]") -> None:
        if task.cancelled() or (error := task.exception()) is None:
            return
        log.error("the Discord connection ended", exc_info=error)
        self._on_lost(f"the Discord connection ended: {error}")


async def log_in(client: RRBot, token: str) -> None:
    """Log ``client`` in to Discord's REST API (no gateway connection yet)."""
    try:
        await client.login(token)
    except discord.LoginFailure:
        raise FatalError("Discord refused DISCORD_TOKEN; check the bot token.") from None
    except (discord.HTTPException, aiohttp.ClientError) as error:
        raise FatalError(f"Discord cannot be reached: {error}") from None


async def reconcile_at_start(reconciler: CloudReconciler) -> None:
    """Repair what a crash or downtime left behind before the scheduler acts; a cloud that does
    not answer now is not fatal: the periodic passes try again."""
    try:
        await reconciler.reconcile()
    except Exception:
        log.exception("start-up reconciliation failed; the next pass tries again")


def store_reachable(store: eventstore.EventStore) -> HealthCheck:
    async def check() -> CheckResult:
        async for _ in store.read(HEALTH_PROBE_STREAM):
            break
        return CheckResult(True, "reachable")

    return check


class Following(Protocol):
    @property
    def alive(self) -> bool: ...


def view_caught_up(
    view: ViewHandle, feeder: Following, clock: Clock, max_lag: timedelta
) -> HealthCheck:
    """The view reached the store's head recently: each feeder pass reads up to the head."""

    async def check() -> CheckResult:
        stats = await view.stats()
        if not feeder.alive or stats.caught_up_at is None:
            return CheckResult(False, "the view is not following the store")
        lag = clock.now() - stats.caught_up_at
        detail = (
            f"at the store's head {_seconds(lag)} ago (position {stats.position}, "
            f"{stats.events_applied} events applied, {stats.events_waiting} waiting)"
        )
        return CheckResult(lag <= max_lag and stats.events_waiting == 0, detail)

    return check


def scheduler_alive(scheduler: SchedulerStatus, clock: Clock, heartbeat: timedelta) -> HealthCheck:
    async def check() -> CheckResult:
        if not scheduler.alive or scheduler.last_tick_at is None:
            return CheckResult(False, "the scheduler is not running")
        silence = clock.now() - scheduler.last_tick_at
        ok = silence <= heartbeat * SCHEDULER_MAX_SILENCE_HEARTBEATS
        return CheckResult(ok, f"last tick {_seconds(silence)} ago")

    return check


def role(leadership: Leadership) -> HealthCheck:
    """Whether this process is the active one; a standby is healthy too (it answers 200)."""

    async def check() -> CheckResult:
        if leadership.role == "active":
            return CheckResult(True, "active: this process holds the lease and does the work")
        if leadership.lost is not None:
            return CheckResult(False, f"stopping: {leadership.lost}")
        return CheckResult(True, "standby: following the store, ready to take over")

    return check


def active_only(leadership: Leadership, check: HealthCheck) -> HealthCheck:
    """``check`` in the active process; in a standby, a part it does not run is not failing."""

    async def checked() -> CheckResult:
        if leadership.role == "standby" and leadership.lost is None:
            return CheckResult(True, "standby: the active process runs it")
        return await check()

    return checked


class ViewMetrics:
    """The view's figures for /metrics: a collector whose ``refresh`` asks the view's mailbox
    before each scrape, since ``collect`` cannot wait for it."""

    def __init__(self, view: ViewHandle) -> None:
        self._view = view
        self._stats: ViewStats | None = None

    async def refresh(self) -> None:
        self._stats = await self._view.stats()

    def collect(self) -> list[Metric]:
        stats = self._stats
        if stats is None:
            return []
        return [
            CounterMetricFamily(
                "rr_view_events_applied_total",
                "Events the view has applied.",
                value=stats.events_applied,
            ),
            CounterMetricFamily(
                "rr_view_duplicates_dropped_total",
                "Events the view received again and dropped.",
                value=stats.duplicates_dropped,
            ),
            GaugeMetricFamily(
                "rr_view_events_waiting",
                "Events held back until an earlier version of their stream arrives.",
                value=stats.events_waiting,
            ),
            GaugeMetricFamily(
                "rr_sessions_active",
                "Sessions booked or under way.",
                value=stats.active_sessions,
            ),
        ]


def _interaction_counter(
    interactions: Counter,
) -> Callable[[discord.Interaction], Coroutine[Any, Any, None]]:
    async def on_interaction(interaction: discord.Interaction) -> None:
        interactions.labels(interaction.type.name).inc()

    return on_interaction


def _bind_web(settings: Settings) -> WebServer:
    host, port = settings.web_host, settings.web_port
    try:
        return WebServer(host, port)
    except OSError as error:
        raise FatalError(
            f"The web app cannot listen on {host}:{port} ({error.strerror or error}); "
            "set RR_WEB_HOST and RR_WEB_PORT to a free address."
        ) from None


async def _cancelled(task: "asyncio.Task[None]") -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def _where(settings: Settings) -> dict[str, str]:
    if settings.compute == "local":
        return {"instances": str(settings.local_instances_dir)}
    return {}


def _seconds(delta: timedelta) -> str:
    return f"{delta.total_seconds():.0f} s"


async def serve(settings: Settings) -> None:
    """Run until SIGINT or SIGTERM (or a part fails for good), then stop every part cleanly.

    A second signal while stopping (work in flight can take a while) exits at once: the store's
    commits are durable and servers stop at their backstop, so nothing recorded is lost.
    """
    stop = asyncio.Event()

    def on_signal() -> None:
        if stop.is_set():
            log.warning("stopping at once")
            os._exit(EXIT_INTERRUPTED)
        stop.set()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal)
    app = App(settings, on_fatal=stop.set)
    try:
        await app.start()
        log.info("rr is running; press Ctrl-C to stop")
        await stop.wait()
        log.info("stopping; press Ctrl-C again to stop at once")
    finally:
        await app.stop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    if app.failure is not None:
        raise FatalError(app.failure)
    log.info("stopped")
