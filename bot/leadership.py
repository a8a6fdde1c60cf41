"""Which process is the active one: the holder of the store's lease ``rr-active``.

Every rr process on a store builds the same parts and follows the feed; only the one holding
the lease runs the scheduler, the reconciler and the paid requests, and connects to Discord.
The others are standbys: they keep trying to acquire the lease and take over once it expires
(a process killed stops renewing it), within ``TERM`` plus ``RETRY_EVERY``.

Once active, every append the process makes carries the lease as its fence (`FencedStore`),
so a process that was deposed without knowing it yet (paused past its term, cut off from the
store) has each late write refused with ``LeaseLost``, atomically, and nothing written. A
standby's appends (Stripe's webhooks, the server agents' reports reach every process) carry
no fence: they act on no authority but their own version checks.
"""

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta
from typing import Literal

from bot.clock import Clock
from eventstore import EventStore, Lease, LeaseLost, StoredEvent
from eventstore.codec import Batch
from eventstore.wrapping import WrappingStore

log = logging.getLogger("rr.leadership")

LEASE_NAME = "rr-active"
TERM = timedelta(seconds=15)
"""How long a lease lasts unless renewed: a killed active process is replaced this long after
its last renewal at the latest (plus ``RETRY_EVERY``)."""
RENEW_EVERY = timedelta(seconds=5)
"""How often the active process renews: two renewals may fail before the term runs out."""
RETRY_EVERY = timedelta(seconds=1)
"""How often a standby tries to acquire the lease."""

Role = Literal["active", "standby"]


def process_owner() -> str:
    """This process's name as a lease owner: host, pid and a random part (a pid is reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class FencedStore(WrappingStore):
    """``inner`` with ``fence`` added to every append while it is set (by `Leadership`)."""

    def __init__(self, inner: EventStore) -> None:
        super().__init__(inner)
        self.fence: Lease | None = None

    async def append_many(
        self,
        batches: Iterable[Batch],
        *,
        idempotency_key: str | None = None,
        fence: Lease | None = None,
    ) -> list[StoredEvent]:
        return await self.inner.append_many(
            batches, idempotency_key=idempotency_key, fence=fence or self.fence
        )


class Leadership:
    """This process's claim on the lease; times are on ``clock`` (the store's clock is the
    same clock in the app), scaled with the sandbox's time scale by the caller."""

    def __init__(
        self,
        store: FencedStore,
        clock: Clock,
        *,
        owner: str | None = None,
        term: timedelta = TERM,
        renew_every: timedelta = RENEW_EVERY,
        retry_every: timedelta = RETRY_EVERY,
    ) -> None:
        if renew_every >= term:
            raise ValueError("The lease must be renewed more often than its term.")
        self._store = store
        self._clock = clock
        self.owner = owner or process_owner()
        self.term = term
        self._renew_every = renew_every
        self._retry_every = retry_every
        self.lease: Lease | None = None
        """The lease while this process holds it (it stays set, as the fence, once lost)."""
        self.lost: str | None = None
        """Why this process stopped being the active one, once it has."""

    @property
    def role(self) -> Role:
        return "active" if self.lease is not None and self.lost is None else "standby"

    async def try_acquire(self) -> bool:
        """Take the lease if nobody holds it; from then on every append is fenced by it."""
        lease = await self._store.acquire_lease(LEASE_NAME, self.owner, self.term)
        if lease is None:
            return False
        self.lease = self._store.fence = lease
        log.info("this process is now the active one", extra=_fields(lease))
        return True

    async def acquire(self) -> None:
        """Wait until this process holds the lease, trying every ``retry_every``; a store that
        fails to answer is tried again just the same."""
        while True:
            try:
                if await self.try_acquire():
                    return
            except Exception:
                log.warning("could not ask for the lease; trying again", exc_info=True)
            await self._clock.sleep_until(self._clock.now() + self._retry_every)

    async def lead(self, take_over: Callable[[], Awaitable[None]]) -> str:
        """Wait for the lease (unless this process holds it already), then ``take_over`` while
        holding it (renewals do not wait for a slow take-over), until it is lost; returns why
        it was. A take-over still under way then is cancelled."""
        if self.lease is not None:
            return await self.hold()
        await self.acquire()
        holding = asyncio.create_task(self.hold(), name="lease-renewal")
        taking_over = asyncio.create_task(_awaited(take_over), name="take-over")
        try:
            await asyncio.wait({holding, taking_over}, return_when=asyncio.FIRST_COMPLETED)
            if holding.done():
                return holding.result()
            taking_over.result()  # a take-over that failed ends the term with its error
            return await holding
        finally:
            for task in (holding, taking_over):
                task.cancel()
            await asyncio.gather(holding, taking_over, return_exceptions=True)

    async def hold(self) -> str:
        """Renew the lease every ``renew_every`` until it is lost; returns why it was.

        A renewal the store refuses (``LeaseLost``: it expired, another process took over)
        ends at once; one that fails otherwise is tried again at the next renewal, until the
        term has run out: past it, this process can no longer know it is the active one.
        """
        lease = self.lease
        if lease is None:
            raise RuntimeError("This process does not hold the lease.")
        while True:
            await self._clock.sleep_until(self._clock.now() + self._renew_every)
            try:
                lease = self.lease = await self._store.renew_lease(lease, self.term)
                self._store.fence = lease
            except LeaseLost:
                return self._lose("another process took the lease over, or it expired")
            except Exception as error:
                if self._clock.now() >= lease.expires_at:
                    return self._lose(f"the lease could not be renewed before it expired ({error})")
                log.warning("lease renewal failed; trying again", exc_info=True)

    async def release(self) -> None:
        """Give the lease up (at a clean stop) so that a standby takes over at once."""
        lease = self.lease
        if lease is None or self.lost is not None:
            return
        self.lost = "this process stopped"
        try:
            await self._store.release_lease(lease)
        except Exception:
            log.warning("could not release the lease; it expires by itself", exc_info=True)
            return
        log.info("lease released", extra=_fields(lease))

    def _lose(self, why: str) -> str:
        self.lost = why
        log.error("this process is no longer the active one: %s", why)
        return why


async def _awaited(work: Callable[[], Awaitable[None]]) -> None:
    await work()


def _fields(lease: Lease) -> dict[str, object]:
    return {"owner": lease.owner, "token": lease.token, "expires_at": lease.expires_at.isoformat()}
