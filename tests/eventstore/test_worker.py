"""The SQLite store's thread: calls run in order, off the loop, and their errors come back."""

import asyncio
import threading

import pytest

from eventstore.worker import Worker


async def test_calls_run_in_order_on_one_thread_that_is_not_the_loops() -> None:
    worker = Worker("test-worker")
    threads: list[int] = []

    def record(number: int) -> int:
        threads.append(threading.get_ident())
        return number * 2

    results = await asyncio.gather(*(worker.call(record, n) for n in range(5)))
    await worker.stop()

    assert results == [0, 2, 4, 6, 8]
    assert len(set(threads)) == 1 and threads[0] != threading.get_ident()


async def test_an_error_reaches_the_caller_and_the_worker_goes_on() -> None:
    worker = Worker("test-worker")

    def fail() -> None:
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        await worker.call(fail)
    assert await worker.call(len, "abc") == 3
    await worker.stop()


async def test_a_cancelled_callers_call_still_runs_to_its_end_before_the_next() -> None:
    worker = Worker("test-worker")
    release = threading.Event()
    done: list[str] = []

    def slow() -> None:
        release.wait()
        done.append("slow")

    waiting = asyncio.create_task(worker.call(slow))
    await asyncio.sleep(0)
    waiting.cancel()
    following = asyncio.create_task(worker.call(done.append, "next"))
    release.set()
    await following
    await worker.stop()

    assert waiting.cancelled()
    assert done == ["slow", "next"]


async def test_a_call_after_stop_is_refused_at_once() -> None:
    worker = Worker("test-worker")
    await worker.call(len, "x")
    await worker.stop()

    with pytest.raises(RuntimeError, match="stopped"):
        await worker.call(len, "x")
