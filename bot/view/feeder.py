"""Brings other processes' events into the view: a pass over the global feed every few seconds.

Events this process appends reach the view at once through the services; the feeder catches up
with everything else. At start-up it restores the view from its latest checkpoint, if there is
one this code can read, and reads only the feed after it; otherwise it builds the view from the
whole history. While running it saves a new checkpoint every so often (``CheckpointPolicy``).
The store's ``FeedReader`` drops what the feed delivers twice and fills gaps from the streams
themselves.
"""

import asyncio
import logging
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.mailbox import Mailbox
from bot.view.checkpoint import ViewCheckpoints
from bot.view.model import FOLDED_PREFIXES, View
from eventstore import EventStore, FeedReader, StoredEvent

log = logging.getLogger("rr.view")


class ViewFeeder:
    def __init__(
        self,
        store: EventStore,
        view: Mailbox[View],
        clock: Clock,
        *,
        interval: timedelta = timedelta(seconds=5),
        batch_size: int = 500,
        checkpoints: ViewCheckpoints | None = None,
    ) -> None:
        self._store = store
        self._reader = FeedReader(store, prefixes=FOLDED_PREFIXES)
        self._view = view
        self._clock = clock
        self._interval = interval
        self._batch_size = batch_size
        self._checkpoints = checkpoints
        self._saved_applied = 0
        self._saved_at: datetime | None = None
        self._pass = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

    async def restore(self) -> bool:
        """Restore the view from its latest checkpoint, if it has one this code can read, so
        that the next ``catch_up`` reads only the feed after it (call it before the first)."""
        if self._checkpoints is None:
            return False
        saved = await self._checkpoints.load()
        if saved is None:
            return False
        async with self._pass:
            await self._view.ask(lambda view: view.restore(saved))
            self._reader = FeedReader(
                self._store,
                after=saved.position,
                versions=saved.versions,
                complete=True,
                prefixes=FOLDED_PREFIXES,
            )
            self._saved_applied, self._saved_at = saved.events_applied, self._clock.now()
        return True

    async def save_checkpoint(self, *, final: bool = False) -> bool:
        """Save the view's checkpoint when the policy says it is due, or, ``final``, whenever
        anything was applied since the last; returns whether one was saved."""
        checkpoints = self._checkpoints
        if checkpoints is None:
            return False
        async with self._pass:
            saved = await self._view.ask(lambda view: view.saved())
            applied, now = saved.events_applied - self._saved_applied, self._clock.now()
            policy = checkpoints.policy
            due = applied >= policy.every_events or (
                applied > 0
                and (final or self._saved_at is None or now - self._saved_at >= policy.every)
            )
            if not due:
                return False
            version = await checkpoints.save(saved)
            self._saved_applied, self._saved_at = saved.events_applied, now
        log.info(
            "view checkpoint saved",
            extra={"version": version, "events": saved.events_applied, "at": saved.position},
        )
        return True

    async def catch_up(self) -> int:
        """One pass over the feed from where the last one ended; returns the number of new
        events, once the view has applied them all."""
        async with self._pass:
            delivered = 0
            batch: list[StoredEvent] = []
            async for event in self._reader.read():
                batch.append(event)
                if len(batch) >= self._batch_size:
                    delivered += self._send(batch)
                    batch = []
            delivered += self._send(batch)
            position, now = self._reader.position, self._clock.now()
            forgotten = await self._view.ask(lambda view: view.mark_caught_up(position, now))
            self._reader.forget(forgotten)
            return delivered

    def start(self) -> None:
        """Catch up every ``interval`` from now on (call ``catch_up`` first at start-up)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="view-feeder")

    async def stop(self) -> None:
        """Stop following the feed and save a last checkpoint, for the next start."""
        if self._task is None:
            return
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None
        try:
            await self.save_checkpoint(final=True)
        except Exception:
            log.exception("view checkpoint not saved at stop; the next start reads more")

    def _send(self, batch: list[StoredEvent]) -> int:
        if batch:
            self._view.tell(lambda view: view.apply_all(batch))
        return len(batch)

    async def _run(self) -> None:
        while True:
            await self._clock.sleep_until(self._clock.now() + self._interval)
            try:
                delivered = await self.catch_up()
            except Exception:
                log.exception("view catch-up failed; retrying in %s", self._interval)
                continue
            if delivered:
                log.debug("view caught up events=%d", delivered)
            try:
                await self.save_checkpoint()
            except Exception:
                log.exception("view checkpoint not saved; trying again after the next pass")
