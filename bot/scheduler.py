"""The scheduler: sleeps until the view's next due time, then has the services act.

Each tick asks the view what is due, starts each action as its own task (at most one in flight
per session, the most urgent first), asks the view for the next due time ignoring sessions
with an action in flight, and sleeps until then, until ``wake()`` (an appended event moved the
next due time earlier, or an action finished) or at most one heartbeat. The services record
every action as an event, so nothing is done twice, across restarts too.

After an action the scheduler tells the view to hold that action back for a while: the probe
interval after a readiness check, the retry interval after anything else that left the action
due, and after a failure a back-off that doubles with each failure in a row. The failure
counts of a session are forgotten once it has ended, so a process running for months keeps
only those of sessions still active.
"""

import asyncio
import logging
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Protocol

from bot.clock import Clock
from bot.mailbox import Mailbox
from bot.view import DueAction, ScheduleConfig, View

log = logging.getLogger("rr.scheduler")


class SessionActions(Protocol):
    """What the scheduler asks the services to do (``services.sessions`` in the app)."""

    async def launch(self, session_id: str) -> object: ...

    async def check_ready(self, session_id: str) -> object: ...

    async def terminate(self, session_id: str, reason: str) -> object: ...

    async def send_reminder(self, session_id: str, key: str) -> object: ...

    async def deliver(self, session_id: str, key: str) -> object: ...


_Slot = tuple[str, str, str]
"""(session id, kind, key or reason): one action, for counting its failures in a row."""


class Scheduler:
    def __init__(
        self,
        view: Mailbox[View],
        actions: SessionActions,
        clock: Clock,
        config: ScheduleConfig,
    ) -> None:
        self._view = view
        self._actions = actions
        self._clock = clock
        self._config = config
        self._wakeup = asyncio.Event()
        self._in_flight: dict[str, asyncio.Task[None]] = {}
        self._failures: dict[_Slot, int] = {}
        self._task: asyncio.Task[None] | None = None
        self.last_tick_at: datetime | None = None
        """Clock time of the latest tick, for /healthz."""

    @property
    def failing_actions(self) -> int:
        """Actions whose latest try failed, of sessions not known to have ended."""
        return len(self._failures)

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self._task is not None:
            raise RuntimeError("The scheduler was already started.")
        self._view.tell(lambda view: view.set_due_listener(self.wake))
        self._task = asyncio.create_task(self._run(), name="scheduler")

    async def stop(self) -> None:
        """Stop ticking and cancel actions in flight (what they recorded stays recorded; the
        next start picks up what is still due)."""
        tasks = [task for task in (self._task, *self._in_flight.values()) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._task = None
        if self._view.running:
            self._view.tell(lambda view: view.set_due_listener(None))

    async def drain(self) -> None:
        """Wait for the actions under way to finish (their cloud calls run in threads, which
        turns of the event loop do not wait for)."""
        await asyncio.gather(*self._in_flight.values(), return_exceptions=True)

    def wake(self) -> None:
        """Look at the view again now (something may be due earlier than planned)."""
        self._wakeup.set()

    async def _run(self) -> None:
        while True:
            self._wakeup.clear()
            try:
                next_at = await self._tick()
            except Exception:
                log.exception("scheduler tick failed; trying again after a back-off")
                next_at = self._clock.now() + self._config.failure_backoff
            await self._sleep_until(next_at)

    async def _tick(self) -> datetime | None:
        now = self._clock.now()
        self.last_tick_at = now
        due = await self._view.ask(lambda view: view.due_actions(now))
        for action in due:
            if action.session_id not in self._in_flight:
                self._in_flight[action.session_id] = asyncio.create_task(
                    self._perform(action), name=f"scheduled:{action.kind}:{action.session_id}"
                )
        await self._forget_ended_failures()
        busy = frozenset(self._in_flight)
        return await self._view.ask(lambda view: view.next_due_at(busy))

    async def _forget_ended_failures(self) -> None:
        if not self._failures:
            return
        failing = {session_id for session_id, _, _ in self._failures}
        ended = await self._view.ask(lambda view: _ended(view, failing))
        for slot in [slot for slot in self._failures if slot[0] in ended]:
            del self._failures[slot]

    async def _sleep_until(self, next_at: datetime | None) -> None:
        heartbeat = self._clock.now() + self._config.heartbeat
        deadline = heartbeat if next_at is None else min(next_at, heartbeat)
        if self._wakeup.is_set():
            return
        sleeper = asyncio.ensure_future(self._clock.sleep_until(deadline))
        waker = asyncio.ensure_future(self._wakeup.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in (sleeper, waker):
                waiter.cancel()
            await asyncio.gather(sleeper, waker, return_exceptions=True)

    async def _perform(self, action: DueAction) -> None:
        slot: _Slot = (action.session_id, action.kind, action.key_or_reason)
        try:
            await self._dispatch(action)
        except Exception:
            failures = self._failures.get(slot, 0) + 1
            self._failures[slot] = failures
            hold = self._backoff(failures)
            log.exception(
                "scheduled action failed kind=%s session=%s key=%s failures=%d retry_in=%s",
                action.kind,
                action.session_id,
                action.key_or_reason,
                failures,
                hold,
            )
        else:
            self._failures.pop(slot, None)
            hold = self._repeat_after(action)
            log.info(
                "scheduled action done kind=%s session=%s key=%s",
                action.kind,
                action.session_id,
                action.key_or_reason,
            )
        finally:
            del self._in_flight[action.session_id]
        until = self._clock.now() + hold
        self._view.tell(lambda view: view.postpone(action, until))
        self.wake()

    async def _dispatch(self, action: DueAction) -> None:
        match action.kind:
            case "remind":
                await self._actions.send_reminder(action.session_id, action.key_or_reason)
            case "deliver":
                await self._actions.deliver(action.session_id, action.key_or_reason)
            case "launch":
                await self._actions.launch(action.session_id)
            case "check_ready":
                await self._actions.check_ready(action.session_id)
            case "terminate" | "retry_terminate":
                await self._actions.terminate(action.session_id, action.key_or_reason)

    def _repeat_after(self, action: DueAction) -> timedelta:
        if action.kind == "check_ready":
            return self._config.readiness_probe_interval
        return self._config.terminate_retry

    def _backoff(self, failures: int) -> timedelta:
        doubled = self._config.failure_backoff * 2 ** min(failures - 1, 16)
        return min(doubled, self._config.max_failure_backoff)


def _ended(view: View, session_ids: Collection[str]) -> set[str]:
    """Those of ``session_ids`` that are no longer booked or under way."""
    ended = set()
    for session_id in session_ids:
        state = view.session(session_id)
        if state is None or not state.is_active:
            ended.add(session_id)
    return ended
