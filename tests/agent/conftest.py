from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from agent.hookfile import hook_source
from tests.agent.fake_dcs import FakeDcs
from tests.bot.agentapi.conftest import rr  # noqa: F401  (rr's agent API, for the agent's tests)


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
