"""A squadron's settings: typed, immutable values and the catalogue of the keys admins may set.

Each rule is written once, on the field it governs. The catalogue, the strict JSON round trip
(`to_data` / `from_data`), `apply_changes` and `parse_setting` are all derived from those rules,
so the Discord cog, the sandbox and the DCS renderer agree on what is allowed. Every
`SettingsError` message is one plain sentence meant to be shown to the user as it is.
"""

from __future__ import annotations

import re
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from functools import cache
from operator import attrgetter
from typing import Any, ClassVar, TypeAlias, TypeVar
from zoneinfo import available_timezones

JsonValue: TypeAlias = bool | int | str | list[str] | None

WEBGUI_PORT = 8088
"""TCP port of the DCS WebGUI listener, written to autoexec.cfg; no setting may take it."""
LOTATC_JSON_PORT = 8081
"""LotAtc's own default JSON server port (LotAtc Link), in use whenever LotAtc runs."""
SRS_LOTATC_EXPORT_PORT = 10712
"""Loopback UDP port on which SRS feeds LotAtc's transponder link when both run."""

INSTANCE_SIZES = ("small", "medium", "large")
INI_FORBIDDEN_CHARACTERS = '=;#[]"\\'
"""Characters that could end or re-interpret a value in an INI line (SRS server.cfg)."""

_MASK = "********"
_SPEC = "rr.setting"
_GROUP = "rr.group"
_T = TypeVar("_T")


class SettingsError(ValueError):
    """A setting cannot take the value given; the message is one sentence for the user."""


def is_ini_safe(text: str) -> bool:
    """Whether `text` can stand as an INI value without being cut, trimmed or re-read."""
    return all(
        ch.isprintable() and not ch.isspace() and ch not in INI_FORBIDDEN_CHARACTERS for ch in text
    )


def _is_unicode_text(text: str) -> bool:
    """False for lone surrogates, which no file encoding can store."""
    return not any(unicodedata.category(ch) == "Cs" for ch in text)


class Rule(ABC):
    """What one setting accepts: its type, its range and how typed text becomes a value."""

    kind: ClassVar[str]

    @abstractmethod
    def allowed(self) -> str:
        """What the setting accepts, phrased to follow "<key> must be"."""

    @abstractmethod
    def is_valid(self, value: object) -> bool:
        """Whether `value`, with its exact Python type, is acceptable."""

    @abstractmethod
    def parse_text(self, text: str) -> object:
        """Turn what a user typed into a value; raises ValueError when it makes no sense."""

    def check(self, key: str, value: object) -> None:
        if not self.is_valid(value):
            raise SettingsError(f"{key} must be {self.allowed()}.")

    def parse(self, key: str, text: str) -> object:
        try:
            value = self.parse_text(text)
        except ValueError:
            raise SettingsError(f"{key} must be {self.allowed()}.") from None
        self.check(key, value)
        return value

    def from_json(self, key: str, raw: object) -> object:
        self.check(key, raw)
        return raw

    def to_json(self, value: Any) -> JsonValue:
        return value  # type: ignore[no-any-return]

    def choices(self) -> tuple[str, ...]:
        """Values to offer for autocomplete; empty when the setting is free-form."""
        return ()


_TRUE_WORDS = frozenset({"yes", "y", "true", "on", "1", "enable", "enabled"})
_FALSE_WORDS = frozenset({"no", "n", "false", "off", "0", "disable", "disabled"})


@dataclass(frozen=True)
class Flag(Rule):
    kind: ClassVar[str] = "flag"

    def allowed(self) -> str:
        return "yes or no"

    def is_valid(self, value: object) -> bool:
        return type(value) is bool

    def parse_text(self, text: str) -> bool:
        word = text.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
        raise ValueError(text)

    def choices(self) -> tuple[str, ...]:
        return ("yes", "no")


@dataclass(frozen=True)
class WholeNumber(Rule):
    minimum: int
    maximum: int
    kind: ClassVar[str] = "number"

    def allowed(self) -> str:
        return f"a whole number from {self.minimum} to {self.maximum}"

    def is_valid(self, value: object) -> bool:
        return type(value) is int and self.minimum <= value <= self.maximum

    def parse_text(self, text: str) -> int:
        digits = text.strip()
        if not re.fullmatch(r"-?[0-9]{1,12}", digits):
            raise ValueError(text)
        return int(digits)


