"""Brings other processes' events into the view: a pass over the global feed every few seconds.

Events this process appends reach the view at once through the services; the feeder catches up
with everything else (and, at start-up, builds the view from the whole history). The store's
``FeedReader`` drops what the feed delivers twice and fills gaps from the streams themselves.
"""

import asyncio
import logging
from datetime import timedelta

from bot.clock import Clock
from bot.mailbox import Mailbox
from bot.view.model import View
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
    ) -> None:
        self._reader = FeedReader(store)
        self._view = view
        self._clock = clock
        self._interval = interval
        self._batch_size = batch_size
        self._pass = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

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
            await self._view.ask(lambda view: view.mark_caught_up(position, now))
            return delivered

    def start(self) -> None:
        """Catch up every ``interval`` from now on (call ``catch_up`` first at start-up)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="view-feeder")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

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
