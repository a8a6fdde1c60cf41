"""A server's agent as the services see it: heartbeats accepted by rr's heartbeat book, as the
agent API's route accepts them (the HTTP exchange itself is tested in tests/agent)."""

from bot.agentapi import Grant
from bot.agentapi.schemas import Heartbeat, Instruction
from bot.domain.session import SessionState
from bot.services import Services


async def report(services: Services, session: SessionState, state: str = "running") -> None:
    """The session's agent reports DCS in ``state`` for the session's current launch."""
    heartbeats = services.agents.heartbeats
    grant = Grant(session.session_id, session.attempt)
    beat = Heartbeat.model_validate(
        {
            "seq": heartbeats.last_seq(grant) + 1,
            "state": state,
            "mission": "Op Snowfall",
            "players": [],
            "acked": [],
        }
    )
    await heartbeats.accept(grant, beat)


def instructions(services: Services, session: SessionState) -> list[Instruction]:
    """What rr would hand the session's agent with its next heartbeat."""
    return services.agents.instructions.pending(session.session_id)


def kinds(services: Services, session: SessionState) -> list[tuple[str, str | None]]:
    """The pending instructions as (kind, chat text)."""
    return [(i.kind, i.text) for i in instructions(services, session)]
