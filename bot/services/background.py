"""Work the services start and do not wait for (a launch after /server start, a paid intent)."""

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger("rr.services")


class BackgroundTasks:
    """Keeps a reference to each task until it ends and logs any exception it ends with."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, work: Coroutine[Any, Any, object], *, name: str) -> None:
        task = asyncio.create_task(_logged(work, name), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait until no task is left, including tasks started by the ones waited for."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


async def _logged(work: Coroutine[Any, Any, object], name: str) -> None:
    try:
        await work
    except Exception:
        log.exception("background task failed", extra={"task": name})
