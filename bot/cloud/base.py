"""What the bot asks of a compute provider: launch, find, describe, terminate DCS servers."""

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

PROBE_TIMEOUT_SECONDS = 3.0
"""How long one game-port probe waits for the connection."""
InstanceState = Literal["pending", "running", "stopping", "terminated", "gone"]
"""A server's state: "terminated" includes one shutting down for good, "gone" is one the
provider does not know (any more)."""
LaunchErrorReason = Literal["capacity", "limit", "config", "unavailable"]


@dataclass(frozen=True)
class AgentBoot:
    """What a server's agent needs to reach rr: rr's web address and the credential minted for
    this launch (which the provider hands to the agent and never logs)."""

    rr_url: str
    credential: str = field(repr=False)


@dataclass(frozen=True)
class LaunchRequest:
    """One launch attempt of a session's server.

    ``client_token`` makes the launch idempotent: the same token never starts a second server.
    ``files`` are the rendered DCS files ({path relative to the DCS write folder: content}).
    ``terminate_at`` is the backstop: the provider stops the server then even if the bot is gone.
    ``agent`` is how the server's agent reaches rr; None launches a server without one.
    """

    session_id: str
    guild_id: str
    attempt: int
    client_token: str
    size: str
    region: str
    files: Mapping[str, bytes] = field(repr=False)
    game_port: int
    terminate_at: datetime
    login_ref: str | None
    deployment: str
    agent: AgentBoot | None = None


@dataclass(frozen=True)
class InstanceInfo:
    """What a provider knows of one server.

    ``game_port`` is set when the provider chose the port itself (the local stand-in picks a
    free one); None means the server listens on the requested ``LaunchRequest.game_port``.
    ``stopped_at`` is when a server that is stopping or terminated stopped running, if the
    provider reports it (EC2 does, for about an hour after the termination).
    """

    instance_id: str
    session_id: str | None
    attempt: int | None
    state: InstanceState
    address: str | None
    launched_at: datetime | None
    game_port: int | None = None
    stopped_at: datetime | None = None

    @property
    def is_over(self) -> bool:
        """Terminated or unknown to the provider: the server will not run again."""
        return self.state in ("terminated", "gone")

    @classmethod
    def gone(cls, instance_id: str) -> "InstanceInfo":
        """A server the provider does not know (any more)."""
        return cls(instance_id, None, None, "gone", None, None)


class LaunchError(Exception):
    """A launch that did not start a server; ``message`` is one plain sentence for the user."""

    def __init__(self, reason: LaunchErrorReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class ComputeProvider(Protocol):
    name: str

    async def launch(self, request: LaunchRequest) -> InstanceInfo:
        """Start the server, or return the one already started for ``request.client_token``."""
        ...

    async def describe(self, instance_id: str) -> InstanceInfo:
        """The server's current state; state "gone" when the provider does not know it."""
        ...

    async def find_launch(self, session_id: str, attempt: int) -> InstanceInfo | None:
        """The server a launch attempt started, for adoption after a crash; None if none."""
        ...

    async def list_managed(self) -> list[InstanceInfo]:
        """Every server of this deployment that is not terminated."""
        ...

    async def terminate(self, instance_id: str) -> None:
        """Stop the server; doing it again, or for an unknown server, is not an error."""
        ...

    async def move_backstop(self, instance_id: str, terminate_at: datetime) -> bool:
        """Make the server stop by itself at ``terminate_at``, setting its backstop if it has
        none; whether the backstop had to be set or moved (False: it already was so)."""
        ...

    async def game_port_open(self, address: str, port: int) -> bool:
        """One TCP connection attempt to the game port."""
        ...


async def tcp_port_open(address: str, port: int) -> bool:
    """One TCP connection attempt, closed again at once: `ComputeProvider.game_port_open`."""
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(address, port), timeout=PROBE_TIMEOUT_SECONDS
        )
    except (OSError, TimeoutError):
        return False
    writer.close()
    await writer.wait_closed()
    return True
