"""Failover: kill -9 of the active rr process, to the standby's first scheduler tick.

Run: ``python -m bench.failover [runs]`` (default 5). Each run starts two rr processes as a
first ``make run`` would (no Discord token or Stripe: the sandbox, with its local Discord and
stand-in servers) on one SQLite file in a temporary folder, each on its own free port. The first
to start takes the lease and is the active one; the second reports itself a standby on
``/healthz``. The benchmark then sends the active one SIGKILL and polls the standby's
``/healthz`` every ``POLL`` seconds until it says it is the active one with a scheduler that
has ticked, and watches its output for the line it prints once its Discord client is connected
(to its sandbox's Discord; a real gateway connection adds Discord's own handshake).

It prints, over the runs, the p50 and the maximum of the time from the kill to the standby's
first scheduler tick and to its Discord connection (goal: at most 30 s), beside the lease's
term: a killed process's lease runs out at most one term after its last renewal.
"""

import asyncio
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bot.leadership import RENEW_EVERY, RETRY_EVERY, TERM

RUNS = 5
POLL = 0.02
START_TIMEOUT = 60.0
FAILOVER_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
GOAL_SECONDS = 30.0
LISTENING = "web app listening"
CONNECTED = "rr is running against a local Discord sandbox"
_HTTP_TIMEOUT = aiohttp.ClientTimeout(total=2)


def child_environment(folder: Path, **settings: str) -> dict[str, str]:
    """A first ``make run`` (no .env, no Discord or Stripe) in ``folder``, on a free port, with
    ``settings`` (``RR_…`` variables) on top."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("RR_", "DISCORD_", "STRIPE_", "AWS_"))
    }
    return {
        **inherited,
        "RR_EVENT_STORE": f"sqlite:///{folder / 'rr.db'}",
        "RR_LOCAL_INSTANCES_DIR": str(folder / "instances"),
        "RR_WEB_PORT": "0",
        "RR_LOG_LEVEL": "INFO",
        **settings,
    }


@dataclass
class RrProcess:
    """One ``python -m bot`` with its output read line by line, as it comes, with the time."""

    process: asyncio.subprocess.Process
    lines: list[tuple[float, str]] = field(default_factory=list)
    url: str | None = None
    """Where its web app listens, once it said so."""
    _readers: list["asyncio.Task[None]"] = field(default_factory=list)

    @classmethod
    async def start(cls, folder: Path) -> "RrProcess":
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            cwd=folder,
            env=child_environment(folder),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.DEVNULL,
        )
        rr = cls(process)
        assert process.stdout is not None and process.stderr is not None
        rr._readers = [
            asyncio.create_task(rr._read(process.stdout)),
            asyncio.create_task(rr._read(process.stderr)),
        ]
        async with asyncio.timeout(START_TIMEOUT):
            await rr.line_with(LISTENING)
        return rr

    async def _read(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            text = line.decode(errors="replace").rstrip()
            self.lines.append((time.perf_counter(), text))
            if self.url is None and LISTENING in text and "url=" in text:
                self.url = text.split("url=", 1)[1].split()[0]

    async def line_with(self, text: str, after: float = 0.0) -> float:
        """When the first line containing ``text`` (printed after ``after``) came."""
        while True:
            for at, line in self.lines:
                if at >= after and text in line:
                    return at
            if self.process.returncode is not None:
                raise RuntimeError(f"rr exited ({self.process.returncode}):\n{self.output()}")
            await asyncio.sleep(POLL)

    async def health(self, http: aiohttp.ClientSession) -> dict[str, Any]:
        assert self.url is not None
        async with http.get(self.url + "/healthz") as response:
            body: dict[str, Any] = await response.json()
            body["http_status"] = response.status
            return body

    async def until_health(
        self, http: aiohttp.ClientSession, satisfied: Callable[[dict[str, Any]], bool]
    ) -> tuple[float, dict[str, Any]]:
        """Poll ``/healthz`` until ``satisfied``; returns when it first was, and the answer."""
        while True:
            try:
                body = await self.health(http)
            except (aiohttp.ClientError, TimeoutError):
                body = {}
            if body and satisfied(body):
                return time.perf_counter(), body
            if self.process.returncode is not None:
                raise RuntimeError(f"rr exited ({self.process.returncode}):\n{self.output()}")
            await asyncio.sleep(POLL)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
            try:
                async with asyncio.timeout(STOP_TIMEOUT):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        await asyncio.gather(*self._readers, return_exceptions=True)

    def output(self) -> str:
        return "\n".join(line for _, line in self.lines[-40:])


def role(body: dict[str, Any]) -> str:
    """The role the process says it has on ``/healthz``: "active" or "standby"."""
    detail = str(body.get("checks", {}).get("role", {}).get("detail", ""))
    return detail.split(":", 1)[0]


def active_and_ticking(body: dict[str, Any]) -> bool:
    scheduler = body.get("checks", {}).get("scheduler", {})
    return role(body) == "active" and str(scheduler.get("detail", "")).startswith("last tick")


@dataclass(frozen=True)
class Failover:
    to_first_tick: float
    to_discord: float


async def one_failover(folder: Path) -> Failover:
    """Start an active and a standby rr on one SQLite file, kill -9 the active one, and time
    the standby's take-over."""
    processes: list[RrProcess] = []
    try:
        async with aiohttp.ClientSession(timeout=_HTTP_TIMEOUT) as http:
            active = await RrProcess.start(folder)
            processes.append(active)
            await active.until_health(http, active_and_ticking)
            standby = await RrProcess.start(folder)
            processes.append(standby)
            _, body = await standby.until_health(http, lambda body: role(body) == "standby")
            if body["http_status"] != 200:
                raise RuntimeError(f"the standby's /healthz answered {body}")
            killed_at = time.perf_counter()
            active.kill()
            async with asyncio.timeout(FAILOVER_TIMEOUT):
                ticked_at, _ = await standby.until_health(http, active_and_ticking)
                connected_at = await standby.line_with(CONNECTED, after=killed_at)
        return Failover(ticked_at - killed_at, connected_at - killed_at)
    finally:
        for process in processes:
            await process.stop()


def report(runs: Sequence[Failover]) -> list[str]:
    ticks = [run.to_first_tick for run in runs]
    discord = [run.to_discord for run in runs]
    worst = max(max(ticks), max(discord))
    return [
        f"failover: {len(runs)} runs, two rr processes on one SQLite file, kill -9 of the "
        f"active one; lease term {TERM.total_seconds():g} s, renewed every "
        f"{RENEW_EVERY.total_seconds():g} s, standby retrying every "
        f"{RETRY_EVERY.total_seconds():g} s",
        f"to the standby's first scheduler tick: p50 {statistics.median(ticks):.1f} s, "
        f"max {max(ticks):.1f} s",
        f"to its Discord connection (sandbox): p50 {statistics.median(discord):.1f} s, "
        f"max {max(discord):.1f} s",
        f"goal: at most {GOAL_SECONDS:g} s: {'met' if worst <= GOAL_SECONDS else 'NOT met'}",
    ]


async def failovers(count: int) -> list[Failover]:
    runs = []
    for _ in range(count):
        with tempfile.TemporaryDirectory(prefix="rr-failover-") as folder:
            runs.append(await one_failover(Path(folder)))
    return runs


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else RUNS
    for line in report(asyncio.run(failovers(count))):
        print(line)


if __name__ == "__main__":
    main()
