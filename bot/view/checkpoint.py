"""The view's checkpoint: its state and feed position, saved in the store to start from.

A start loads the latest checkpoint (``ViewCheckpoints.load``) and reads only the feed after
its position; a running feeder saves a new one every so often (``due``). The checkpoint is the
store's named checkpoint ``view`` (chunked on DynamoDB, any size).

The text is JSON, ``{"schema": SCHEMA, ...}``. `SCHEMA` names this code's shape of the view: the
`VERSION` below (bump it whenever the fold changes meaning: an event folded differently, a new
index), the squadron snapshot's schema and a digest of the saved classes' fields, so a field
added to a session's state changes it by itself. A checkpoint of another schema is ignored and
the view is rebuilt from the whole feed, as is one that cannot be read (logged).

Like a squadron snapshot it holds no secret: a squadron's settings are left out and read again
from the event its ``settings_version`` names, opened like any other.
"""

import asyncio
import hashlib
import json
import logging
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from bot.domain import squadron_snapshot
from bot.domain.events import from_stored
from bot.domain.session import SessionState
from bot.domain.squadron import SquadronState, squadron_stream
from bot.view.model import SavedSession, SavedView
from bot.view.schedule import Timeline
from eventstore import EventStore

log = logging.getLogger("rr.view")

CHECKPOINT_NAME = "view"
VERSION = 2
"""This code's meaning of the view's fold; bump it whenever that changes."""

Row = dict[str, Any]
_Convert = Callable[[Any], Any]


@dataclass(frozen=True)
class CheckpointPolicy:
    """Save a checkpoint once ``every_events`` events were applied since the last one, or
    ``every`` passed (on the injected clock) with anything applied at all."""

    every_events: int = 10_000
    every: timedelta = timedelta(minutes=10)


class ViewCheckpoints:
    """Saves and loads the view's checkpoint in ``store``."""

    def __init__(self, store: EventStore, policy: CheckpointPolicy | None = None) -> None:
        self._store = store
        self.policy = policy or CheckpointPolicy()

    async def save(self, saved: SavedView) -> int:
        """Store ``saved`` (encoded off the event loop); returns the checkpoint's version."""
        data = await asyncio.to_thread(encode, saved)
        return await self._store.save_checkpoint(CHECKPOINT_NAME, data)

    async def load(self) -> SavedView | None:
        """The latest checkpoint this code can read, or None (none saved, another schema, or
        unreadable: then the reason is logged)."""
        checkpoint = await self._store.load_checkpoint(CHECKPOINT_NAME)
        if checkpoint is None:
            return None
        try:
            saved = await asyncio.to_thread(decode, checkpoint.data)
            if saved is None:
                log.info("view checkpoint of another schema ignored; rebuilding from the feed")
                return None
            squadrons = [await self._with_settings(state) for state in saved.squadrons]
        except (ValueError, KeyError, TypeError) as error:
            log.error(
                "view checkpoint unreadable, rebuilding from the feed",
                extra={"version": checkpoint.version, "error": f"{type(error).__name__}: {error}"},
            )
            return None
        return replace(saved, squadrons=squadrons)

    async def _with_settings(self, state: SquadronState) -> SquadronState:
        if state.settings_version == 0:
            return state
        stream_id = squadron_stream(state.guild_id)
        after = state.settings_version - 1
        async for stored in self._store.read(stream_id, after_version=after):
            return squadron_snapshot.with_settings(state, from_stored(stored))
        raise ValueError(f"{stream_id} has no version {state.settings_version}")


def encode(saved: SavedView) -> bytes:
    document = {
        "schema": SCHEMA,
        "position": saved.position,
        "versions": list(saved.versions.items()),
        "sessions": [_session_row(session) for session in saved.sessions],
        "squadrons": [squadron_snapshot.to_document(state) for state in saved.squadrons],
        "forgotten": list(saved.forgotten.items()),
        "latest": None if saved.latest is None else saved.latest.isoformat(),
        "counts": [saved.events_applied, saved.duplicates_dropped, saved.events_unreadable],
        "boots": saved.boots,
    }
    return json.dumps(document, separators=(",", ":")).encode()


