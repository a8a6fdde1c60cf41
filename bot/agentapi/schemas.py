"""The agent API's messages, version 1: strict shapes, bounded sizes, unknown fields refused."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

DcsState = Literal["starting", "loading", "running", "stopped", "unresponsive"]
"""``starting``: the hook has not reported yet; ``unresponsive``: it stopped reporting."""
InstructionKind = Literal["chat", "end_mission"]

MAX_PLAYERS = 256
MAX_ACKS = 64
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


class Heartbeat(_Strict):
    """What the agent reports every few seconds; ``seq`` grows by at least one each time."""

    seq: Annotated[int, Field(ge=1, le=2**53)]
    state: DcsState
    mission: Text
    players: Annotated[list[Player], Field(max_length=MAX_PLAYERS)]
    acked: Annotated[list[InstructionId], Field(max_length=MAX_ACKS)]
    """Instructions the hook carried out; rr stops handing them out."""


class Instruction(_Strict):
    id: InstructionId
    kind: InstructionKind
    text: Annotated[str, StringConstraints(max_length=500)] | None = None


class HeartbeatReply(_Strict):
    instructions: list[Instruction]
    interval_seconds: float


class ServerFile(_Strict):
    path: str
    content_base64: str
    sha256: str


class FilesReply(_Strict):
    session_id: str
    attempt: int
    files: list[ServerFile]
    last_seq: int
    """The last heartbeat rr accepted from this launch, so a restarted agent carries on after it."""
    interval_seconds: float


class ErrorReply(_Strict):
    error: str
    message: str
    last_seq: int | None = None
