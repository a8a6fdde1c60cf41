"""The short name members read for one of rr's sessions: "Server #12 · Fri 20:00".

The number counts the squadron's sessions in the order they were booked and the time is the
start in the squadron's time zone; both come from recorded facts, so a label reads the same after
a restart. Members never see a session's id, which reads like a DCS mission file.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot.domain.session import SessionState
from bot.services import Services


@dataclass(frozen=True)
class SessionLabels:
    numbers: Mapping[str, int]
    zone: ZoneInfo

    def __call__(self, session: SessionState) -> str:
        number = self.numbers.get(session.session_id)
        name = f"Server #{number}" if number else "Server"
        return f"{name} · {session.start_at.astimezone(self.zone):%a %H:%M}"


async def session_labels(services: Services, guild_id: str) -> SessionLabels:
    """The labels of the guild's sessions as of now."""
    numbers = await services.sessions.session_numbers(guild_id)
    squadron = await services.squadrons.get(guild_id)
    return SessionLabels(numbers, ZoneInfo(squadron.settings.timezone))


async def session_label(services: Services, session: SessionState) -> str:
    return (await session_labels(services, session.guild_id))(session)
