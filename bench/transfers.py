"""Benchmark of a server's transfers: ``python -m bench.transfers``.

The local object store behind rr's real web app on loopback, and the agent's standard-library
code in a worker thread, as on a server:

1. the agent uploads a 128 MB debrief file through an upload link (streamed multipart POST);
2. rr reads it back to check its SHA-256 (what it does before recording a debrief file);
3. the agent downloads it through a download link, checking size and SHA-256.

Each prints MB/s and the peak memory Python allocated meanwhile (tracemalloc, both sides in
this process); the goal is memory in the low megabytes whatever the file's size: nothing holds
the whole file.
"""

import asyncio
import hashlib
import os
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from agent.transfers import DownloadSpec, download, post_file
from bot.clock import SystemClock
from bot.entrypoints.web import WebServer, create_web_app
from bot.files.store import ObjectKey
from bot.files.store.open import open_object_store

SIZE = 128 * 1024 * 1024
SQUADRON = "123456789012345678"
T = TypeVar("T")


async def _measured(label: str, work: Callable[[], Awaitable[T]]) -> T:
    tracemalloc.start()
    started = time.perf_counter()
    result = await work()
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"{label:<34} {SIZE / 1e6 / elapsed:8.1f} MB/s   peak {peak / 1e6:6.2f} MB "
        f"for a {SIZE / 1e6:.0f} MB file"
    )
    return result


async def _bench(folder: Path) -> None:
    source = folder / "Tacview.acmi"
    with source.open("wb") as file:
        for _ in range(SIZE // (1024 * 1024)):
            file.write(os.urandom(1024 * 1024))
    web = WebServer("127.0.0.1", 0)
    store = await open_object_store(
        f"file://{folder / 'store'}",
        clock=SystemClock(),
        base_url=f"http://127.0.0.1:{web.port}",
        signing_key=b"b" * 32,
    )
    await web.start(create_web_app(health={}, routes=store.web_routes()))
    try:
        key = ObjectKey.debrief(SQUADRON, "bench-session", "tacview-1")
        link = await store.upload_link(key, SIZE, timedelta(minutes=15))
        sha = await _measured(
            "agent uploads (multipart POST)",
            lambda: asyncio.to_thread(post_file, link.url, dict(link.fields), source, SIZE),
        )
        checked = await _measured("rr reads it back (SHA-256)", lambda: store.sha256(key))
        assert checked == sha
        url = await store.download_link(key, timedelta(minutes=15))
        spec = DownloadSpec("Missions/copy.miz", url, sha, SIZE)
        await _measured(
            "agent downloads (checked, atomic)",
            lambda: asyncio.to_thread(download, folder / "root", spec),
        )
        copy = folder / "root" / "Missions" / "copy.miz"
        with copy.open("rb") as file:
            assert hashlib.file_digest(file, "sha256").hexdigest() == sha
    finally:
        await web.stop()
        await store.close()


def main() -> None:
    print(f"bench.transfers at {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(_bench(Path(folder)))


if __name__ == "__main__":
    main()
