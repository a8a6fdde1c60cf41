"""Whether a session is active, as the view knows it: credentials expire when it ends."""

from bot.view.handle import ViewHandle


class ViewSessions:
    def __init__(self, view: ViewHandle) -> None:
        self._view = view

    async def is_active(self, session_id: str) -> bool:
        state = await self._view.session(session_id)
        return state is not None and state.is_active
