"""One thread that runs blocking calls, one after another, for coroutines that await them.

``ThreadPoolExecutor`` with ``run_in_executor`` does the same through two futures and their
callbacks; this hands each call over with one queue and one ``call_soon_threadsafe``, which
matters on SQLite's hot path (each command is one call).
"""

import asyncio
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_Call = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[..., Any], tuple[Any, ...]]


class Worker:
    """A daemon thread, started at the first call, stopped by ``stop``.

    A call whose awaiting coroutine was cancelled still runs to its end (like an executor's),
    so what it changes is never left half done.
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._stopped = False

    async def call(self, function: Callable[..., T], *arguments: Any) -> T:
        """``function(*arguments)`` run on the thread; ``RuntimeError`` once stopped."""
        if self._stopped:
            raise RuntimeError(f"{self._name} is stopped: the store was closed")
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._calls.put((loop, future, function, arguments))
        return await future

    async def stop(self) -> None:
        """Let the calls already queued finish, then end the thread (waited for off the loop)."""
        self._stopped = True
        if self._thread is not None:
            self._calls.put(None)
            await asyncio.to_thread(self._thread.join)

    def _run(self) -> None:
        while (call := self._calls.get()) is not None:
            loop, future, function, arguments = call
            try:
                result = function(*arguments)
            except BaseException as error:  # handed to the awaiting coroutine
                loop.call_soon_threadsafe(_settle, future, None, error)
            else:
                loop.call_soon_threadsafe(_settle, future, result, None)


def _settle(future: "asyncio.Future[Any]", result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