@dataclass(frozen=True)
class MinutesOrOff(WholeNumber):
    """Minutes a rule waits, where 0 (typed as "off" too) turns the rule off."""

    kind: ClassVar[str] = "minutes_or_off"

    def allowed(self) -> str:
        return f"a whole number of minutes from {self.minimum} to {self.maximum}, or off"

    def parse_text(self, text: str) -> int:
        if text.strip().lower() in _FALSE_WORDS:
            return 0
        return super().parse_text(text.strip().lower().removesuffix("min").strip())


@dataclass(frozen=True)
class Text(Rule):
    """Free text for Lua files: any characters a string can hold, within a length."""

    max_length: int
    required: bool = False
    kind: ClassVar[str] = "text"

    def allowed(self) -> str:
        if self.required:
            return f"text of 1 to {self.max_length} characters that is not blank"
        return f"text of at most {self.max_length} characters"

    def is_valid(self, value: object) -> bool:
        if type(value) is not str or len(value) > self.max_length:
            return False
        return bool(value.strip()) or not self.required

    def check(self, key: str, value: object) -> None:
        super().check(key, value)
        if not _is_unicode_text(str(value)):
            raise SettingsError(f"{key} contains characters that are not valid text; remove them.")

    def parse_text(self, text: str) -> str:
        return text


_FOLDER_PART = r"[A-Za-z0-9_][A-Za-z0-9 ._-]{0,63}"
_FOLDER = re.compile(rf"{_FOLDER_PART}(/{_FOLDER_PART}){{0,7}}")


@dataclass(frozen=True)
class SaveFolder(Rule):
    """A folder under the DCS write folder (``Missions/Saves``), or empty for none."""

    kind: ClassVar[str] = "folder"

    def allowed(self) -> str:
        return (
            "a folder under the server's DCS folder such as Missions/Saves, in up to 8 parts "
            "of letters, digits, spaces, dots, dashes and underscores, or none"
        )

    def is_valid(self, value: object) -> bool:
        return type(value) is str and (
            value == "" or (_FOLDER.fullmatch(value) is not None and ".." not in value)
        )

    def parse_text(self, text: str) -> str:
        folder = text.strip().replace("\\", "/").strip("/")
        return "" if folder.lower() == "none" else folder


@dataclass(frozen=True)
class IniText(Rule):
    """Text for an INI file, where some characters would end or re-interpret the value."""

    max_length: int
    kind: ClassVar[str] = "text"

    def allowed(self) -> str:
        forbidden = " ".join(INI_FORBIDDEN_CHARACTERS)
        return (
            f"at most {self.max_length} characters with no spaces, control characters "
            f"or any of {forbidden}"
        )

    def is_valid(self, value: object) -> bool:
        return type(value) is str and len(value) <= self.max_length and is_ini_safe(value)

    def parse_text(self, text: str) -> str:
        return text


@dataclass(frozen=True)
class Choice(Rule):
    values: tuple[str, ...]
    kind: ClassVar[str] = "choice"

    def allowed(self) -> str:
        return "one of " + ", ".join(self.values)

    def is_valid(self, value: object) -> bool:
        return type(value) is str and value in self.values

    def parse_text(self, text: str) -> str:
        return text.strip().lower()

    def choices(self) -> tuple[str, ...]:
        return self.values


@dataclass(frozen=True)
class DiscordId(Rule):
    """An optional Discord snowflake, kept as a string because it exceeds 2**53."""

    kind: ClassVar[str] = "discord_id"

    def allowed(self) -> str:
        return "a Discord ID made of digits, or none"

    def is_valid(self, value: object) -> bool:
        if value is None:
            return True
        return (
            type(value) is str
            and re.fullmatch(r"[1-9][0-9]{0,19}", value) is not None
            and int(value) < 2**64
        )

    def parse_text(self, text: str) -> str | None:
        word = text.strip()
        if word.lower() in {"", "none", "-"}:
            return None
        mention = re.fullmatch(r"<(?:#|@&)([0-9]+)>", word)
        return mention.group(1) if mention else word


