"""The debrief posted once a session that served a game has ended: when, how long, who flew,
what it cost, and a download link for each file its server sent back.

The facts come from the session's agent stream (the pilots seen, the files rr found in its
store); the post is recorded there as an intent (``DebriefPostRecorded``) before it is sent and
confirmed after (``DebriefPostDelivered``), so a failed or interrupted send is tried again, here
with a back-off and after a restart by `resume`. The links are made at each send but all expire
when the files do: ``debrief_link_lifetime`` after the session ended.
"""

import asyncio
import logging
from datetime import datetime, timedelta

from bot.agentapi import DEBRIEF_TARGETS, AgentApi, DebriefTarget
from bot.agentapi.events import DebriefPostDelivered, DebriefPostRecorded
from bot.agentapi.ledger import AgentRecord
from bot.clock import Clock
from bot.domain.session import SessionState, SessionStatus
from bot.files.limits import FileLimits
from bot.files.store import ObjectKey
from bot.notify import DebriefLink, DebriefNotice, Notifier
from bot.services.background import BackgroundTasks
from bot.services.saves import CampaignSaves
from bot.view.handle import ViewHandle

log = logging.getLogger("rr.debriefs")

RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30))
"""Between tries of a debrief that was not delivered; after the last, `resume` (at start-up)
tries again."""


class Debriefs:
    def __init__(
        self,
        *,
        agents: AgentApi,
        notifier: Notifier,
        clock: Clock,
        limits: FileLimits,
        background: BackgroundTasks,
        view: ViewHandle,
        saves: CampaignSaves,
    ) -> None:
        self._saves = saves
        self._agents = agents
        self._ledger = agents.transfers.ledger
        self._notifier = notifier
        self._clock = clock
        self._limits = limits
        self._background = background
        self._view = view
        self._sending: set[str] = set()
        self._retrying: set[asyncio.Task[None]] = set()
        self._asked: dict[str, str] = {}
        """The upload instruction posted to each ending session's server, by session."""

    async def request_upload(self, state: SessionState) -> None:
        """Ask the session's server for its debrief files (Tacview, track, log, and the save
        folder's files when the squadron keeps a campaign's saves), once; the agent sends them
        once its mission is over. A failure to make the links is logged: a debrief never holds
        up an end."""
        if state.session_id in self._asked:
            return
        squadron = await self._view.squadron(state.guild_id)
        save_folder = squadron.settings.campaign_save_folder if squadron else ""
        targets = DEBRIEF_TARGETS + ((DebriefTarget("save", save_folder),) if save_folder else ())
        try:
            instruction = await self._agents.transfers.request_debrief(
                state.session_id, state.guild_id, self._limits.debrief_max_bytes, targets
            )
        except Exception:
            log.exception(
                "the debrief upload could not be asked for", extra={"session_id": state.session_id}
            )
            return
        self._asked[state.session_id] = instruction.id

    def upload_done(self, session_id: str) -> bool:
        """Whether the server reported its debrief upload carried out (or none was asked)."""
        asked = self._asked.get(session_id)
        return asked is None or self._agents.transfers.debrief_sent(session_id, asked)

    def follow(self, ended: SessionState) -> None:
        """Post the debrief of a session that just ended, in the background; a failed send is
        tried again after each of ``RETRY_DELAYS``."""
        self._asked.pop(ended.session_id, None)
        if _deserves_debrief(ended):
            self._background.spawn(self._first_try(ended), name=f"debrief:{ended.session_id}")

    async def aclose(self) -> None:
        """Stop waiting to try again (the debriefs recorded and not delivered are sent by the
        next start's `resume`)."""
        for task in list(self._retrying):
            task.cancel()
        await asyncio.gather(*self._retrying, return_exceptions=True)

    async def post(self, ended: SessionState) -> bool:
        """Record the intent (once), send, confirm; False if it was not delivered (yet)."""
        if not _deserves_debrief(ended) or ended.session_id in self._sending:
            return True
        assert ended.ended_at is not None
        expires_at = ended.ended_at + self._limits.debrief_link_lifetime
        if self._clock.now() >= expires_at:
            return True
        record = await self._ledger.record(ended.session_id)
        if record.debrief_post == "delivered":
            return True
        self._sending.add(ended.session_id)
        try:
            if record.debrief_post is None:
                record = await self._ledger.append(
                    ended.session_id, DebriefPostRecorded(session_id=ended.session_id)
                )
            try:
                await self._notifier.notify(await self._notice(ended, record, expires_at))
            except Exception:
                log.warning(
                    "debrief not delivered; tried again later",
                    exc_info=True,
                    extra={"session_id": ended.session_id},
                )
                return False
            await self._ledger.append(
                ended.session_id, DebriefPostDelivered(session_id=ended.session_id)
            )
            return True
        finally:
            self._sending.discard(ended.session_id)

    async def resume(self) -> None:
        """Send the debriefs recorded but never confirmed (rr stopped in between), of sessions
        whose files have not expired yet."""
        since = self._clock.now() - self._limits.debrief_link_lifetime
        for guild_id in await self._view.squadron_guilds():
            for state in await self._view.sessions_for_guild(guild_id):
                if not _deserves_debrief(state) or state.ended_at is None or state.ended_at < since:
                    continue
                record = await self._ledger.record(state.session_id)
                if record.debrief_post == "recorded":
                    self.follow(state)

    async def _first_try(self, ended: SessionState) -> None:
        await self._keep_saves(ended)
        if not await self.post(ended):
            task = asyncio.create_task(
                self._retries(ended), name=f"debrief-retry:{ended.session_id}"
            )
            self._retrying.add(task)
            task.add_done_callback(self._retrying.discard)

    async def _keep_saves(self, ended: SessionState) -> None:
        """Keep the campaign save the server sent back for the next session of its mission."""
        if ended.mission_name is None or ended.ended_at is None:
            return
        for file in await self._agents.transfers.debrief_files(ended.session_id):
            if file.kind != "save":
                continue
            try:
                await self._saves.keep(ended.guild_id, ended.mission_name, ended.ended_at, file)
            except Exception:
                log.exception(
                    "a campaign save was not kept", extra={"session_id": ended.session_id}
                )

    async def _retries(self, ended: SessionState) -> None:
        for delay in RETRY_DELAYS:
            await self._clock.sleep_until(self._clock.now() + delay)
            try:
                if await self.post(ended):
                    return
            except Exception:
                log.exception("debrief failed", extra={"session_id": ended.session_id})

    async def _notice(
        self, ended: SessionState, record: AgentRecord, expires_at: datetime
    ) -> DebriefNotice:
        expires_in = expires_at - self._clock.now()
        links = []
        for file in record.debrief:  # the store is asked for links only when there are files
            url = await self._agents.transfers.store.download_link(
                ObjectKey(file.key), expires_in, filename=file.name
            )
            links.append(DebriefLink(file.kind, file.name, file.size, url))
        return DebriefNotice(ended, record.pilots, tuple(links), expires_at)


def _deserves_debrief(state: SessionState) -> bool:
    """An ended session whose server became ready (one that never served a game has none)."""
    return (
        state.status is SessionStatus.ENDED
        and state.ready_at is not None
        and state.ended_at is not None
    )
