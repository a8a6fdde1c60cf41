"""Soak: many sessions through the sandbox at a fast time scale, watching memory and latency drift.

Run: ``python -m bench.soak [sessions] [time_scale]`` (default 600 sessions at 120×, one
every 0.3 s). rr runs as ``make run`` starts it with no configuration (the sandbox: Discord
emulator, sandbox checkout, local stand-in servers), in a child process with its store and
servers in a temporary folder. This process plays a member in the browser, over loopback only:
through the console's API, Olga grants credit, then Mia runs ``/server start`` for 10 minutes,
fetches #general as the page does and clicks Confirm; each session runs 5 real seconds at 120×
and ends by itself. After every session the sampler reads the child's resident memory (VmRSS)
and keeps the round-trip times of the command, the page fetch and the click.

It prints memory per session after warm-up (goal: flat, the emulator, console and provider
bounded) and the p99 of each request in the first and the last window after warm-up (goal: the
end within 1.5× of the start). It stops by itself: after ``sessions`` or ``TIME_LIMIT`` seconds,
whichever comes first, waits (bounded) for the last servers to end, then stops rr.
"""

import asyncio
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.failover import child_environment

SESSIONS = 600
TIME_SCALE = 120.0
PACE = 0.3
"""Real seconds from one session's start to the next (2.5 times the pace of the soak that found
the leaks, 2,022 sessions in 25 minutes), so a dozen or so stand-in servers run at once."""
WARM_UP = 0.5
"""The share of sessions before measuring: enough for the emulator's bounds (250 messages per
channel, one DM a session; 250 interactions, two a session) to be reached."""
WINDOW = 0.2
"""The share of sessions in each latency window (first after warm-up, last)."""
TIME_LIMIT = 300.0
START_TIMEOUT = 60.0
DRAIN_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0
SESSION_MINUTES = 10
LOG = "rr.log"
PROBLEM = re.compile(r"Z ((?:WARNING|ERROR) \S+ [^=]*?)(?: \S+=|$)")
"""A log line's level, logger and message, without its fields (ids, times)."""
CONSOLE_LINE = re.compile(rb"open (http://127\.0\.0\.1:\d+)(/sandbox/discord/)")
_HTTP_TIMEOUT = aiohttp.ClientTimeout(total=30)


@dataclass
class Sample:
    """One session as the sampler saw it."""

    rss_kib: int
    seconds: dict[str, float] = field(default_factory=dict)


def soak_environment(folder: Path, time_scale: float) -> dict[str, str]:
    return child_environment(
        folder,
        RR_LOG_LEVEL="WARNING",
        RR_SANDBOX_TIME_SCALE=str(time_scale),
        RR_LIMITS_MIN_DURATION_MINUTES=str(SESSION_MINUTES),
        RR_LIMITS_MAX_CONCURRENT_PER_GUILD="50",
        RR_LOCAL_RETENTION_HOURS="1",
        RR_SCHEDULE_ENDED_RETENTION_HOURS="1",
    )


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) if match else 0


class Console:
    """The console's JSON API, as the page calls it; each call's round trip is timed."""

    def __init__(self, http: aiohttp.ClientSession, origin: str, path: str) -> None:
        self.http = http
        self.origin = origin
        self.base = origin + path

    async def get(self, path: str) -> Any:
        async with self.http.get(self.base + path) as response:
            response.raise_for_status()
            return await response.json()

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        async with self.http.post(self.base + path, json=body) as response:
            response.raise_for_status()
            return await response.json()

    async def timed(self, sample: Sample, name: str, path: str, body: Any = None) -> Any:
        started = time.perf_counter()
        answer = await (self.get(path) if body is None else self.post(path, body))
        sample.seconds[name] = time.perf_counter() - started
        return answer

    async def active_sessions(self) -> float:
        async with self.http.get(self.origin + "/metrics") as response:
            text = await response.text()
        match = re.search(r"^rr_sessions_active (\S+)$", text, re.MULTILINE)
        return float(match.group(1)) if match else 0.0


@dataclass(frozen=True)
class Cast:
    squadron: str
    general: str
    manager: str
    operators: str
    operator: str


def cast(world: dict[str, Any]) -> Cast:
    squadron, operators = world["guilds"]
    members = {m["name"]: m["id"] for g in world["guilds"] for m in g["members"]}
    general = next(c["id"] for c in squadron["channels"] if c["name"] == "general")
    return Cast(
        squadron["id"],
        general,
        members["Mia (manager)"],
        operators["id"],
        members["Olga (operator)"],
    )


async def one_session(console: Console, who: Cast, sample: Sample) -> None:
    where = {"user": who.manager, "guild": who.squadron, "channel": who.general}
    options = {"duration": f"{SESSION_MINUTES}m"}
    answer = await console.timed(
        sample, "command", "api/invoke", {**where, "command": "server start", "options": options}
    )
    if not answer["answered"]:
        raise RuntimeError("rr did not answer /server start in time")
    page = await console.timed(
        sample, "fetch", f"api/channels/{who.general}/messages?user={who.manager}"
    )
    quote = next(m for m in reversed(page["messages"]) if _has_button(m["components"], "confirm"))
    clicked = await console.timed(
        sample,
        "click",
        "api/click",
        {"user": who.manager, "message": quote["id"], "custom_id": "confirm"},
    )
    if not clicked["answered"]:
        raise RuntimeError("rr did not answer the Confirm click in time")


