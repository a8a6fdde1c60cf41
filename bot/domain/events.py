"""Every domain event: a frozen dataclass per type, its JSON form, and reading it back.

`to_new_event` turns an event into the store's `NewEvent` (data as JSON, `schema_version` =
the class's `VERSION`); `from_stored` turns a `StoredEvent` back into the typed event, running
upcasters for old schema versions first. Reading is cheap — a type check per field, times parsed
with `datetime.fromisoformat` — because the view folds every event at start-up.

Times are aware UTC datetimes here and ISO-8601 text ("2026-11-28T20:00:00+00:00") in the data.

Changing an event's shape means bumping its `VERSION` and registering an upcaster from the old
version in `UPCASTERS`; renaming a type means keeping its old name in `RENAMED_TYPES`. One
exception: a settings snapshot in `SquadronSettingsChanged` that lacks settings added since it
was written reads them as their defaults; renaming, removing or retyping a setting still needs
an upcaster.
"""

import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from functools import cache
from typing import Any, ClassVar, Literal, Union, get_args, get_origin, get_type_hints

from bot.domain.settings import SettingsError, SquadronSettings
from bot.domain.upcasting import EventData, EventSchemaError, Upcasters
from eventstore.events import NewEvent, StoredEvent

__all__ = [
    "EVENT_CLASSES",
    "RENAMED_TYPES",
    "TERMINATION_REASONS",
    "UPCASTERS",
    "CreditsGranted",
    "CreditsPurchased",
    "CreditsRefunded",
    "CreditsReserved",
    "DomainEvent",
    "EventSchemaError",
    "GracefulEndStarted",
    "IdleCause",
    "IdleStopPostponed",
    "IdleStopWarned",
    "IdleStopWithdrawn",
    "InstanceLaunchFailed",
    "InstanceLaunchRequested",
    "InstanceLaunched",
    "InstanceReady",
    "MissionAdded",
    "MissionRemoved",
    "NoticeDelivered",
    "PaidRequestSettled",
    "PurchaseClosed",
    "PurchaseStarted",
    "ReminderSent",
    "ReservationReduced",
    "ReservationReleased",
    "SessionBooked",
    "SessionCancelled",
    "SessionCharged",
    "SessionEnded",
    "SessionExtended",
    "SquadronSettingsChanged",
    "TerminationReason",
    "TerminationRequested",
    "current_type",
    "decode",
    "from_stored",
    "to_data",
    "to_new_event",
]

TerminationReason = Literal[
    "stopped_by_user",
    "booked_time_over",
    "out_of_credit",
    "admin",
    "instance_lost",
    "launch_failed",
    "not_ready",
    "cancelled",
    "idle",
]
TERMINATION_REASONS: frozenset[str] = frozenset(get_args(TerminationReason))


@dataclass(frozen=True, slots=True)
class DomainEvent:
    """Base of every event; `TYPE` is the stored type name, `VERSION` its data's schema version."""

    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1


