"""What one session adds to the squadron's settings when its server files are rendered."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.domain.settings import MissionPaths, SettingsError, SquadronSettings, Text

LIBRARY_FOLDER = "Missions"
"""Where a session's library mission is put, under the DCS write folder."""

_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_NAME_SUFFIX = Text(max_length=64)
_DESCRIPTION = Text(max_length=1000)


@dataclass(frozen=True, kw_only=True, slots=True)
class SessionOptions:
    """The run's own choices.

    `missions` empty means the squadron's default mission list. `start_index` is 1-based into
    whichever list is used. `name_suffix` is appended to the server name; `description`, when
    given, replaces the squadron's description for this run.
    """

    session_id: str
    missions: tuple[str, ...] = ()
    start_index: int = 1
    name_suffix: str = ""
    description: str | None = None

    def __post_init__(self) -> None:
        if _SESSION_ID.fullmatch(self.session_id) is None:
            raise SettingsError(
                "session_id must be 1 to 64 letters, digits, hyphens or underscores."
            )
        MissionPaths().check("missions", self.missions)
        _NAME_SUFFIX.check("name_suffix", self.name_suffix)
        if self.description is not None:
            _DESCRIPTION.check("description", self.description)
        if type(self.start_index) is not int or self.start_index < 1:
            raise SettingsError("start_index must be a whole number from 1 upwards.")
        if self.missions and self.start_index > len(self.missions):
            raise SettingsError(_start_index_message(len(self.missions)))

    def mission_list(self, settings: SquadronSettings) -> tuple[str, ...]:
        """The missions this run offers, checked against `start_index`."""
        missions = self.missions or settings.missions
        if max(len(missions), 1) < self.start_index:
            raise SettingsError(_start_index_message(len(missions)))
        return missions

    def server_name(self, settings: SquadronSettings) -> str:
        return settings.server_name + self.name_suffix

    def server_description(self, settings: SquadronSettings) -> str:
        return settings.description if self.description is None else self.description

    def file_note(self) -> str:
        """The comment each rendered file opens with, so an operator can trace it."""
        return f"Written by rr for session {self.session_id}; rr replaces it at every launch."


def library_mission_path(name: str) -> str:
    """The library mission ``name`` as serverSettings' mission list names it: the file the
    server fetches it to at boot, relative to the DCS write folder (names are file-safe,
    `bot.domain.library`)."""
    return f"{LIBRARY_FOLDER}/{name}.miz"


def _start_index_message(count: int) -> str:
    highest = max(count, 1)
    return f"start_index must be a whole number from 1 to {highest}, one of the listed missions."
