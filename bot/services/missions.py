"""The squadron's mission library: upload, list, describe and remove missions.

An upload is checked in the order that costs least first: who asks, the file's name and the
size Discord states (before a byte is downloaded), then the bytes themselves with the safe
reader (`bot.files.miz`, off the event loop) and the terrain. The bytes go to the object store,
under their SHA-256, before `MissionAdded` is recorded; an upload refused at any step records
nothing, and bytes stored for an upload the squadron's stream then refused are deleted again.
"""

import asyncio
import hashlib
import io
import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass

from bot.domain import library
from bot.domain import squadron as squadrons
from bot.domain.actor import Actor
from bot.domain.errors import Conflict, InvalidRequest, NotAllowed
from bot.domain.library import LibraryMission, MissionFacts
from bot.domain.mission_quota import MissionQuota, quota_refusal
from bot.domain.squadron import SquadronState
from bot.files.miz import MissionSummary, MizLimits, MizRejected, check_terrain, read_mission
from bot.files.store import ObjectKey, ObjectStore
from bot.services.logged import logged
from bot.services.sessions import command_key
from bot.services.streams import Streams, decide_squadron
from eventstore import AlreadyAppended

log = logging.getLogger("rr.missions")

MISSION_SUFFIX = ".miz"
Download = Callable[[], Awaitable[bytes]]
"""Fetches the uploaded file's bytes (from Discord's CDN)."""


@dataclass(frozen=True)
class Library:
    """What a squadron can fly: its uploaded missions by name, and the paths of the missions
    on rr's server image (its ``missions`` setting)."""

    missions: list[LibraryMission]
    on_image: tuple[str, ...]
    quota: MissionQuota

    @property
    def used_bytes(self) -> int:
        return sum(mission.facts.size for mission in self.missions)


class MissionLibrary:
    def __init__(
        self,
        *,
        streams: Streams,
        files: ObjectStore,
        quota: MissionQuota,
        installed_terrains: Collection[str],
    ) -> None:
        self._streams = streams
        self._files = files
        self._quota = quota
        self._terrains = tuple(installed_terrains)

    async def library(self, guild_id: str) -> Library:
        squadron = await self._streams.squadron(guild_id)
        missions = sorted(squadron.missions.values(), key=lambda m: library.name_key(m.name))
        return Library(missions, squadron.settings.missions, self._quota)

    async def mission(self, guild_id: str, name: str) -> LibraryMission:
        """The library mission named ``name`` (any case); `NotFound` otherwise."""
        return library.find((await self._streams.squadron(guild_id)).missions, name)

    async def upload(
        self, actor: Actor, *, filename: str, size: int, download: Download, name: str | None
    ) -> LibraryMission:
        """Keep the uploaded .miz in the library as ``name`` (default: its file name)."""
        guild_id = _guild_of(actor)
        with logged("mission upload", guild_id=guild_id, user_id=actor.user_id) as fields:
            fields["size"] = size
            if not (actor.is_manager or actor.is_operator):
                raise NotAllowed(
                    "Only a squadron manager can add missions to the mission library; ask one."
                )
            if not filename.lower().endswith(MISSION_SUFFIX):
                raise InvalidRequest(
                    f"{filename[:80]!r} is not a .miz file; upload the mission file the DCS "
                    "mission editor saved."
                )
            chosen = library.check_name(name or filename[: -len(MISSION_SUFFIX)])
            squadron = await self._streams.squadron(guild_id)
            self._precheck(squadron, chosen, size)
            data = await download()
            if len(data) != size:
                raise InvalidRequest("The file did not arrive whole; upload it again.")
            facts = await asyncio.to_thread(self._read, data, filename)
            fields["sha256"] = facts.sha256
            command = squadrons.AddMission(actor=actor, name=chosen, facts=facts, quota=self._quota)
            squadrons.decide(command, await self._streams.squadron(guild_id))
            key = (await self._files.put(guild_id, data)).key
            try:
                state, _ = await self._streams.write_squadron(
                    guild_id,
                    lambda current: decide_squadron(command, current),
                    idempotency_key=command_key(actor, "mission-upload"),
                )
            except AlreadyAppended:
                return await self.mission(guild_id, chosen)
            except Exception:
                await self._forget_unkept(guild_id, key, facts.sha256)
                raise
            return library.find(state.missions, chosen)

    async def remove(self, actor: Actor, name: str) -> LibraryMission:
        """Drop a library mission and its bytes; refused while a booked or running session
        of the squadron is to load it."""
        guild_id = _guild_of(actor)
        with logged("mission remove", guild_id=guild_id, user_id=actor.user_id):
            squadron = await self._streams.squadron(guild_id)
            found = library.find(squadron.missions, name)
            for session in await self._streams.view.sessions_for_guild(guild_id):
                if session.is_active and session.mission_sha256 == found.facts.sha256:
                    raise Conflict(
                        f"A server of the squadron is booked or running with {found.name!r}; "
                        "remove it once that server has ended."
                    )
            command = squadrons.RemoveMission(actor=actor, name=name)
            try:
                await self._streams.write_squadron(
                    guild_id,
                    lambda current: decide_squadron(command, current),
                    idempotency_key=command_key(actor, "mission-remove"),
                )
            except AlreadyAppended:
                return found
            await self._delete(ObjectKey.content(guild_id, found.facts.sha256))
            return found

    def _precheck(self, squadron: SquadronState, name: str, size: int) -> None:
        """Refuse before downloading what the size and name alone refuse."""
        library.require_free_name(squadron.missions, squadron.settings.missions, name)
        refusal = quota_refusal(self._quota, library.usage(squadron.missions), size)
        if refusal is not None:
            raise InvalidRequest(refusal)

    def _read(self, data: bytes, filename: str) -> MissionFacts:
        """The reader's summary of ``data`` (in a worker thread: parsing takes a while)."""
        try:
            summary = read_mission(
                io.BytesIO(data), MizLimits(max_file_bytes=self._quota.max_file_bytes)
            )
            check_terrain(summary, self._terrains)
        except MizRejected as error:
            raise InvalidRequest(str(error)) from None
        return _facts(summary, data, filename)

    async def _forget_unkept(self, guild_id: str, key: ObjectKey, sha256: str) -> None:
        """Delete bytes stored for an upload that was not recorded, unless the library holds
        them after all (another process recorded the same content meanwhile)."""
        squadron = await self._streams.squadron(guild_id)
        if not any(m.facts.sha256 == sha256 for m in squadron.missions.values()):
            await self._delete(key)

    async def _delete(self, key: ObjectKey) -> None:
        """Delete bytes nothing refers to any more; a failure leaves them, and is logged."""
        try:
            await self._files.delete(key)
        except Exception:
            log.exception("could not delete a mission's bytes key=%s", key)


def _facts(summary: MissionSummary, data: bytes, filename: str) -> MissionFacts:
    return MissionFacts(
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        filename=filename,
        terrain=summary.terrain,
        sortie=summary.sortie,
        mission_start=summary.starts_at.isoformat(),
        required_modules=tuple(summary.required_modules),
        client_slots={side: slots.total for side, slots in summary.client_slots.items()},
        desanitized_scripting=summary.desanitized_scripting.likely_needed,
    )


def _guild_of(actor: Actor) -> str:
    if actor.guild_id is None:
        raise InvalidRequest("Use the mission library from inside your squadron's Discord server.")
    return actor.guild_id