@cache
def time_zones() -> Mapping[str, str]:
    """The IANA zone names rr accepts, by their lower-case form, in name order; read from the
    time zone database once. `localtime` and `Factory` are not real zones."""
    names = available_timezones() - {"localtime", "Factory"}
    return {name.lower(): name for name in sorted(names)}


def time_zone_name(text: str) -> str | None:
    """The IANA zone name ``text`` means, ignoring case and surrounding spaces; None when it
    names no zone. The one rule for every time zone a member types."""
    return time_zones().get(text.strip().lower())


@dataclass(frozen=True)
class TimeZone(Rule):
    kind: ClassVar[str] = "timezone"

    def allowed(self) -> str:
        return "an IANA time zone name such as Europe/Berlin or UTC"

    def is_valid(self, value: object) -> bool:
        return type(value) is str and time_zone_name(value) == value

    def parse_text(self, text: str) -> str:
        return time_zone_name(text) or text.strip()

    def choices(self) -> tuple[str, ...]:
        return tuple(time_zones().values())


@dataclass(frozen=True)
class AwsRegion(Rule):
    kind: ClassVar[str] = "region"

    def allowed(self) -> str:
        return "an AWS region code such as eu-central-1"

    def is_valid(self, value: object) -> bool:
        return (
            type(value) is str and re.fullmatch(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}", value) is not None
        )

    def parse_text(self, text: str) -> str:
        return text.strip().lower()


@dataclass(frozen=True)
class MissionPaths(Rule):
    """Paths of .miz files as the DCS server sees them, in the order DCS should offer them."""

    max_count: int = 20
    max_length: int = 260
    kind: ClassVar[str] = "missions"

    def allowed(self) -> str:
        return (
            f"up to {self.max_count} .miz file paths separated by ;, each at most "
            f"{self.max_length} characters with no control characters"
        )

    def is_valid(self, value: object) -> bool:
        return (
            type(value) is tuple
            and len(value) <= self.max_count
            and all(self._is_valid_path(path) for path in value)
        )

    def _is_valid_path(self, path: object) -> bool:
        return (
            type(path) is str
            and len(path) <= self.max_length
            and path.lower().endswith(".miz")
            and len(path) > len(".miz")
            and not any(unicodedata.category(ch) in {"Cc", "Cs"} for ch in path)
        )

    def parse_text(self, text: str) -> tuple[str, ...]:
        if text.strip().lower() == "none":
            return ()
        return tuple(part.strip() for part in re.split(r"[;\n]", text) if part.strip())

    def from_json(self, key: str, raw: object) -> tuple[str, ...]:
        if type(raw) is not list:
            raise SettingsError(f"{key} must be {self.allowed()}.")
        paths = tuple(raw)
        self.check(key, paths)
        return paths

    def to_json(self, value: Any) -> list[str]:
        return list(value)


_PORT = WholeNumber(1024, 65535)
_PASSWORD = Text(max_length=64)
_FLAG = Flag()
_IDLE_MINUTES = MinutesOrOff(0, 720)


@dataclass(frozen=True)
class _FieldRule:
    rule: Rule
    help: str
    secret: bool


def _setting(default: _T, rule: Rule, help: str, *, secret: bool = False) -> _T:
    """A settable field: its default, its rule, one line of help; secrets stay out of repr."""
    meta = {_SPEC: _FieldRule(rule, help, secret)}
    return field(default=default, repr=not secret, metadata=meta)


