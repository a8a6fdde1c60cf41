"""What a launch's agent downloads at boot, worked out from the session when it asks.

Like the server files, nothing is kept between the launch and the agent's request: any process
that knows the session (rr after a restart, a standby) answers alike: the session's library
mission (where serverSettings lists it) and the campaign's current save, for a squadron that
keeps its mission's saves.
"""

from collections.abc import Sequence

from bot.agentapi import ServerDownload, Transfers
from bot.dcs.session import library_mission_path
from bot.domain.session import SERVER_UP_STATUSES, SessionState
from bot.files.store import ObjectKey
from bot.services.saves import CampaignSaves
from bot.view.handle import ViewHandle


class ViewDownloads:
    """The agent API's `bot.agentapi.SessionDownloads`, from the view and the saves."""

    def __init__(self, view: ViewHandle, saves: CampaignSaves, transfers: Transfers) -> None:
        self._view = view
        self._saves = saves
        self._transfers = transfers

    async def downloads_for(self, session_id: str, attempt: int) -> Sequence[ServerDownload]:
        state = await self._view.session(session_id)
        if state is None or state.attempt != attempt or state.status not in SERVER_UP_STATUSES:
            return ()
        squadron = await self._view.squadron(state.guild_id)
        folder = squadron.settings.campaign_save_folder if squadron else ""
        found = []
        mission = await self._library_mission(state)
        if mission is not None:
            found.append(mission)
        if folder and state.mission_name is not None:
            save = await self._saves.download(state.guild_id, state.mission_name, folder)
            if save is not None:
                found.append(save)
        return found

    async def _library_mission(self, state: SessionState) -> ServerDownload | None:
        """The session's library mission; None for a mission on the image (or none)."""
        if state.mission_key is None or state.mission_sha256 is None or not state.mission_name:
            return None
        key = ObjectKey(state.mission_key)
        info = await self._transfers.store.head(key)
        if info is None:
            raise LookupError(f"The library mission {state.mission_name!r} is not in the store.")
        path = library_mission_path(state.mission_name)
        return ServerDownload(path, key, state.mission_sha256, info.size)
