"""The agent API's parts, as the routes and the lifecycle use them."""

from dataclasses import dataclass

from bot.agentapi.credentials import Credentials
from bot.agentapi.files import SessionFiles
from bot.agentapi.heartbeats import HeartbeatBook
from bot.agentapi.instructions import InstructionQueue
from bot.agentapi.ratelimit import RateLimiter
from bot.agentapi.transfers import Transfers


@dataclass(frozen=True)
class AgentApi:
    """What the routes need; each part is replaceable, so wiring into the lifecycle is thin."""

    credentials: Credentials
    heartbeats: HeartbeatBook
    instructions: InstructionQueue
    files: SessionFiles
    limiter: RateLimiter
    transfers: Transfers
    interval_seconds: float = 5.0
    """How often a server whose mission runs reports."""
    boot_interval_seconds: float = 1.0
    """How often a server reports until its mission runs (booting, loading, stopped) or after
    an instruction, so that rr learns at once when it becomes flyable, or when a mission it
    asked to end has ended."""

    def interval_for(self, state: str, instructed: bool) -> float:
        """The heartbeat interval to ask of a server that reported ``state``; ``instructed``
        when the reply carries instructions, whose outcome rr then hears of soon."""
        if state == "running" and not instructed:
            return self.interval_seconds
        return self.boot_interval_seconds

    async def end(self, session_id: str, reason: str) -> None:
        """The session has ended: revoke its credential and drop what is kept of it in memory."""
        await self.credentials.revoke(session_id, reason)
        self.credentials.forget(session_id)
        self.heartbeats.forget(session_id)
        self.instructions.forget(session_id)
