"""A campaign that carries on: the saved state a mission's persistence scripts (Pretense, DSMC,
MOOSE) leave in a folder, kept per squadron and mission, given to the next session of it.

At a session's end the server zips the squadron's save folder and uploads it with the debrief;
rr checks the zip (`bot.files.saves`), copies it out of ``debriefs/`` (which expires) to the
squadron's content key, and records ``CampaignSaveKept`` on the squadron's ``saves#`` stream.
The next session of that mission is given the current save (the newest, unless a manager
chose an earlier one: ``CampaignSaveChosen``) to unpack into the folder before DCS starts.
"""

import asyncio
import logging
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import ClassVar

from bot.agentapi import ServerDownload, Transfers
from bot.agentapi.events import DebriefFileStored
from bot.domain.actor import Actor
from bot.files.miz.limits import MizLimits
from bot.files.saves import SaveRejected, check_save
from bot.files.store import ObjectKey
from eventstore import ConcurrencyError, EventStore, NewEvent

log = logging.getLogger("rr.saves")

STREAM_PREFIX = "saves#"
MAX_LISTED = 20
"""Saves kept in view per mission, newest first; older ones stay in the store's history."""
SAVE_DOWNLOAD = ".rr-download/campaign-save.zip"
"""Where the agent puts the save's zip before unpacking it (under the write folder)."""


def saves_stream(guild_id: str) -> str:
    return f"{STREAM_PREFIX}{guild_id}"


@dataclass(frozen=True, slots=True, kw_only=True)
class CampaignSaveKept:
    TYPE: ClassVar[str] = "CampaignSaveKept"
    guild_id: str
    mission: str
    session_id: str
    key: str
    size: int
    sha256: str
    saved_at: str
    """ISO 8601, UTC: when the session that wrote it ended."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CampaignSaveChosen:
    """A manager rolled the mission's campaign back to an earlier save."""

    TYPE: ClassVar[str] = "CampaignSaveChosen"
    guild_id: str
    mission: str
    key: str
    chosen_by: str


SaveEvent = CampaignSaveKept | CampaignSaveChosen
_CLASSES: dict[str, type[SaveEvent]] = {c.TYPE: c for c in (CampaignSaveKept, CampaignSaveChosen)}


class SaveRefused(Exception):
    """A choice that cannot be made; ``str()`` is one sentence for the member."""


@dataclass(frozen=True, slots=True)
class MissionSaves:
    """One mission's saves, newest first, and the one the next session gets."""

    saves: tuple[CampaignSaveKept, ...] = ()
    chosen: str | None = None

    @property
    def current(self) -> CampaignSaveKept | None:
        if self.chosen is not None:
            return next((save for save in self.saves if save.key == self.chosen), None)
        return self.saves[0] if self.saves else None


@dataclass(frozen=True, slots=True)
class SquadronSaves:
    version: int = 0
    missions: tuple[tuple[str, MissionSaves], ...] = ()

    def of(self, mission: str) -> MissionSaves:
        return dict(self.missions).get(mission, MissionSaves())


def evolve(state: SquadronSaves, event: SaveEvent) -> SquadronSaves:
    missions = dict(state.missions)
    found = missions.get(event.mission, MissionSaves())
    match event:
        case CampaignSaveKept():
            kept = (event, *(s for s in found.saves if s.key != event.key))[:MAX_LISTED]
            missions[event.mission] = MissionSaves(kept, None)
        case CampaignSaveChosen():
            missions[event.mission] = replace(found, chosen=event.key)
    return replace(state, missions=tuple(missions.items()))


class CampaignSaves:
    def __init__(self, store: EventStore, transfers: Transfers, limits: MizLimits) -> None:
        self._store = store
        self._transfers = transfers
        self._limits = limits

    async def saves(self, guild_id: str, mission: str) -> MissionSaves:
        return (await self._read(guild_id)).of(mission)

    async def keep(
        self, guild_id: str, mission: str, ended_at: datetime, file: DebriefFileStored
    ) -> CampaignSaveKept | None:
        """Keep the save a session's server sent back, once checked; None if refused."""
        objects = self._transfers.store
        data = await objects.get(ObjectKey(file.key))
        try:
            await asyncio.to_thread(check_save, data, self._limits)
        except SaveRejected as error:
            log.warning(
                "a campaign save was not kept",
                extra={"session_id": file.session_id, "problem": str(error)},
            )
            return None
        stored = await objects.put(guild_id, data)
        kept = CampaignSaveKept(
            guild_id=guild_id,
            mission=mission,
            session_id=file.session_id,
            key=stored.key,
            size=stored.size,
            sha256=file.sha256,
            saved_at=ended_at.isoformat(),
        )
        await self._append(guild_id, kept)
        return kept

    async def choose(self, actor: Actor, guild_id: str, mission: str, key: str) -> None:
        """Roll the mission's campaign back to the save at ``key`` (a manager only)."""
        if not (actor.is_manager or actor.is_operator):
            raise SaveRefused("Only the squadron's managers choose which save a mission loads.")
        saves = await self.saves(guild_id, mission)
        if all(save.key != key for save in saves.saves):
            raise SaveRefused(f"{mission} has no such save; choose one /mission saves lists.")
        await self._append(
            guild_id,
            CampaignSaveChosen(
                guild_id=guild_id, mission=mission, key=key, chosen_by=actor.user_id
            ),
        )

    async def download(self, guild_id: str, mission: str, folder: str) -> ServerDownload | None:
        """The current save as a download the agent unpacks into ``folder``; None if none."""
        current = (await self.saves(guild_id, mission)).current
        if current is None:
            return None
        return ServerDownload(
            SAVE_DOWNLOAD, ObjectKey(current.key), current.sha256, current.size, unpack_to=folder
        )

    async def _append(self, guild_id: str, event: SaveEvent) -> None:
        for _ in range(4):
            state = await self._read(guild_id)
            try:
                await self._store.append(
                    saves_stream(guild_id),
                    state.version,
                    [NewEvent(type=event.TYPE, data=asdict(event))],
                )
                return
            except ConcurrencyError:
                continue
        raise ConcurrencyError(saves_stream(guild_id), -1)

    async def _read(self, guild_id: str) -> SquadronSaves:
        state = SquadronSaves()
        async for stored in self._store.read(saves_stream(guild_id)):
            cls = _CLASSES.get(stored.type)
            if cls is not None:
                state = replace(evolve(state, cls(**stored.data)), version=stored.version)
            else:
                state = replace(state, version=stored.version)
        return state
