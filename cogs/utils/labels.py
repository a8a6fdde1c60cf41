"""The short name members read for one of rr's sessions: "Server #12 · Fri 20:00".

The number counts the squadron's sessions in the order they were booked and the time is the
start in the squadron's time zone; both come from recorded facts, so a label reads the same after
a restart. Members never see a session's id, which reads like a DCS mission file.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot.domain.mission import MissionState
from bot.services import Services


@dataclass(frozen=True)
class SessionLabels:
    numbers: Mapping[str, int]
    zone: ZoneInfo

    def __call__(self, mission: MissionState) -> str:
        number = self.numbers.get(mission.mission_id)
        name = f"Server #{number}" if number else "Server"
        return f"{name} · {mission.start_at.astimezone(self.zone):%a %H:%M}"


async def session_labels(services: Services, guild_id: str) -> SessionLabels:
    """The labels of the guild's sessions as of now."""
    numbers = await services.missions.session_numbers(guild_id)
    squadron = await services.squadrons.get(guild_id)
    return SessionLabels(numbers, ZoneInfo(squadron.settings.timezone))


async def session_label(services: Services, mission: MissionState) -> str:
    return (await session_labels(services, mission.guild_id))(mission)
