"""The agent API's messages, version 1: strict shapes, bounded sizes, unknown fields refused."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

DcsState = Literal["starting", "loading", "running", "stopped", "unresponsive"]
"""``starting``: the hook has not reported yet; ``unresponsive``: it stopped reporting."""
InstructionKind = Literal["chat", "end_mission", "upload"]
DebriefKind = Literal["tacview", "track", "log", "save"]
"""What a server sends back at the end: Tacview recordings, the DCS track, ``dcs.log``, and the
mission's saved state (a folder, sent as one zip)."""

MAX_PLAYERS = 256
MAX_ACKS = 64
MAX_UPLOADED = 16
MAX_LINKS = 8
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
_PART = r"[A-Za-z0-9_*][A-Za-z0-9 ._*-]*"
RelativePath = Annotated[str, StringConstraints(pattern=rf"^{_PART}(/{_PART})*$", max_length=200)]
"""A path or glob under the write folder: no absolute path, no ``..``, no backslash."""
StoreKey = Annotated[str, StringConstraints(max_length=512)]
Text = Annotated[str, StringConstraints(max_length=200)]
InstructionId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class Player(_Strict):
    id: Annotated[int, Field(ge=2, le=2**31)]
    name: Text
    side: Annotated[int, Field(ge=0, le=2)]
    """0 spectators, 1 red, 2 blue (DCS's numbering)."""
    slot: Annotated[str, StringConstraints(max_length=64)]


class Uploaded(_Strict):
    """One file the agent stored through an upload link: rr checks the store before believing."""

    kind: DebriefKind
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    """The file's name on the server (a save: the folder's name plus ``.zip``)."""
    size: Annotated[int, Field(ge=0, le=2**53)]
    sha256: Sha256
    key: StoreKey


class Heartbeat(_Strict):
    """What the agent reports every few seconds; ``seq`` grows by at least one each time."""

    seq: Annotated[int, Field(ge=1, le=2**53)]
    state: DcsState
    mission: Text
    players: Annotated[list[Player], Field(max_length=MAX_PLAYERS)]
    acked: Annotated[list[InstructionId], Field(max_length=MAX_ACKS)]
    """Instructions the hook (or the agent itself, for uploads) carried out; rr stops handing
    them out."""
    uploaded: Annotated[list[Uploaded], Field(max_length=MAX_UPLOADED)] = []
    """Debrief files stored through rr's upload links since the last accepted heartbeat."""


class UploadForm(_Strict):
    """POST ``fields`` then the file (as ``file``) to ``url`` as multipart/form-data."""

    key: StoreKey
    url: str
    fields: dict[str, str]


class UploadTarget(_Strict):
    """Upload the newest files matching ``pattern`` (a glob under the write folder), one per
    link; for ``save``, ``pattern`` is a folder and its files go as one zip."""

    kind: DebriefKind
    pattern: RelativePath
    max_bytes: Annotated[int, Field(ge=1)]
    links: Annotated[list[UploadForm], Field(min_length=1, max_length=MAX_LINKS)]


class Instruction(_Strict):
    id: InstructionId
    kind: InstructionKind
    text: Annotated[str, StringConstraints(max_length=500)] | None = None
    uploads: list[UploadTarget] | None = None


class HeartbeatReply(_Strict):
    instructions: list[Instruction]
    interval_seconds: float


class ServerFile(_Strict):
    path: str
    content_base64: str
    sha256: str


class Download(_Strict):
    """A file the agent fetches itself (a mission): GET ``url`` (short-lived), check ``size``
    and ``sha256``, write it at ``path`` under the write folder."""

    path: str
    url: str
    sha256: str
    size: int
    unpack_to: str | None = None
    """A zip (a campaign save) to unpack into this folder, replacing its files, once checked."""


class FilesReply(_Strict):
    session_id: str
    attempt: int
    files: list[ServerFile]
    downloads: list[Download]
    last_seq: int
    """The last heartbeat rr accepted from this launch, so a restarted agent carries on after it."""
    interval_seconds: float


class ErrorReply(_Strict):
    error: str
    message: str
    last_seq: int | None = None
