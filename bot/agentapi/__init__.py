"""rr's side of the server agent: credentials per launch, the files, heartbeats, instructions.

`build_agent_api` assembles the parts on the event store; `agent_routes` registers the HTTP
routes (see `bot.agentapi.routes` for the protocol). The lifecycle mints a launch's credential
before the launch (the provider hands it to the server's agent) and calls ``end`` once the
session has ended; the files come from a `SessionFiles` (rr renders them when asked).
``transfers`` makes the links into the object store the app attaches, for the downloads its
``downloads`` names.
"""

from bot.agentapi.api import AgentApi
from bot.agentapi.credentials import CredentialRefused, Credentials, Grant, SessionActivity
from bot.agentapi.files import LaunchFiles, SessionFiles
from bot.agentapi.heartbeats import HeartbeatBook, ServerReport
from bot.agentapi.instructions import InstructionQueue
from bot.agentapi.ledger import AgentLedger
from bot.agentapi.ratelimit import RateLimiter
from bot.agentapi.routes import agent_routes
from bot.agentapi.transfers import (
    DEBRIEF_TARGETS,
    DebriefTarget,
    LaunchDownloads,
    ServerDownload,
    SessionDownloads,
    Transfers,
)
from bot.clock import Clock
from eventstore import EventStore

RATE_PER_SECOND = 2.0
"""Sustained requests per credential: twice a booting server's heartbeat every second."""
RATE_BURST = 20


def build_agent_api(
    store: EventStore, sessions: SessionActivity, clock: Clock, files: SessionFiles
) -> AgentApi:
    ledger = AgentLedger(store)
    instructions = InstructionQueue()
    return AgentApi(
        credentials=Credentials(ledger, sessions, clock.now),
        heartbeats=HeartbeatBook(ledger, clock.now),
        instructions=instructions,
        files=files,
        limiter=RateLimiter(RATE_PER_SECOND, RATE_BURST, clock.now),
        transfers=Transfers(ledger, instructions),
    )


__all__ = [
    "DEBRIEF_TARGETS",
    "AgentApi",
    "CredentialRefused",
    "Credentials",
    "DebriefTarget",
    "Grant",
    "HeartbeatBook",
    "InstructionQueue",
    "LaunchDownloads",
    "LaunchFiles",
    "ServerDownload",
    "ServerReport",
    "SessionActivity",
    "SessionDownloads",
    "SessionFiles",
    "Transfers",
    "agent_routes",
    "build_agent_api",
]
