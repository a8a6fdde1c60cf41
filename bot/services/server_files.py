"""A launch's server files, rendered whenever they are asked for rather than kept.

Rendering is a pure function of the squadron's settings and the session, so rr keeps no copy of
the files (passwords included) between the launch and the agent's request for them: any process
that knows the session (rr after a restart, a standby) renders the same bytes. They are rendered
from the settings as they are when asked, as the ready notice is, so a change of settings made
while the server boots reaches both alike.
"""

import logging
from collections.abc import Mapping

from bot.dcs import SessionOptions, render_server_files
from bot.dcs.session import library_mission_path
from bot.domain.session import SERVER_UP_STATUSES, SessionState
from bot.domain.settings import SettingsError, SquadronSettings
from bot.domain.squadron import initial_squadron
from bot.view.handle import ViewHandle

log = logging.getLogger("rr.services")


def session_options(
    session_id: str, mission_name: str | None, settings: SquadronSettings, *, library: bool = False
) -> SessionOptions:
    """The run's DCS options (``SettingsError`` if they do not fit): a ``library`` mission
    alone, from where the server fetches it; a mission on the image first when it is in the
    squadron's list, else that mission alone."""
    if mission_name is None:
        return SessionOptions(session_id=session_id)
    if library:
        return SessionOptions(session_id=session_id, missions=(library_mission_path(mission_name),))
    if mission_name in settings.missions:
        index = settings.missions.index(mission_name) + 1
        return SessionOptions(session_id=session_id, start_index=index)
    return SessionOptions(session_id=session_id, missions=(mission_name,))


def server_files(state: SessionState, settings: SquadronSettings) -> dict[str, bytes]:
    """The session's server files ({path under the DCS write folder: bytes}); ``SettingsError``
    when the settings cannot be rendered for it."""
    options = session_options(
        state.session_id, state.mission_name, settings, library=state.mission_key is not None
    )
    return render_server_files(settings, options)


class RenderedFiles:
    """The agent API's `bot.agentapi.SessionFiles`: the files of a session's current launch
    attempt while its server may be up, rendered from what the view knows."""

    def __init__(self, view: ViewHandle) -> None:
        self._view = view

    async def files_for(self, session_id: str, attempt: int) -> Mapping[str, bytes] | None:
        state = await self._view.session(session_id)
        if state is None or state.attempt != attempt or state.status not in SERVER_UP_STATUSES:
            return None
        squadron = await self._view.squadron(state.guild_id)
        settings = (squadron or initial_squadron).settings
        try:
            return server_files(state, settings)
        except SettingsError:
            log.warning(
                "the server files cannot be rendered for the agent",
                extra={"session_id": session_id, "attempt": attempt},
            )
            return None