@dataclass(frozen=True, kw_only=True, slots=True)
class AdvancedOptions:
    """The `advanced` table of serverSettings.lua."""

    allow_change_tailno: bool = _setting(True, _FLAG, "Let pilots change their tail number.")
    allow_change_skin: bool = _setting(True, _FLAG, "Let pilots change their livery.")
    allow_dynamic_radio: bool = _setting(True, _FLAG, "Let pilots use dynamic radio presets.")
    allow_ownship_export: bool = _setting(
        True, _FLAG, "Let clients export their own aircraft data."
    )
    allow_object_export: bool = _setting(
        False, _FLAG, "Let clients export data on other objects (anti-cheat relevant)."
    )
    allow_sensor_export: bool = _setting(
        False, _FLAG, "Let clients export sensor data (anti-cheat relevant)."
    )
    allow_players_pool: bool = _setting(True, _FLAG, "Allow the players pool (DCS default: on).")
    allow_trial_only_clients: bool = _setting(True, _FLAG, "Admit players on trial modules.")
    disable_events: bool = _setting(False, _FLAG, "Stop the server from announcing events.")
    event_connect: bool = _setting(True, _FLAG, "Announce players connecting.")
    event_crash: bool = _setting(True, _FLAG, "Announce crashes.")
    event_ejecting: bool = _setting(True, _FLAG, "Announce ejections.")
    event_kill: bool = _setting(True, _FLAG, "Announce kills.")
    event_role: bool = _setting(True, _FLAG, "Announce slot changes.")
    event_takeoff: bool = _setting(True, _FLAG, "Announce take-offs.")
    server_can_screenshot: bool = _setting(False, _FLAG, "Let the server take client screenshots.")
    voice_chat_server: bool = _setting(True, _FLAG, "Run DCS's built-in voice chat.")
    resume_mode: int = _setting(
        2,
        WholeNumber(0, 2),
        "When the mission runs: 0 paused on load, 1 always, 2 paused while nobody is on.",
    )
    max_ping: int = _setting(
        0, WholeNumber(0, 1000), "Kick players above this ping in ms (0 = off)."
    )
    client_inbound_limit: int = _setting(
        0, WholeNumber(0, 1_000_000), "Inbound traffic limit per client (0 = no limit)."
    )
    client_outbound_limit: int = _setting(
        0, WholeNumber(0, 1_000_000), "Outbound traffic limit per client (0 = no limit)."
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class LotAtcSettings:
    """LotAtc, the GCI/ATC radar add-on; an empty coalition password keeps that side out."""

    enabled: bool = _setting(False, _FLAG, "Run LotAtc for GCI and AWACS controllers.")
    port: int = _setting(10310, _PORT, "TCP port LotAtc clients connect to.")
    blue_password: str = _setting("", _PASSWORD, "Password for blue controllers.", secret=True)
    red_password: str = _setting("", _PASSWORD, "Password for red controllers.", secret=True)
    blue_max_clients: int = _setting(
        -1, WholeNumber(-1, 64), "Most blue controllers at once (-1 = no limit)."
    )
    red_max_clients: int = _setting(
        -1, WholeNumber(-1, 64), "Most red controllers at once (-1 = no limit)."
    )
    connect_message: str = _setting(
        "none",
        Choice(("none", "coalition", "all")),
        "Who sees a chat message when a controller connects.",
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class SrsSettings:
    """SimpleRadio Standalone; its values go to an INI file, so its texts are restricted."""

    enabled: bool = _setting(False, _FLAG, "Run an SRS voice radio server.")
    port: int = _setting(5002, _PORT, "TCP and UDP port SRS clients connect to.")
    eam_enabled: bool = _setting(
        False, _FLAG, "External AWACS mode: controllers join SRS with a coalition password."
    )
    blue_password: str = _setting(
        "", IniText(max_length=64), "External AWACS password for blue.", secret=True
    )
    red_password: str = _setting(
        "", IniText(max_length=64), "External AWACS password for red.", secret=True
    )
    coalition_audio_security: bool = _setting(
        False, _FLAG, "Keep each coalition from hearing the other."
    )
    spectators_audio_disabled: bool = _setting(False, _FLAG, "Keep spectators off the radios.")
    los_enabled: bool = _setting(False, _FLAG, "Block radio by terrain (line of sight).")
    distance_enabled: bool = _setting(False, _FLAG, "Limit radio range by distance.")
    irl_radio_tx: bool = _setting(False, _FLAG, "Real radio behaviour: one transmitter at a time.")
    irl_radio_rx_interference: bool = _setting(
        False, _FLAG, "Real radio behaviour: simultaneous transmissions interfere."
    )
    radio_expansion: bool = _setting(False, _FLAG, "Give every aircraft extra radios.")
    allow_radio_encryption: bool = _setting(True, _FLAG, "Allow encrypted radio channels.")
    show_transmitter_name: bool = _setting(False, _FLAG, "Show who is transmitting.")


@dataclass(frozen=True, kw_only=True, slots=True)
class TacviewSettings:
    """The Tacview exporter, configured in the `plugins` section of options.lua."""

    enabled: bool = _setting(False, _FLAG, "Run the Tacview exporter on the server.")
    recording: bool = _setting(True, _FLAG, "Save flight recordings on the server.")
    playback_delay: int = _setting(
        0, WholeNumber(0, 3600), "Seconds the live view lags behind (0 = live)."
    )
    telemetry_enabled: bool = _setting(True, _FLAG, "Serve real-time telemetry to Tacview clients.")
    telemetry_port: int = _setting(42674, _PORT, "TCP port for real-time telemetry.")
    telemetry_password: str = _setting(
        "", _PASSWORD, "Password for real-time telemetry (empty = none).", secret=True
    )
    remote_control_enabled: bool = _setting(False, _FLAG, "Allow Tacview remote control.")
    remote_control_port: int = _setting(42675, _PORT, "TCP port for remote control.")
    remote_control_password: str = _setting(
        "", _PASSWORD, "Password for remote control.", secret=True
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class SquadronSettings:
    """Everything a squadron's admins choose for the servers rr runs for them.

    The no-argument constructor gives a new squadron's defaults. Construction validates every
    field, the nested groups' fields included, and the rules between fields, so an instance is
    always renderable.
    """

    server_name: str = _setting(
        "DCS Server", Text(max_length=100, required=True), "Name in the DCS server browser."
    )
    description: str = _setting("", Text(max_length=1000), "Description in the server browser.")
    password: str = _setting(
        "", _PASSWORD, "Password to join the server (empty = none).", secret=True
    )
    max_players: int = _setting(16, WholeNumber(1, 128), "Most players at once.")
    is_public: bool = _setting(True, _FLAG, "List the server in the public server browser.")
    region: str = _setting("us-east-1", AwsRegion(), "AWS region the server runs in.")
    instance_size: str = _setting("medium", Choice(INSTANCE_SIZES), "Size of the server machine.")
    game_port: int = _setting(10308, _PORT, "TCP and UDP port DCS players connect to.")
    timezone: str = _setting("UTC", TimeZone(), "Time zone for booking times and reminders.")
    reminder_channel_id: str | None = _setting(
        None, DiscordId(), "Channel for reminders (none = no reminders posted)."
    )
    manager_role_id: str | None = _setting(
        None, DiscordId(), "Role allowed to start and stop servers (none = Manage Server only)."
    )
    idle_stop_unjoined_minutes: int = _setting(
        30,
        _IDLE_MINUTES,
        "Stop a server nobody joined this many minutes after it was ready (off = never).",
    )
    idle_stop_empty_minutes: int = _setting(
        15,
        _IDLE_MINUTES,
        "Stop a server this many minutes after the last pilot left (off = never).",
    )
    missions: tuple[str, ...] = _setting((), MissionPaths(), "Missions a server starts with.")
    loop_missions: bool = _setting(True, _FLAG, "Start the mission list again after the last.")
    shuffle_missions: bool = _setting(False, _FLAG, "Play the mission list in random order.")
    campaign_save_folder: str = _setting(
        "",
        SaveFolder(),
        "Folder of a campaign's save files kept after each session and restored at the next "
        "one of the same mission, e.g. Missions/Saves (none = off).",
    )
    require_pure_clients: bool = _setting(True, _FLAG, "Refuse clients with modified game files.")
    require_pure_models: bool = _setting(True, _FLAG, "Refuse clients with modified 3D models.")
    require_pure_textures: bool = _setting(True, _FLAG, "Refuse clients with modified textures.")
    require_pure_scripts: bool = _setting(False, _FLAG, "Refuse clients with modified scripts.")
    advanced: AdvancedOptions = field(
        default_factory=AdvancedOptions, metadata={_GROUP: AdvancedOptions}
    )
    lotatc: LotAtcSettings = field(
        default_factory=LotAtcSettings, metadata={_GROUP: LotAtcSettings}
    )
    srs: SrsSettings = field(default_factory=SrsSettings, metadata={_GROUP: SrsSettings})
    tacview: TacviewSettings = field(
        default_factory=TacviewSettings, metadata={_GROUP: TacviewSettings}
    )

    def __post_init__(self) -> None:
        for spec in SETTINGS_CATALOGUE:
            spec.rule.check(spec.key, self.value(spec.key))
        _check_coalition_passwords(self)
        _check_ports(self)

    def value(self, key: str) -> object:
        """The current value of a catalogue key such as "srs.port"."""
        setting_spec(key)
        return attrgetter(key)(self)

    def to_data(self) -> dict[str, Any]:
        """A JSON-compatible map that `from_data` turns back into equal settings."""
        return _to_json(self)

    @classmethod
    def from_data(cls, data: object) -> SquadronSettings:
        """Rebuild settings from `to_data` output; any missing, extra or mistyped entry fails."""
        return _from_json(cls, data, "")

    def apply_changes(self, changes: Mapping[str, object]) -> SquadronSettings:
        """New settings with `changes` (catalogue key -> typed value) applied and validated."""
        top: dict[str, Any] = {}
        groups: dict[str, dict[str, object]] = {}
        for key, new_value in changes.items():
            setting_spec(key).rule.check(key, new_value)
            group, _, name = key.rpartition(".")
            if group:
                groups.setdefault(group, {})[name] = new_value
            else:
                top[name] = new_value
        for group, group_changes in groups.items():
            top[group] = replace(getattr(self, group), **group_changes)
        return replace(self, **top)

    def public_view(self) -> dict[str, JsonValue]:
        """Every catalogue key with its value for display; secrets that are set are masked."""
        view: dict[str, JsonValue] = {}
        for spec in SETTINGS_CATALOGUE:
            current = spec.rule.to_json(self.value(spec.key))
            view[spec.key] = _MASK if spec.secret and current else current
        return view


def _check_coalition_passwords(settings: SquadronSettings) -> None:
    lotatc, srs, tacview = settings.lotatc, settings.srs, settings.tacview
    if lotatc.enabled and not (lotatc.blue_password or lotatc.red_password):
        raise SettingsError(
            "lotatc.enabled needs lotatc.blue_password or lotatc.red_password set first, "
            "because LotAtc admits no coalition without a password."
        )
    if lotatc.enabled and lotatc.blue_password and lotatc.blue_password == lotatc.red_password:
        raise SettingsError(
            "lotatc.blue_password and lotatc.red_password must differ, "
            "because LotAtc tells the coalitions apart by password."
        )
    if srs.eam_enabled and not (srs.blue_password and srs.red_password):
        raise SettingsError(
            "srs.eam_enabled needs both srs.blue_password and srs.red_password set first."
        )
    if srs.eam_enabled and srs.blue_password == srs.red_password:
        raise SettingsError(
            "srs.blue_password and srs.red_password must differ, "
            "because SRS tells the coalitions apart by password."
        )
    if tacview.remote_control_enabled and not tacview.remote_control_password:
        raise SettingsError(
            "tacview.remote_control_enabled needs tacview.remote_control_password set first."
        )


def _ports_in_use(settings: SquadronSettings) -> list[tuple[int, str, bool]]:
    """(port, who uses it, whether that is a setting) for every listener the server opens."""
    ports = [(settings.game_port, "game_port", True), (WEBGUI_PORT, "the DCS WebGUI", False)]
    lotatc, srs, tacview = settings.lotatc, settings.srs, settings.tacview
    if lotatc.enabled:
        ports += [
            (lotatc.port, "lotatc.port", True),
            (LOTATC_JSON_PORT, "the LotAtc JSON server", False),
        ]
    if srs.enabled:
        ports.append((srs.port, "srs.port", True))
    if srs.enabled and lotatc.enabled:
        ports.append((SRS_LOTATC_EXPORT_PORT, "the SRS link to LotAtc", False))
    if tacview.enabled and tacview.telemetry_enabled:
        ports.append((tacview.telemetry_port, "tacview.telemetry_port", True))
    if tacview.enabled and tacview.remote_control_enabled:
        ports.append((tacview.remote_control_port, "tacview.remote_control_port", True))
    return ports


def _check_ports(settings: SquadronSettings) -> None:
    owners: dict[int, tuple[str, bool]] = {}
    for port, user, user_is_setting in _ports_in_use(settings):
        if port not in owners:
            owners[port] = (user, user_is_setting)
            continue
        owner, owner_is_setting = owners[port]
        if owner_is_setting and user_is_setting:
            raise SettingsError(f"{user} and {owner} are both {port}; give each its own port.")
        setting, fixed = (user, owner) if user_is_setting else (owner, user)
        raise SettingsError(f"{setting} cannot be {port}, which {fixed} uses; choose another port.")


@dataclass(frozen=True)
class SettingSpec:
    """One settable key as the cog and the sandbox offer it."""

    key: str
    rule: Rule
    help: str
    secret: bool
    default: JsonValue

    @property
    def kind(self) -> str:
        return self.rule.kind

    @property
    def allowed(self) -> str:
        return self.rule.allowed()

    def choices(self) -> tuple[str, ...]:
        return self.rule.choices()


def _catalogue(cls: type, prefix: str) -> list[SettingSpec]:
    specs: list[SettingSpec] = []
    for item in fields(cls):
        if _GROUP in item.metadata:
            specs += _catalogue(item.metadata[_GROUP], f"{prefix}{item.name}.")
            continue
        found: _FieldRule = item.metadata[_SPEC]
        default = found.rule.to_json(item.default)
        specs.append(SettingSpec(prefix + item.name, found.rule, found.help, found.secret, default))
    return specs


def _to_json(obj: object) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for item in fields(obj):  # type: ignore[arg-type]
        current = getattr(obj, item.name)
        if _GROUP in item.metadata:
            data[item.name] = _to_json(current)
        else:
            data[item.name] = item.metadata[_SPEC].rule.to_json(current)
    return data


def _from_json(cls: type[_T], data: object, prefix: str) -> _T:
    where = prefix.rstrip(".") or "settings"
    if type(data) is not dict:
        raise SettingsError(f"{where} must be a JSON object of settings.")
    names = {item.name for item in fields(cls)}  # type: ignore[arg-type]
    missing = sorted(names - data.keys())
    if missing:
        raise SettingsError(f"{prefix}{missing[0]} is missing from the stored settings.")
    extra = sorted(str(key) for key in data.keys() - names)
    if extra:
        raise SettingsError(f"{prefix}{extra[0]} is not a known setting in the stored settings.")
    values: dict[str, object] = {}
    for item in fields(cls):  # type: ignore[arg-type]
        raw = data[item.name]
        if _GROUP in item.metadata:
            values[item.name] = _from_json(item.metadata[_GROUP], raw, f"{prefix}{item.name}.")
        else:
            values[item.name] = item.metadata[_SPEC].rule.from_json(prefix + item.name, raw)
    return cls(**values)


SETTINGS_CATALOGUE: tuple[SettingSpec, ...] = tuple(_catalogue(SquadronSettings, ""))
"""Every settable key, in the order a settings screen should list them."""
_SPECS_BY_KEY = {spec.key: spec for spec in SETTINGS_CATALOGUE}


SECRET_KEYS: tuple[str, ...] = tuple(spec.key for spec in SETTINGS_CATALOGUE if spec.secret)
"""The catalogue keys whose values are secret (passwords): sealed in the event history."""
_NEEDS_A_SECRET = ("lotatc.enabled", "srs.eam_enabled", "tacview.remote_control_enabled")
"""The flags `_check_coalition_passwords` allows only with passwords set."""


def forgotten_secrets() -> dict[str, object]:
    """The changes that leave settings with no secret: every secret at its default and each
    feature that needs a password off. What a squadron whose secrets were forgotten has."""
    changes: dict[str, object] = {key: setting_spec(key).default for key in SECRET_KEYS}
    changes.update(dict.fromkeys(_NEEDS_A_SECRET, False))
    return changes


def setting_spec(key: str) -> SettingSpec:
    """The catalogue entry for `key`; an unknown key is a SettingsError."""
    try:
        return _SPECS_BY_KEY[key]
    except KeyError:
        raise SettingsError(
            f"There is no setting called {key[:60]!r}; choose one from the settings list."
        ) from None


def parse_setting(key: str, text: str) -> object:
    """The typed value for what a user typed for `key` (e.g. "yes", "42674", "Europe/Oslo")."""
    return setting_spec(key).rule.parse(key, text)
