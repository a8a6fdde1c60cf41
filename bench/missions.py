"""Benchmark of a mission upload through the library service: ``python -m bench.missions``.

The large mission of ``bench.miz`` (tens of MB of Lua unpacked) is uploaded to a squadron's
library over the SQLite store and the local object store: size and name checks, the safe read
and the SHA-256 (in a worker thread), the store's write, the event's append. Printed: the best
wall-clock time of a few uploads (each to a fresh library), and the longest the event loop went
without running a 5 ms ticker meanwhile, which shows whether the upload blocks other commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import tempfile
import time
from pathlib import Path

import eventstore
from bench.miz import PLAN
from bot.bootstrap import build
from bot.clock import SystemClock
from bot.config import Settings
from bot.domain.actor import Actor
from bot.files.store import open_object_store
from bot.services.missions import MissionLibrary
from tests.bot.files.miz.missions import build_mission
from tests.bot.services.fake_provider import FakeProvider

RUNS = 3
TICK = 0.005
GUILD = "100000000000000001"


async def upload_once(data: bytes, folder: Path) -> tuple[float, float]:
    clock = SystemClock()
    store = eventstore.open(f"sqlite:///{folder / 'rr.db'}", clock=clock.now)
    files = await open_object_store(
        f"file://{folder / 'files'}", clock=clock, base_url="http://127.0.0.1:1"
    )
    rr = build(Settings(_env_file=None), store=store, compute=FakeProvider(clock), files=files)
    rr.view_mailbox.start()
    library: MissionLibrary = rr.services.missions
    manager = Actor("200000000000000001", GUILD, is_manager=True, source_id="1")
    stalls: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(TICK)
            now = time.perf_counter()
            stalls.append(now - last - TICK)
            last = now

    async def download() -> bytes:
        return data

    ticking = asyncio.create_task(ticker())
    started = time.perf_counter()
    await library.upload(
        manager, filename="large.miz", size=len(data), download=download, name="Large"
    )
    wall = time.perf_counter() - started
    done.set()
    await ticking
    await rr.view_mailbox.stop()
    await files.close()
    await store.close()
    return wall, max(stalls, default=0.0)


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        with contextlib.redirect_stderr(io.StringIO()):  # pydcs looks for DCS and says so
            data = build_mission(PLAN, Path(folder) / "large.miz").read_bytes()
        results = []
        for run in range(RUNS):
            place = Path(folder) / f"run{run}"
            place.mkdir()
            results.append(await upload_once(data, place))
    walls = [wall for wall, _ in results]
    stall = max(stall for _, stall in results)
    print(f"mission upload: .miz {len(data) / 1_000_000:.2f} MB")
    print(f"  read, hash, store and record: {min(walls):.3f} s wall (best of {RUNS})")
    print(f"  longest event-loop stall meanwhile: {stall * 1000:.1f} ms")


if __name__ == "__main__":
    asyncio.run(main())
