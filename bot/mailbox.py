"""An asyncio mailbox: one task owns an object and runs the functions sent to it, one at a time.

Messages run in the order they were sent (FIFO). ``ask`` returns the function's result or raises
its exception in the asker; a failing ``tell`` has nobody to tell, so it is logged and the mailbox
carries on. ``stop`` lets everything already sent run, then ends the task; anything sent after
that is refused with ``MailboxStopped``.
"""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger("rr.mailbox")


class MailboxStopped(RuntimeError):
    """The mailbox has stopped (or is stopping) and takes no more messages."""


@dataclass(frozen=True, slots=True)
class _Message:
    fn: Callable[[Any], Any]
    reply: "asyncio.Future[Any] | None"


class Mailbox(Generic[T]):
    def __init__(self, owned: T, *, name: str) -> None:
        self._owned = owned
        self.name = name
        self._mailbox: asyncio.Queue[_Message | None] = asyncio.Queue()  # None: stop
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self._task is not None:
            raise RuntimeError(f"Mailbox {self.name} was already started.")
        self._task = asyncio.create_task(self._run(), name=f"mailbox:{self.name}")

    def tell(self, fn: Callable[[T], object]) -> None:
        """Run ``fn(owned)`` in the mailbox without waiting; a failure is logged."""
        self._post(fn, None)

    async def ask(self, fn: Callable[[T], R]) -> R:
        """Run ``fn(owned)`` in the mailbox and return its result (or raise its exception)."""
        reply: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._post(fn, reply)
        return await reply

    async def stop(self) -> None:
        """Run every message already sent, then end. Safe to call more than once."""
        if not self._closed:
            self._closed = True
            self._mailbox.put_nowait(None)
        if self._task is None:
            self._refuse_leftovers()
        else:
            await asyncio.shield(self._task)

    def _post(self, fn: Callable[[T], Any], reply: "asyncio.Future[Any] | None") -> None:
        if self._closed:
            raise MailboxStopped(f"Mailbox {self.name} has stopped and takes no more messages.")
        self._mailbox.put_nowait(_Message(fn, reply))

    async def _run(self) -> None:
        try:
            while (message := await self._mailbox.get()) is not None:
                self._handle(message.fn, message.reply)
        finally:
            self._closed = True
            self._refuse_leftovers()

    def _handle(self, fn: Callable[[T], Any], reply: "asyncio.Future[Any] | None") -> None:
        try:
            result = fn(self._owned)
        except Exception as error:
            if reply is None:
                log.exception("mailbox=%s tell failed", self.name)
            elif not reply.done():
                reply.set_exception(error)
            return
        if reply is not None and not reply.done():
            reply.set_result(result)

    def _refuse_leftovers(self) -> None:
        """Fail asks the mailbox will never run (it was cancelled, or stopped before it started)."""
        while not self._mailbox.empty():
            message = self._mailbox.get_nowait()
            if message is not None and message.reply is not None and not message.reply.done():
                message.reply.set_exception(
                    MailboxStopped(f"Mailbox {self.name} stopped before answering.")
                )
