"""Files a server moves through the object store itself, by short-lived links rr makes.

At boot the agent downloads each of the launch's downloads (the session's mission, a campaign
save) by a link in the files reply. At the end rr asks for the debrief with an ``upload``
instruction: per kind of file a glob under the write folder and upload forms for keys under
``debriefs/<squadron>/<session>/``. The agent reports what it stored in its next heartbeat,
and rr records a file only once it has read the object back and found that size and SHA-256.
"""

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from bot.agentapi.credentials import Grant
from bot.agentapi.events import DebriefFileStored
from bot.agentapi.instructions import InstructionQueue
from bot.agentapi.ledger import AgentLedger
from bot.agentapi.schemas import (
    DebriefKind,
    Download,
    Instruction,
    Uploaded,
    UploadForm,
    UploadTarget,
)
from bot.files.limits import SERVER_LINK_LIFETIME
from bot.files.store import InvalidKey, ObjectKey, ObjectStore
from bot.files.store.base import check_filename

log = logging.getLogger("rr.agentapi")

_DEBRIEF_KEY = re.compile(
    r"debriefs/[0-9]{1,20}/(?P<session>[A-Za-z0-9_-]{1,64})/(?P<kind>[a-z]+)-[0-9]{1,2}"
)


@dataclass(frozen=True)
class ServerDownload:
    """A stored object the server writes at ``path`` under its write folder before DCS starts."""

    path: str
    key: ObjectKey
    sha256: str
    size: int
    unpack_to: str | None = None
    """A folder under the write folder to unpack this zip into (a campaign save)."""


@dataclass(frozen=True)
class DebriefTarget:
    """What to ask back of one kind: the newest ``count`` files matching ``pattern``."""

    kind: DebriefKind
    pattern: str
    count: int = 1


DEBRIEF_TARGETS = (
    DebriefTarget("tacview", "Tracks/Tacview/*.acmi", 4),
    DebriefTarget("track", "Tracks/*.trk", 2),
    DebriefTarget("log", "Logs/dcs.log"),
)
"""Asked of every server at its end; a campaign save is added when the squadron keeps one."""


class SessionDownloads(Protocol):
    async def downloads_for(self, session_id: str, attempt: int) -> Sequence[ServerDownload]:
        """What launch ``attempt`` of the session downloads at boot (none: empty)."""
        ...


class LaunchDownloads:
    """Downloads put in memory per launch: a `SessionDownloads` for tests and the API alone."""

    def __init__(self) -> None:
        self._downloads: dict[str, tuple[int, tuple[ServerDownload, ...]]] = {}

    def put(self, session_id: str, attempt: int, downloads: Sequence[ServerDownload]) -> None:
        self._downloads[session_id] = (attempt, tuple(downloads))

    async def downloads_for(self, session_id: str, attempt: int) -> Sequence[ServerDownload]:
        found = self._downloads.get(session_id)
        return () if found is None or found[0] != attempt else found[1]


class NoObjectStore(RuntimeError):
    """Links were asked for before the app attached its object store."""


class Transfers:
    def __init__(
        self,
        ledger: AgentLedger,
        instructions: InstructionQueue,
        *,
        lifetime: timedelta = SERVER_LINK_LIFETIME,
    ) -> None:
        self.ledger = ledger
        """The agent streams, where debrief files, pilots and the debrief post are facts."""
        self._instructions = instructions
        self._lifetime = lifetime
        self._store: ObjectStore | None = None
        self.downloads: SessionDownloads = LaunchDownloads()
        """What each launch downloads; the services replace it with theirs."""

    def attach(self, store: ObjectStore) -> None:
        """The object store the links point into (the app opens it after building rr)."""
        self._store = store

    @property
    def store(self) -> ObjectStore:
        if self._store is None:
            raise NoObjectStore("rr's object store is not attached to the agent API.")
        return self._store

    # --- at boot ----------------------------------------------------------------------------

    async def downloads_for(self, grant: Grant) -> list[Download]:
        """Fresh links for the launch's downloads (none if the launch has none)."""
        found = await self.downloads.downloads_for(grant.session_id, grant.attempt)
        return [
            Download(
                path=item.path,
                url=await self.store.download_link(item.key, self._lifetime),
                sha256=item.sha256,
                size=item.size,
                unpack_to=item.unpack_to,
            )
            for item in found
        ]

    # --- at the end -------------------------------------------------------------------------

    async def request_debrief(
        self,
        session_id: str,
        squadron_id: str,
        max_bytes: int,
        targets: Sequence[DebriefTarget] = DEBRIEF_TARGETS,
    ) -> Instruction:
        """Post an ``upload`` instruction with fresh upload forms for ``targets``; the
        instruction is acknowledged once the agent has tried them all."""
        uploads = []
        for target in targets:
            forms = []
            for number in range(1, target.count + 1):
                key = ObjectKey.debrief(squadron_id, session_id, f"{target.kind}-{number}")
                link = await self.store.upload_link(key, max_bytes, self._lifetime)
                forms.append(UploadForm(key=key, url=link.url, fields=dict(link.fields)))
            uploads.append(
                UploadTarget(
                    kind=target.kind, pattern=target.pattern, max_bytes=max_bytes, links=forms
                )
            )
        return self._instructions.post_uploads(session_id, uploads)

    def debrief_sent(self, session_id: str, instruction_id: str) -> bool:
        """Whether the agent reported the upload instruction carried out."""
        return all(item.id != instruction_id for item in self._instructions.pending(session_id))

    async def accept_uploaded(self, grant: Grant, uploaded: Sequence[Uploaded]) -> None:
        """Record each reported file that is really in the store with that size and SHA-256;
        the others are logged and left out."""
        recorded = {item.key for item in (await self.ledger.record(grant.session_id)).debrief}
        for item in uploaded:
            if item.key in recorded:
                continue
            problem = await self._problem(grant.session_id, item)
            if problem is not None:
                log.warning(
                    "a reported debrief file is not recorded",
                    extra={"session_id": grant.session_id, "key": item.key, "problem": problem},
                )
                continue
            stored = DebriefFileStored(
                session_id=grant.session_id,
                attempt=grant.attempt,
                kind=item.kind,
                name=item.name,
                key=item.key,
                size=item.size,
                sha256=item.sha256,
            )
            await self.ledger.append(grant.session_id, stored)
            recorded.add(item.key)

    async def debrief_files(self, session_id: str) -> tuple[DebriefFileStored, ...]:
        return (await self.ledger.record(session_id)).debrief

    async def _problem(self, session_id: str, item: Uploaded) -> str | None:
        matched = _DEBRIEF_KEY.fullmatch(item.key)
        if matched is None or matched["session"] != session_id or matched["kind"] != item.kind:
            return "not a debrief key of this session and kind"
        try:
            check_filename(item.name)
            key = ObjectKey(item.key)
        except (ValueError, InvalidKey) as error:
            return str(error)
        info = await self.store.head(key)
        if info is None:
            return "no such object"
        if info.size != item.size:
            return f"the object has {info.size} bytes, not {item.size}"
        if await self.store.sha256(key) != item.sha256:
            return "the object's SHA-256 differs"
        return None
