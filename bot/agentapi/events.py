"""The agent's stream of a session, ``agent#<session id>``: its credentials, reported states,
the pilots seen, the debrief files stored and the debrief post.

These facts live beside the session's own stream rather than on it, so the session's decider
and the view (which fold ``mission#…`` streams) stay untouched by what servers report; the
view ignores streams of other prefixes. A credential's token is never stored, only its SHA-256.
"""

from dataclasses import asdict, dataclass
from typing import ClassVar

from eventstore import NewEvent, StoredEvent

STREAM_PREFIX = "agent#"


def agent_stream(session_id: str) -> str:
    return f"{STREAM_PREFIX}{session_id}"


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentCredentialIssued:
    """A credential was minted for launch ``attempt``; it replaces any earlier one."""

    TYPE: ClassVar[str] = "AgentCredentialIssued"
    session_id: str
    attempt: int
    token_sha256: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentCredentialRevoked:
    """The credential of ``attempt`` stops working (the session ended, or rr withdrew it)."""

    TYPE: ClassVar[str] = "AgentCredentialRevoked"
    session_id: str
    attempt: int
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerStateReported:
    """The server's DCS state or loaded mission changed, as its agent reported it."""

    TYPE: ClassVar[str] = "ServerStateReported"
    session_id: str
    attempt: int
    state: str
    mission: str
    players: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PilotSeen:
    """A player of this name was first reported in a slot (not a spectator) in this session."""

    TYPE: ClassVar[str] = "PilotSeen"
    session_id: str
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DebriefFileStored:
    """A file the server uploaded at the end is in the object store: rr read it back and found
    the size and SHA-256 the agent reported."""

    TYPE: ClassVar[str] = "DebriefFileStored"
    session_id: str
    attempt: int
    kind: str
    name: str
    key: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DebriefPostRecorded:
    """rr is about to post the session's debrief (the intent, before the send)."""

    TYPE: ClassVar[str] = "DebriefPostRecorded"
    session_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DebriefPostDelivered:
    """The debrief reached the squadron's channel."""

    TYPE: ClassVar[str] = "DebriefPostDelivered"
    session_id: str


AgentEvent = (
    AgentCredentialIssued
    | AgentCredentialRevoked
    | ServerStateReported
    | PilotSeen
    | DebriefFileStored
    | DebriefPostRecorded
    | DebriefPostDelivered
)
_CLASSES: dict[str, type[AgentEvent]] = {
    cls.TYPE: cls
    for cls in (
        AgentCredentialIssued,
        AgentCredentialRevoked,
        ServerStateReported,
        PilotSeen,
        DebriefFileStored,
        DebriefPostRecorded,
        DebriefPostDelivered,
    )
}


def to_new_event(event: AgentEvent) -> NewEvent:
    return NewEvent(type=event.TYPE, data=asdict(event))


def from_stored(stored: StoredEvent) -> AgentEvent:
    """The typed event; ``ValueError`` for a type or shape this code does not know."""
    cls = _CLASSES.get(stored.type)
    if cls is None:
        raise ValueError(f"{stored.stream_id} v{stored.version}: unknown type {stored.type!r}")
    try:
        return cls(**stored.data)
    except TypeError as error:
        raise ValueError(f"{stored.stream_id} v{stored.version}: {error}") from None
