"""What a launch's agent downloads at boot, worked out from the session when it asks.

Like the server files, nothing is kept between the launch and the agent's request: any process
that knows the session (rr after a restart, a standby) answers alike. Today that is the
campaign's current save, for a squadron that keeps its mission's saves.
"""

from collections.abc import Sequence

from bot.agentapi import ServerDownload
from bot.domain.session import SERVER_UP_STATUSES
from bot.services.saves import CampaignSaves
from bot.view.handle import ViewHandle


class ViewDownloads:
    """The agent API's `bot.agentapi.SessionDownloads`, from the view and the saves."""

    def __init__(self, view: ViewHandle, saves: CampaignSaves) -> None:
        self._view = view
        self._saves = saves

    async def downloads_for(self, session_id: str, attempt: int) -> Sequence[ServerDownload]:
        state = await self._view.session(session_id)
        if state is None or state.attempt != attempt or state.status not in SERVER_UP_STATUSES:
            return ()
        squadron = await self._view.squadron(state.guild_id)
        folder = squadron.settings.campaign_save_folder if squadron else ""
        found = []
        if folder and state.mission_name is not None:
            save = await self._saves.download(state.guild_id, state.mission_name, folder)
            if save is not None:
                found.append(save)
        return found
