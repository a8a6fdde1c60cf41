"""What rr's operators do across guilds: see every server, force an end, move credit, look
into any stream, reconcile the cloud with the records, check health."""

import asyncio
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.domain.actor import Actor
from bot.domain.errors import InvalidRequest, NotAllowed
from bot.domain.pricing import Pricing
from bot.domain.session import SessionState
from bot.services.background import BackgroundTasks
from bot.services.lifecycle import Lifecycle
from bot.services.logged import logged
from bot.services.sessions import command_key
from bot.view import ViewStats
from bot.view.handle import ViewHandle
from eventstore import EventStore, StoredEvent

STORE_PROBE_STREAM = "health#probe"
STORE_PROBE_SECONDS = 2.0


class Reconciler(Protocol):
    async def reconcile(self) -> object:
        """Compare the provider's servers with the records, repair, and report what it did."""
        ...


class SchedulerStatus(Protocol):
    @property
    def alive(self) -> bool: ...

    @property
    def last_tick_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class Health:
    store_ok: bool
    store_detail: str
    view: ViewStats
    scheduler_alive: bool | None
    """None when no scheduler runs in this process."""
    scheduler_last_tick_at: datetime | None
    running_instances: int
    background_tasks: int

    @property
    def ok(self) -> bool:
        return self.store_ok and self.scheduler_alive is not False

    def __str__(self) -> str:
        scheduler = {None: "not running here", True: "alive", False: "STOPPED"}[
            self.scheduler_alive
        ]
        tick = self.scheduler_last_tick_at
        return "\n".join(
            [
                f"Overall: {'ok' if self.ok else 'UNHEALTHY'}",
                f"Event store: {self.store_detail}",
                f"View: {self.view.events_applied} events applied, "
                f"{self.view.active_sessions} active sessions, "
                f"caught up at {self.view.caught_up_at or 'never'}",
                f"Scheduler: {scheduler}, last tick {tick or 'never'}",
                f"Running servers: {self.running_instances}",
                f"Background tasks: {self.background_tasks}",
            ]
        )


def _require_operator(actor: Actor) -> None:
    if not actor.is_operator:
        raise NotAllowed("Only an rr operator can force a server to stop.")


class AdminService:
    def __init__(
        self,
        *,
        store: EventStore,
        view: ViewHandle,
        lifecycle: Lifecycle,
        pricing: Pricing,
        background: BackgroundTasks,
    ) -> None:
        self._store = store
        self._view = view
        self._lifecycle = lifecycle
        self._pricing = pricing
        self._background = background
        self.reconciler: Reconciler | None = None
        """Set by the wiring once built (it needs the session service)."""
        self.scheduler: SchedulerStatus | None = None
        """Set by the wiring once the scheduler is built (it needs the session service)."""

    async def running_instances(self) -> list[SessionState]:
        """Every session with a server up, across guilds, by launch time."""
        return await self._view.running_instances()

    async def squadrons(self) -> list[str]:
        """The guild id of every squadron rr has a record of (bought or was granted credit,
        changed a setting, booked), in id order."""
        return await self._view.squadron_guilds()

    async def request_terminate(self, actor: Actor, session_id: str) -> SessionState:
        """Record that an operator stops any guild's session now; from then on the stop holds,
        billed to this moment, whatever happens to this process."""
        _require_operator(actor)
        return await self._lifecycle.request_stop(
            session_id, "admin", actor=actor, idempotency_key=command_key(actor, "terminate")
        )

    async def terminate(self, actor: Actor, session_id: str) -> SessionState:
        """End any guild's session now, billing what ran (operators only)."""
        _require_operator(actor)
        return await self._lifecycle.terminate(session_id, "admin", actor=actor)

    def prices(self) -> Pricing:
        return self._pricing

    async def stream_history(self, stream_id: str, limit: int = 20) -> list[StoredEvent]:
        """The last ``limit`` events of a stream, oldest first."""
        if limit < 1:
            raise InvalidRequest("Ask for at least one event.")
        latest: deque[StoredEvent] = deque(maxlen=limit)
        async for event in self._store.read(stream_id):
            latest.append(event)
        return list(latest)

    async def reconcile(self) -> object:
        """Repair what differs between the provider and the records; returns the report."""
        if self.reconciler is None:
            raise InvalidRequest("Reconciliation is not available in this deployment.")
        with logged("reconcile"):
            return await self.reconciler.reconcile()

    async def health(self) -> Health:
        store_ok, store_detail = await self._probe_store()
        scheduler = self.scheduler
        return Health(
            store_ok=store_ok,
            store_detail=store_detail,
            view=await self._view.stats(),
            scheduler_alive=None if scheduler is None else scheduler.alive,
            scheduler_last_tick_at=None if scheduler is None else scheduler.last_tick_at,
            running_instances=len(await self._view.running_instances()),
            background_tasks=len(self._background),
        )

    async def _probe_store(self) -> tuple[bool, str]:
        try:
            async with asyncio.timeout(STORE_PROBE_SECONDS):
                async for _ in self._store.read(STORE_PROBE_STREAM):
                    break
        except TimeoutError:
            return False, f"no answer within {STORE_PROBE_SECONDS:g} s"
        except Exception as error:
            return False, f"unreachable ({type(error).__name__})"
        return True, "reachable"
