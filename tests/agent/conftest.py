from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from agent.hookfile import hook_source
from agent.hooklink import HookLink
from agent.programs import Programs
from agent.rr import RrClient
from agent.runner import Agent
from tests.agent.fake_dcs import FakeDcs
from tests.agent.stepclock import SteppingClock
from tests.bot.agentapi.conftest import (
    SESSION,
    Rr,
    rr,  # noqa: F401  (rr's agent API, for the agent's tests)
)
from tests.bot.files.store.conftest import (  # noqa: F401  (both object stores)
    backend,
    local_backend,
    s3,
    s3_backend,
    s3_server,
)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class AgentEnd:
    """The agent's side of the loopback exchange, as plain sockets: reads the hook's reports,
    sends it commands."""

    def __init__(self, hook_port: int) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(2.0)
        self.port = int(self.socket.getsockname()[1])
        self.hook_port = hook_port

    def report(self) -> dict[str, Any]:
        return json.loads(self.socket.recv(65535))

    def reports(self) -> list[dict[str, Any]]:
        """Every report waiting now (none: an empty list)."""
        self.socket.setblocking(False)
        found = []
        try:
            while True:
                found.append(json.loads(self.socket.recv(65535)))
        except BlockingIOError:
            return found
        finally:
            self.socket.settimeout(2.0)

    def send(self, payload: bytes | dict[str, Any]) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.socket.sendto(data, ("127.0.0.1", self.hook_port))


@pytest.fixture
def agent_end() -> Iterator[AgentEnd]:
    end = AgentEnd(free_udp_port())
    yield end
    end.socket.close()


@pytest.fixture
def dcs(agent_end: AgentEnd) -> Iterator[FakeDcs]:
    fake = FakeDcs(hook_source(agent_end.port, agent_end.hook_port))
    yield fake
    fake.close()


LOOP_TURNS = 5000
"""Loop turns a test gives a loopback datagram to arrive: I/O, not a timer."""


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(LOOP_TURNS):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never held")


class Server:
    """One agent with its hook link, and what it started."""

    def __init__(
        self,
        rr: Rr,  # noqa: F811
        token: str,
        root: Path,
        clock: SteppingClock,
        url: str | None = None,
    ) -> None:
        self.started: list[Sequence[str]] = []
        self.clock = clock
        self.link = HookLink(clock, free_udp_port())
        self.agent = Agent(
            client=RrClient(url or rr.url, SESSION, token),
            link=self.link,
            clock=clock,
            root=root,
            programs=Programs(dcs_exe=r"C:\DCS\bin\DCS_server.exe", srs_exe=r"C:\SRS\srs.exe"),
            starter=self.started.append,
        )

    async def beat(self) -> None:
        await self.agent.beat_forever(self.agent.beats + 1)


@pytest.fixture
async def server(rr: Rr, tmp_path: Path) -> AsyncIterator[Server]:  # noqa: F811
    token = await rr.launch()
    made = Server(rr, token, tmp_path / "DCS.server", SteppingClock(rr.clock))
    made.agent.agent_port = await made.link.open(0)
    yield made
    made.link.close()