def _has_button(components: list[dict[str, Any]], custom_id: str) -> bool:
    return any(
        button.get("custom_id") == custom_id
        for row in components
        for button in row.get("components", [])
    )


async def soak(sessions: int, time_scale: float, folder: Path) -> tuple[list[Sample], float]:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=folder,
        env=soak_environment(folder, time_scale),
        stdout=asyncio.subprocess.PIPE,
        stderr=(folder / LOG).open("wb"),
        stdin=asyncio.subprocess.DEVNULL,
    )
    assert child.stdout is not None
    samples: list[Sample] = []
    started = time.perf_counter()
    try:
        async with asyncio.timeout(START_TIMEOUT):
            line = b""
            while not (found := CONSOLE_LINE.search(line)):
                line = await child.stdout.readline()
                if not line:
                    raise RuntimeError("rr stopped before its sandbox was ready")
        async with aiohttp.ClientSession(timeout=_HTTP_TIMEOUT) as http:
            console = Console(http, found.group(1).decode(), found.group(2).decode())
            who = cast(await console.get("api/world"))
            grant = {"guild": who.squadron, "amount": "100000", "reason": "soak"}
            await console.post(
                "api/invoke",
                {
                    "user": who.operator,
                    "guild": who.operators,
                    "command": "admin grant",
                    "options": grant,
                },
            )
            deadline = started + TIME_LIMIT
            while len(samples) < sessions and time.perf_counter() < deadline:
                next_start = time.perf_counter() + PACE
                sample = Sample(rss_kib=0)
                await one_session(console, who, sample)
                sample.rss_kib = rss_kib(child.pid)
                samples.append(sample)
                await asyncio.sleep(max(0.0, next_start - time.perf_counter()))
            for _ in range(int(DRAIN_TIMEOUT / PACE)):  # the last servers end by themselves
                if await console.active_sessions() == 0:
                    break
                await asyncio.sleep(PACE)
        return samples, time.perf_counter() - started
    finally:
        if child.returncode is None:
            child.terminate()
            try:
                async with asyncio.timeout(STOP_TIMEOUT):
                    await child.wait()
            except TimeoutError:
                child.kill()
                await child.wait()


def p99(values: Sequence[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) > 1 else values[0]


def report(samples: list[Sample], sessions: int, time_scale: float, wall: float) -> list[str]:
    count = len(samples)
    warm = max(1, int(count * WARM_UP))
    width = max(2, int(count * WINDOW))
    if count < warm + 2 * width:
        return [f"only {count} sessions ran: too few to compare windows"]
    first, last = samples[warm : warm + width], samples[-width:]
    before, after = samples[warm - 1].rss_kib, samples[-1].rss_kib
    lines = [
        f"soak: {count} of {sessions} sessions at {time_scale:g}x in {wall:.0f} s "
        f"({2 * count} interactions, {count} page fetches), rr in its own process",
        f"memory: {samples[0].rss_kib / 1024:.1f} MiB after the first session, "
        f"{before / 1024:.1f} MiB after warm-up ({warm} sessions), "
        f"{after / 1024:.1f} MiB at the end",
        f"memory per session: {(before - samples[0].rss_kib) / max(1, warm - 1):.1f} KiB "
        f"during warm-up, {(after - before) / (count - warm):.1f} KiB after (goal: flat)",
    ]
    for name in ("command", "fetch", "click"):
        start = p99([s.seconds[name] for s in first]) * 1000
        end = p99([s.seconds[name] for s in last]) * 1000
        lines.append(
            f"{name}: p99 {start:.1f} ms in sessions {warm + 1}-{warm + width}, "
            f"{end:.1f} ms in the last {width}: {end / start:.2f}x (goal: at most 1.5x)"
        )
    return lines


def main() -> None:
    sessions = int(sys.argv[1]) if len(sys.argv) > 1 else SESSIONS
    time_scale = float(sys.argv[2]) if len(sys.argv) > 2 else TIME_SCALE
    with tempfile.TemporaryDirectory(prefix="rr-soak-") as folder:
        samples, wall = asyncio.run(soak(sessions, time_scale, Path(folder)))
        left = len(list((Path(folder) / "instances").glob("local-*")))
        logged = (Path(folder) / LOG).read_text(errors="replace").splitlines()
    for line in report(samples, sessions, time_scale, wall):
        print(line)
    print(f"local server folders left at the end: {left} (removed an hour of bot time after)")
    kinds = Counter(
        match.group(1) for line in logged if (match := PROBLEM.search(line)) is not None
    )
    print(f"rr logged {kinds.total()} warnings or errors")
    for kind, count in kinds.most_common():
        print(f"  {count} x {kind}")


if __name__ == "__main__":
    main()
