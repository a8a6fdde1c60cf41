"""Benchmark of rr's agent API: ``python -m bench.agentapi``.

The real web app (``create_web_app`` with the agent routes) on loopback, over a SQLite store in
a temporary folder, with 1,000 booked sessions in a real view behind its mailbox and a credential
minted for each. A load generator in a separate process (so it does not share this process's
event loop) sends heartbeats of 16 players each, round-robin over the 1,000 credentials:

1. a first heartbeat per server (each records a change of state: one SQLite append);
2. paced at 100/s for 5 s: 1,000 servers beating every 10 s;
3. paced at 1,000/s for 5 s: ten times that;
4. flat out for 5 s with 32 requests in flight: what the app sustains.

Each phase prints the heartbeats accepted per second and latency percentiles; the goal is
≥ 1,000/s with p99 ≤ 50 ms. Loopback only; it stops by itself.
"""

import asyncio
import multiprocessing
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

import eventstore
from bot.agentapi import agent_routes, build_agent_api
from bot.agentapi.files import LaunchFiles
from bot.agentapi.sessions import ViewSessions
from bot.clock import SystemClock
from bot.domain.events import SessionBooked, to_new_event
from bot.domain.session import session_stream
from bot.entrypoints.web import WebServer, create_web_app
from bot.mailbox import Mailbox
from bot.view import ScheduleConfig, View
from bot.view.handle import ViewHandle

SERVERS = 1_000
TARGET_PER_SECOND = SERVERS / 10
PHASE_SECONDS = 5.0
IN_FLIGHT = 32
PLAYERS = [{"id": i, "name": f"Pilot {i}", "side": 1 + i % 2, "slot": str(i)} for i in range(2, 18)]


def main() -> None:
    asyncio.run(_bench())


async def _bench() -> None:
    with tempfile.TemporaryDirectory() as folder:
        clock = SystemClock()
        store = eventstore.open(f"sqlite:///{Path(folder) / 'bench.db'}", clock=clock.now)
        view_mailbox: Mailbox[View] = Mailbox(View(ScheduleConfig()), name="view")
        view_mailbox.start()
        view = ViewHandle(view_mailbox)
        api = build_agent_api(store, ViewSessions(view), clock, files=LaunchFiles())
        server = WebServer("127.0.0.1", 0)
        await server.start(create_web_app(health={}, routes=[agent_routes(api)]))
        try:
            started = time.perf_counter()
            tokens = await _sessions(store, view, api)
            print(
                f"set-up: {SERVERS:,} sessions booked and credentials minted "
                f"in {time.perf_counter() - started:.1f} s"
            )
            url = f"http://127.0.0.1:{server.port}"
            results = await asyncio.to_thread(_run_load, url, tokens)
        finally:
            await server.stop()
            await view_mailbox.stop()
            await store.close()
    print(f"{'phase':<34}{'beats/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'refused':>9}")
    for name, rate, latencies, refused in results:
        print(
            f"{name:<34}{rate:>9,.0f}{_ms(latencies, 50):>9.1f}{_ms(latencies, 99):>9.1f}"
            f"{max(latencies) * 1000:>9.1f}{refused:>9}"
        )
    sustained = results[-1][1]
    print(
        f"load of {SERVERS:,} servers beating every 10 s: {TARGET_PER_SECOND:,.0f}/s; "
        f"sustained {sustained:,.0f}/s = {sustained / TARGET_PER_SECOND:.1f}× "
        f"(goal ≥ 10×, p99 ≤ 50 ms at 10×)"
    )


async def _sessions(store: eventstore.EventStore, view: ViewHandle, api: Any) -> list[str]:
    tokens = []
    start = datetime.now(UTC)
    for batch in range(0, SERVERS, 100):
        ids = [f"bench-{n:05d}" for n in range(batch, batch + 100)]
        booked = [
            (
                session_stream(session_id),
                0,
                [
                    to_new_event(
                        SessionBooked(
                            session_id=session_id,
                            guild_id=f"g{n % 50}",
                            booked_by="u1",
                            size="small",
                            region="eu-west-1",
                            start_at=start,
                            duration_minutes=120,
                            rate_cents_per_hour=600,
                            immediate=True,
                            mission_name=None,
                        ),
                        {},
                    )
                ],
            )
            for n, session_id in enumerate(ids, batch)
        ]
        view.publish(await store.append_many(booked))
        for session_id in ids:
            api.files.put(session_id, 1, {"Config/options.lua": b"options = {}\n"})
            tokens.append(await api.credentials.mint(session_id, 1))
    return tokens


def _run_load(url: str, tokens: list[str]) -> list[tuple[str, float, list[float], int]]:
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(_load_process, (url, tokens))


def _load_process(url: str, tokens: list[str]) -> list[tuple[str, float, list[float], int]]:
    return asyncio.run(_load(url, tokens))


async def _load(url: str, tokens: list[str]) -> list[tuple[str, float, list[float], int]]:
    seqs = [0] * len(tokens)
    turn = iter(range(10**9))
    connector = aiohttp.TCPConnector(limit=IN_FLIGHT)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def one() -> tuple[float, bool]:
            index = next(turn) % len(tokens)
            seqs[index] += 1
            token = tokens[index]
            session_id = token.split(".")[1]
            body = {
                "seq": seqs[index],
                "state": "running",
                "mission": "Op Snowfall",
                "players": PLAYERS,
                "acked": [],
            }
            sent = time.perf_counter()
            async with http.post(
                f"{url}/agent/v1/sessions/{session_id}/heartbeats",
                json=body,
                headers={"Authorization": f"Bearer {token}"},
            ) as response:
                await response.read()
                return time.perf_counter() - sent, response.status == 200

        results = [await _phase("first beat per server (records)", one, len(tokens), None)]
        for name, rate in (
            (f"paced {TARGET_PER_SECOND:,.0f}/s (1,000 servers)", TARGET_PER_SECOND),
            (f"paced {TARGET_PER_SECOND * 10:,.0f}/s (10×)", TARGET_PER_SECOND * 10),
        ):
            results.append(await _phase(name, one, int(rate * PHASE_SECONDS), rate))
        results.append(await _flat_out(one))
        return results


async def _phase(
    name: str, one: Any, count: int, rate: float | None
) -> tuple[str, float, list[float], int]:
    """``count`` requests, started at ``rate`` per second (None: all at once, IN_FLIGHT bound)."""
    started = time.perf_counter()
    tasks = []
    for n in range(count):
        if rate is not None:
            delay = started + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one()))
    outcomes = await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    accepted = sum(1 for _, ok in outcomes if ok)
    return name, accepted / elapsed, [latency for latency, _ in outcomes], count - accepted


async def _flat_out(one: Any) -> tuple[str, float, list[float], int]:
    latencies: list[float] = []
    refused = 0
    deadline = time.perf_counter() + PHASE_SECONDS

    async def worker() -> None:
        nonlocal refused
        while time.perf_counter() < deadline:
            latency, ok = await one()
            latencies.append(latency)
            refused += not ok

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    elapsed = time.perf_counter() - started
    name = f"flat out, {IN_FLIGHT} in flight"
    return name, (len(latencies) - refused) / elapsed, latencies, refused


def _ms(latencies: list[float], percentile: int) -> float:
    return statistics.quantiles(latencies, n=100, method="inclusive")[percentile - 1] * 1000


if __name__ == "__main__":
    main()