# --- squadron stream: squadron#<guild_id> -------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SquadronSettingsChanged(DomainEvent):
    """The whole new settings, and which catalogue keys changed. ``secrets_forgotten``: the
    squadron's key was deleted, so its secrets are blank and must be set again (it stays true
    until one is).

    From version 3 the store holds the secret settings sealed with the squadron's key
    (``bot.secrets``), which opens them before this codec reads the event; version 2 and
    older events hold them in plain text.
    """

    TYPE: ClassVar[str] = "SquadronSettingsChanged"
    VERSION: ClassVar[int] = 3
    settings: SquadronSettings
    changed: tuple[str, ...]
    secrets_forgotten: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class PurchaseStarted(DomainEvent):
    """A checkout session was opened; `intent` says what to do once it is paid, if anything."""

    TYPE: ClassVar[str] = "PurchaseStarted"
    purchase_id: str
    amount_cents: int
    buyer_id: str
    checkout_session_id: str
    intent: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CreditsPurchased(DomainEvent):
    TYPE: ClassVar[str] = "CreditsPurchased"
    purchase_id: str
    amount_cents: int
    buyer_id: str
    checkout_session_id: str
    payment_event_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PurchaseClosed(DomainEvent):
    """A checkout session ended unpaid."""

    TYPE: ClassVar[str] = "PurchaseClosed"
    purchase_id: str
    reason: Literal["expired", "payment_failed"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PaidRequestSettled(DomainEvent):
    """How the start or booking a credited purchase paid for ended: ``carried_out`` (booked as
    ``session_id``) or ``refused`` (``message`` says why, as the buyer was told). Written with
    the booking itself, so a paid request without one is still to be carried out."""

    TYPE: ClassVar[str] = "PaidRequestSettled"
    VERSION: ClassVar[int] = 2
    purchase_id: str
    outcome: Literal["carried_out", "refused"]
    session_id: str | None
    message: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CreditsGranted(DomainEvent):
    TYPE: ClassVar[str] = "CreditsGranted"
    amount_cents: int
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CreditsRefunded(DomainEvent):
    """Credit taken back: `amount_cents` left the balance; `shortfall_cents` of a Stripe refund
    could not be taken back because it had already been spent."""

    TYPE: ClassVar[str] = "CreditsRefunded"
    amount_cents: int
    reason: str
    purchase_id: str | None
    shortfall_cents: int
    source: Literal["admin", "stripe"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CreditsReserved(DomainEvent):
    TYPE: ClassVar[str] = "CreditsReserved"
    VERSION: ClassVar[int] = 2
    session_id: str
    amount_cents: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ReservationReduced(DomainEvent):
    """A refund cut into credit reserved for a session."""

    TYPE: ClassVar[str] = "ReservationReduced"
    VERSION: ClassVar[int] = 2
    session_id: str
    amount_cents: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ReservationReleased(DomainEvent):
    """The session's whole reservation went back to available credit (cancelled, launch failed)."""

    TYPE: ClassVar[str] = "ReservationReleased"
    VERSION: ClassVar[int] = 2
    session_id: str
    amount_cents: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionCharged(DomainEvent):
    """The minutes a session ran were billed; its whole reservation is released with it."""

    TYPE: ClassVar[str] = "SessionCharged"
    VERSION: ClassVar[int] = 2
    session_id: str
    minutes: int
    amount_cents: int


@dataclass(frozen=True, slots=True, kw_only=True)
class MissionAdded(DomainEvent):
    """A mission joined the squadron's library (`bot.domain.library`); its bytes were stored
    under its SHA-256 before this was recorded. The rest is what rr read from the file."""

    TYPE: ClassVar[str] = "MissionAdded"
    name: str
    sha256: str
    size: int
    filename: str
    terrain: str
    sortie: str
    mission_start: str
    required_modules: tuple[str, ...]
    client_slots: Mapping[str, int]
    desanitized_scripting: bool
    uploaded_by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MissionRemoved(DomainEvent):
    TYPE: ClassVar[str] = "MissionRemoved"
    name: str
    sha256: str


# --- session stream: mission#<session_id> (the prefix as stored) ----------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionBooked(DomainEvent):
    """``mission_name`` is the mission chosen (None: the squadron's list from its settings):
    a library mission's name, with its content's ``mission_sha256`` and object store
    ``mission_key`` (from version 3), or a path on rr's server image, with both None."""

    TYPE: ClassVar[str] = "SessionBooked"
    VERSION: ClassVar[int] = 3
    session_id: str
    guild_id: str
    booked_by: str
    size: str
    region: str
    start_at: datetime
    duration_minutes: int
    rate_cents_per_hour: int
    immediate: bool
    mission_name: str | None
    mission_sha256: str | None = None
    mission_key: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionCancelled(DomainEvent):
    """`reason` is "cancelled" (by the member or a manager) or "admin" (by an operator)."""

    TYPE: ClassVar[str] = "SessionCancelled"
    reason: TerminationReason


@dataclass(frozen=True, slots=True, kw_only=True)
class ReminderSent(DomainEvent):
    TYPE: ClassVar[str] = "ReminderSent"
    key: str


@dataclass(frozen=True, slots=True, kw_only=True)
class NoticeDelivered(DomainEvent):
    """The notice recorded as `key` (a reminder's key, or "ready" for `InstanceReady`) reached
    Discord; until then the scheduler sends it again."""

    TYPE: ClassVar[str] = "NoticeDelivered"
    key: str


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceLaunchRequested(DomainEvent):
    TYPE: ClassVar[str] = "InstanceLaunchRequested"
    attempt: int
    client_token: str
    size: str
    region: str
    login_ref: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceLaunched(DomainEvent):
    TYPE: ClassVar[str] = "InstanceLaunched"
    attempt: int
    instance_id: str
    provider: str
    launched_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceLaunchFailed(DomainEvent):
    TYPE: ClassVar[str] = "InstanceLaunchFailed"
    attempt: int
    reason: str
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceReady(DomainEvent):
    TYPE: ClassVar[str] = "InstanceReady"
    address: str
    port: int
    ready_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionExtended(DomainEvent):
    TYPE: ClassVar[str] = "SessionExtended"
    added_minutes: int
    end_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class TerminationRequested(DomainEvent):
    """A stop was asked for; ``stop_at`` is when the session stopped for billing (the request
    itself, when the credit ran out, or when a lost server was last known running). None only
    in requests written at version 1, which the session stream dates by when they were
    recorded."""

    TYPE: ClassVar[str] = "TerminationRequested"
    VERSION: ClassVar[int] = 2
    reason: TerminationReason
    stop_at: datetime | None


IdleCause = Literal["unjoined", "empty"]
"""Why a server counts as idle: nobody joined since it was ready, or the last pilot left."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IdleStopWarned(DomainEvent):
    """Nobody has been on the server since ``idle_since``; the squadron was warned that it stops
    at ``stop_at`` unless a pilot joins or a member keeps it running."""

    TYPE: ClassVar[str] = "IdleStopWarned"
    cause: IdleCause
    idle_since: datetime
    stop_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class IdleStopPostponed(DomainEvent):
    """A member pressed Keep running: no idle stop, nor warning, before ``until``."""

    TYPE: ClassVar[str] = "IdleStopPostponed"
    until: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class IdleStopWithdrawn(DomainEvent):
    """The idle warning no longer holds: a pilot joined, or the warning never reached Discord
    (then it is given again)."""

    TYPE: ClassVar[str] = "IdleStopWithdrawn"
    reason: Literal["pilot_joined", "undelivered"]


@dataclass(frozen=True, slots=True, kw_only=True)
class GracefulEndStarted(DomainEvent):
    """After the termination request (billing stopped there), rr asked the server's agent to
    end the mission cleanly, so that DCS writes its Tacview, track and save files; the server
    is terminated once it has, or at ``until`` at the latest."""

    TYPE: ClassVar[str] = "GracefulEndStarted"
    until: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionEnded(DomainEvent):
    TYPE: ClassVar[str] = "SessionEnded"
    reason: TerminationReason
    ended_at: datetime
    billed_minutes: int
    amount_cents: int
    instance_id: str | None


EVENT_CLASSES: tuple[type[DomainEvent], ...] = (
    SquadronSettingsChanged,
    PurchaseStarted,
    CreditsPurchased,
    PurchaseClosed,
    PaidRequestSettled,
    CreditsGranted,
    CreditsRefunded,
    CreditsReserved,
    ReservationReduced,
    ReservationReleased,
    SessionCharged,
    MissionAdded,
    MissionRemoved,
    SessionBooked,
    SessionCancelled,
    ReminderSent,
    NoticeDelivered,
    InstanceLaunchRequested,
    InstanceLaunched,
    InstanceLaunchFailed,
    InstanceReady,
    SessionExtended,
    IdleStopWarned,
    IdleStopPostponed,
    IdleStopWithdrawn,
    TerminationRequested,
    GracefulEndStarted,
    SessionEnded,
)
"""Every event class this code reads and writes."""


# --- upcasters ----------------------------------------------------------------------------------

RENAMED_TYPES: Mapping[str, str] = {
    "MissionBooked": "SessionBooked",
    "MissionCancelled": "SessionCancelled",
    "MissionCharged": "SessionCharged",
    "MissionEnded": "SessionEnded",
    "MissionExtended": "SessionExtended",
}
"""Stored type names of events written when a session was called a mission, by their type now
(frozen: events stored under these names exist)."""


def current_type(stored_type: str) -> str:
    """The type name this code reads an event stored as ``stored_type`` as."""
    return RENAMED_TYPES.get(stored_type, stored_type)


UPCASTERS = Upcasters()

_SETTINGS_V1_FLAGS: tuple[str, ...] = (
    "is_public",
    "loop_missions",
    "shuffle_missions",
    "require_pure_clients",
    "require_pure_models",
    "require_pure_textures",
    "require_pure_scripts",
    "advanced.allow_change_tailno",
    "advanced.allow_change_skin",
    "advanced.allow_dynamic_radio",
    "advanced.allow_ownship_export",
    "advanced.allow_object_export",
    "advanced.allow_sensor_export",
    "advanced.allow_players_pool",
    "advanced.allow_trial_only_clients",
    "advanced.disable_events",
    "advanced.event_connect",
    "advanced.event_crash",
    "advanced.event_ejecting",
    "advanced.event_kill",
    "advanced.event_role",
    "advanced.event_takeoff",
    "advanced.server_can_screenshot",
    "advanced.voice_chat_server",
    "lotatc.enabled",
    "srs.enabled",
    "srs.eam_enabled",
    "srs.coalition_audio_security",
    "srs.spectators_audio_disabled",
    "srs.los_enabled",
    "srs.distance_enabled",
    "srs.irl_radio_tx",
    "srs.irl_radio_rx_interference",
    "srs.radio_expansion",
    "srs.allow_radio_encryption",
    "srs.show_transmitter_name",
    "tacview.enabled",
    "tacview.recording",
    "tacview.telemetry_enabled",
    "tacview.remote_control_enabled",
)
"""The settings that were booleans when SquadronSettingsChanged was at version 1 (frozen)."""

_V1_BOOLEANS = {"true": True, "false": False}


@UPCASTERS.register("SquadronSettingsChanged", 1)
def _settings_v1_flags_to_booleans(data: EventData) -> EventData:
    """Version 1 stored every boolean setting as the string "true" or "false"."""
    settings = {
        key: dict(value) if isinstance(value, Mapping) else value
        for key, value in data["settings"].items()
    }
    for key in _SETTINGS_V1_FLAGS:
        group, _, name = key.rpartition(".")
        holder = settings.get(group) if group else settings
        if isinstance(holder, dict) and holder.get(name) in _V1_BOOLEANS:
            holder[name] = _V1_BOOLEANS[holder[name]]
    return {**data, "settings": settings}


@UPCASTERS.register("SquadronSettingsChanged", 2)
def _settings_v2_secrets_in_plain_text(data: EventData) -> EventData:
    """Version 2 held the secret settings in plain text, readable by anyone: none forgotten."""
    return {**data, "secrets_forgotten": False}


@UPCASTERS.register("TerminationRequested", 1)
def _termination_v1_has_no_stop_time(data: EventData) -> EventData:
    """Version 1 did not record when the session stopped."""
    return {**data, "stop_at": None}


@UPCASTERS.register("SessionBooked", 2)
def _booking_v2_missions_were_on_the_image(data: EventData) -> EventData:
    """Before version 3 a session's mission was a path on the image, never a library one."""
    return {**data, "mission_sha256": None, "mission_key": None}


def _v1_mission_id_is_the_session_id(data: EventData) -> EventData:
    """Version 1 named the session's id ``mission_id``, from when a session was a mission."""
    renamed = {key: value for key, value in data.items() if key != "mission_id"}
    return {**renamed, "session_id": data["mission_id"]}


for _type in (
    "PaidRequestSettled",
    "CreditsReserved",
    "ReservationReduced",
    "ReservationReleased",
    "SessionCharged",
    "SessionBooked",
):
    UPCASTERS.register(_type, 1)(_v1_mission_id_is_the_session_id)


# --- JSON codec ---------------------------------------------------------------------------------


def _format_time(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError(f"Event times must be timezone-aware, got {value!r}.")
    return value.astimezone(UTC).isoformat()


def _parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset")
    return value


@cache
def _default_settings_data() -> dict[str, Any]:
    return SquadronSettings().to_data()


def _with_defaults(defaults: Mapping[str, Any], stored: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(defaults)
    for key, value in stored.items():
        default = defaults.get(key)
        if isinstance(default, Mapping) and isinstance(value, Mapping):
            value = _with_defaults(default, value)
        merged[key] = value
    return merged


def _settings_from_data(data: Mapping[str, Any]) -> SquadronSettings:
    """Settings added since an event was written take their defaults; anything else must fit."""
    try:
        return SquadronSettings.from_data(_with_defaults(_default_settings_data(), data))
    except SettingsError as error:
        raise ValueError(str(error)) from None


Codec = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class _FieldCodec:
    name: str
    json_types: tuple[type, ...]
    decode: Codec | None
    encode: Codec | None


def _optional(codec: Codec | None) -> Codec | None:
    if codec is None:
        return None
    return lambda value: None if value is None else codec(value)


def _codec_for(name: str, annotation: Any) -> _FieldCodec:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        members = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(members) != 1:
            raise TypeError(f"{name}: only `X | None` unions are supported")
        inner = _codec_for(name, members[0])
        json_types = (*inner.json_types, type(None))
        return _FieldCodec(name, json_types, _optional(inner.decode), _optional(inner.encode))
    if annotation is datetime:
        return _FieldCodec(name, (str,), _parse_time, _format_time)
    if annotation is SquadronSettings:
        return _FieldCodec(name, (dict,), _settings_from_data, SquadronSettings.to_data)
    if origin is tuple:
        return _FieldCodec(name, (list,), tuple, list)
    if origin is Literal:
        return _FieldCodec(name, (str,), None, None)
    if origin is Mapping:
        return _FieldCodec(name, (dict,), None, dict)
    if annotation in (str, int, bool):
        return _FieldCodec(name, (annotation,), None, None)
    raise TypeError(f"{name}: no JSON codec for {annotation!r}")


def _codecs(cls: type[DomainEvent]) -> tuple[_FieldCodec, ...]:
    hints = get_type_hints(cls)
    return tuple(_codec_for(item.name, hints[item.name]) for item in fields(cls))


_CLASSES_BY_TYPE: dict[str, type[DomainEvent]] = {cls.TYPE: cls for cls in EVENT_CLASSES}
_CODECS: dict[type[DomainEvent], tuple[_FieldCodec, ...]] = {
    cls: _codecs(cls) for cls in EVENT_CLASSES
}


def to_data(event: DomainEvent) -> dict[str, Any]:
    """The event's JSON data at its current schema version."""
    data: dict[str, Any] = {}
    for codec in _CODECS[type(event)]:
        value = getattr(event, codec.name)
        data[codec.name] = value if codec.encode is None else codec.encode(value)
    return data


def to_new_event(event: DomainEvent, metadata: Mapping[str, Any]) -> NewEvent:
    """The `NewEvent` to append for `event`, stamped with its class's schema version."""
    return NewEvent(
        type=event.TYPE,
        data=to_data(event),
        metadata=dict(metadata),
        schema_version=event.VERSION,
    )


def from_stored(stored: StoredEvent) -> DomainEvent:
    """The typed event, upcast to the current schema; `EventSchemaError` if it cannot be read.
    An event stored under a type's old name reads as the type it is now."""
    event_type = current_type(stored.type)
    cls = _CLASSES_BY_TYPE.get(event_type)
    if cls is None:
        raise EventSchemaError(
            f"{stored.stream_id} v{stored.version} has event type {stored.type!r}, "
            "which this code does not know; run a newer rr."
        )
    data = UPCASTERS.upcast(event_type, stored.schema_version, cls.VERSION, stored.data)
    return decode(cls, data, where=f"{stored.stream_id} v{stored.version}")


def decode(cls: type[DomainEvent], data: EventData, *, where: str = "event") -> DomainEvent:
    """Build `cls` from data at its current schema version, checking each field's JSON type."""
    codecs = _CODECS[cls]
    if len(data) != len(codecs):
        expected = sorted(codec.name for codec in codecs)
        raise EventSchemaError(
            f"{where} ({cls.TYPE}) has fields {sorted(data)}, expected {expected}."
        )
    values: dict[str, Any] = {}
    for codec in codecs:
        try:
            raw = data[codec.name]
        except KeyError:
            raise EventSchemaError(f"{where} ({cls.TYPE}) lacks the field {codec.name}.") from None
        if type(raw) not in codec.json_types:
            raise EventSchemaError(
                f"{where} ({cls.TYPE}) field {codec.name} is {type(raw).__name__}, "
                f"expected {' or '.join(t.__name__ for t in codec.json_types)}."
            )
        if codec.decode is None:
            values[codec.name] = raw
            continue
        try:
            values[codec.name] = codec.decode(raw)
        except ValueError as error:
            raise EventSchemaError(
                f"{where} ({cls.TYPE}) field {codec.name} cannot be read: {error}"
            ) from None
    return cls(**values)