def decode(data: bytes) -> SavedView | None:
    """The view ``data`` holds (squadrons without their settings), or None when it was written
    by code of another `SCHEMA`; ``ValueError``, ``KeyError`` or ``TypeError`` when it is not a
    checkpoint at all."""
    document = json.loads(data)
    if not isinstance(document, dict):
        raise ValueError("a view checkpoint is a JSON object")
    if document.get("schema") != SCHEMA:
        return None
    applied, duplicates, unreadable = document["counts"]
    latest = document["latest"]
    return SavedView(
        position=document["position"],
        versions={stream: int(version) for stream, version in document["versions"]},
        sessions=[_session(row) for row in document["sessions"]],
        squadrons=[squadron_snapshot.from_document(row) for row in document["squadrons"]],
        forgotten={guild: int(count) for guild, count in document["forgotten"]},
        latest=None if latest is None else datetime.fromisoformat(latest),
        events_applied=applied,
        duplicates_dropped=duplicates,
        events_unreadable=unreadable,
        boots=document["boots"],
    )


# --- rows of dataclasses, converted field by field from their type hints ----------------------


def _time_out(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _time_in(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _plain(hint: Any) -> bool:
    if hint in (str, int, bool, type(None)) or get_origin(hint) is Literal:
        return True
    if get_origin(hint) in (Union, types.UnionType):
        return all(_plain(arg) for arg in get_args(hint))
    return False


def _converters(hint: Any) -> tuple[_Convert, _Convert]:
    """How to write and read back a field of type ``hint``; a type not known here is refused
    when this module is imported, so a new kind of field cannot be saved half-way."""
    if hint in (datetime, datetime | None):
        return _time_out, _time_in
    if hint == frozenset[str]:
        return sorted, frozenset
    if isinstance(hint, type) and issubclass(hint, Enum):
        return (lambda value: value.value), hint
    if hint == Mapping[str, datetime]:
        return (
            lambda times: {key: at.isoformat() for key, at in times.items()},
            lambda times: {key: datetime.fromisoformat(at) for key, at in times.items()},
        )
    if _plain(hint):
        return (lambda value: value), (lambda value: value)
    raise TypeError(f"The view checkpoint cannot save a field of type {hint!r}; teach it how.")


class _RowCodec:
    """One dataclass to a JSON object and back, every field exactly; a row with other fields
    (written by other code) is refused with ``ValueError``."""

    def __init__(self, cls: type) -> None:
        hints = get_type_hints(cls)
        self._cls = cls
        self._fields = {f.name: _converters(hints[f.name]) for f in fields(cls)}
        self.shape = ",".join(f"{name}:{hints[name]}" for name in self._fields)

    def row(self, value: object) -> Row:
        return {name: out(getattr(value, name)) for name, (out, _) in self._fields.items()}

    def value(self, row: Row) -> Any:
        if set(row) != set(self._fields):
            raise ValueError(f"a saved {self._cls.__name__} with fields {sorted(row)}")
        return self._cls(**{name: back(row[name]) for name, (_, back) in self._fields.items()})


_STATE = _RowCodec(SessionState)
_TIMELINE = _RowCodec(Timeline)


def _session_row(session: SavedSession) -> Row:
    return {
        "state": _STATE.row(session.state),
        "timeline": _TIMELINE.row(session.timeline),
        "closed_at": _time_out(session.closed_at),
        "earlier_forgotten": session.earlier_forgotten,
    }


def _session(row: Row) -> SavedSession:
    return SavedSession(
        state=_STATE.value(row["state"]),
        timeline=_TIMELINE.value(row["timeline"]),
        closed_at=_time_in(row["closed_at"]),
        earlier_forgotten=int(row["earlier_forgotten"]),
    )


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


SCHEMA = f"view/{VERSION}+{squadron_snapshot.SCHEMA}+{_digest(_STATE.shape, _TIMELINE.shape)}"
"""This code's view checkpoint: `VERSION`, the squadron snapshot's schema, the saved shapes."""
