"""Hypothesis strategies for squadron settings and session options, driven by the catalogue."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import reject
from hypothesis import strategies as st

from bot.dcs import SessionOptions
from bot.domain.settings import (
    LOTATC_JSON_PORT,
    SETTINGS_CATALOGUE,
    SRS_LOTATC_EXPORT_PORT,
    WEBGUI_PORT,
    AwsRegion,
    Choice,
    DiscordId,
    Flag,
    IniText,
    MissionPaths,
    SaveFolder,
    SettingsError,
    SettingSpec,
    SquadronSettings,
    Text,
    TimeZone,
    WholeNumber,
)

# Pieces that break naive string writers: quotes, backslashes, line breaks, long brackets,
# control characters, escape look-alikes, non-ASCII (incl. astral, BOM, Unicode line separators).
NASTY_FRAGMENTS = (
    '"',
    "'",
    "\\",
    "\\\\",
    "\n",
    "\r",
    "\r\n",
    "\t",
    "\x00",
    "\x01",
    "\x1b",
    "\x7f",
    "]]",
    "]=]",
    "[[",
    "--",
    "--[[",
    "\\n",
    "\\000",
    "\\x41",
    "\\u{41}",
    "1",
    "é",
    "ж",
    "✈",
    "🛩️",
    "\u2028",
    "\ufeff",
    "\x85",
    " ",
    "=",
    ";",
    "#",
    "[",
    "end",
    "%s",
    "{",
    "}",
)

# Characters a value in an INI line can hold, defined independently of the code under test:
# no control, format, private, unassigned or separator characters, none of = ; # [ ] " \.
INI_SAFE_CHARACTERS = st.characters(
    codec="utf-8",
    exclude_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"),
    exclude_characters='=;#[]"\\',
)
FIXED_PORTS = frozenset({WEBGUI_PORT, LOTATC_JSON_PORT, SRS_LOTATC_EXPORT_PORT})
PORT_KEYS = tuple(spec.key for spec in SETTINGS_CATALOGUE if re.search(r"(^|[._])port$", spec.key))
SUFFIXES = (".miz", ".MIZ", ".Miz")
REGIONS = ("us-east-1", "eu-central-1", "ap-southeast-2", "us-gov-west-1", "sa-east-1")


def lua_text(max_size: int, *, required: bool = False) -> st.SearchStrategy[str]:
    """Any text up to `max_size` characters, weighted towards what breaks string literals."""
    nasty = st.lists(st.sampled_from(NASTY_FRAGMENTS), max_size=40).map("".join)
    longest = st.sampled_from(NASTY_FRAGMENTS).map(lambda piece: piece * max_size)
    strategy = st.one_of(st.text(max_size=max_size), nasty, longest).map(
        lambda text: text[:max_size]
    )
    return strategy.filter(str.strip) if required else strategy


def ini_text(max_size: int) -> st.SearchStrategy[str]:
    return st.text(INI_SAFE_CHARACTERS, max_size=max_size)


def mission_path() -> st.SearchStrategy[str]:
    no_controls = st.characters(exclude_categories=("Cc", "Cs"))
    stem = st.one_of(
        st.text(no_controls, min_size=1, max_size=200),
        st.lists(st.sampled_from(NASTY_FRAGMENTS).filter(str.isprintable), min_size=1).map("".join),
    )
    return st.tuples(st.sampled_from(["C:\\Missions\\", ""]), stem, st.sampled_from(SUFFIXES)).map(
        lambda parts: "".join(parts)[-256:]
    )


def value_for(spec: SettingSpec) -> st.SearchStrategy[Any]:
    rule = spec.rule
    if isinstance(rule, Flag):
        return st.booleans()
    if isinstance(rule, WholeNumber):
        return st.integers(rule.minimum, rule.maximum)
    if isinstance(rule, Text):
        return lua_text(rule.max_length, required=rule.required)
    if isinstance(rule, IniText):
        return ini_text(rule.max_length)
    if isinstance(rule, Choice):
        return st.sampled_from(rule.values)
    if isinstance(rule, DiscordId):
        return st.none() | st.integers(1, 2**64 - 1).map(str)
    if isinstance(rule, TimeZone):
        return st.sampled_from(rule.choices())
    if isinstance(rule, AwsRegion):
        return st.sampled_from(REGIONS)
    if isinstance(rule, MissionPaths):
        return st.lists(mission_path(), max_size=3).map(tuple)
    if isinstance(rule, SaveFolder):
        return st.sampled_from(["", "Missions/Saves", "Missions/Pretense saves", "DSMC"])
    raise AssertionError(f"no strategy for {spec.key}")


VALUES = {spec.key: value_for(spec) for spec in SETTINGS_CATALOGUE if spec.key not in PORT_KEYS}
DISTINCT_PORTS = st.lists(
    st.integers(1024, 65535).filter(lambda port: port not in FIXED_PORTS),
    min_size=len(PORT_KEYS),
    max_size=len(PORT_KEYS),
    unique=True,
)


@st.composite
def squadron_settings(draw: st.DrawFn) -> SquadronSettings:
    """Valid settings with every key drawn; ports are distinct so add-ons can be switched on."""
    changes = {key: draw(strategy) for key, strategy in VALUES.items()}
    changes.update(zip(PORT_KEYS, draw(DISTINCT_PORTS), strict=True))
    try:
        return SquadronSettings().apply_changes(changes)
    except SettingsError:
        reject()


RUN_MISSIONS = st.lists(mission_path(), max_size=5).map(tuple)
SESSION_IDS = st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True)
NAME_SUFFIXES = lua_text(64)
DESCRIPTIONS = st.none() | lua_text(1000)


@st.composite
def session_options(draw: st.DrawFn, settings: SquadronSettings) -> SessionOptions:
    missions = draw(RUN_MISSIONS)
    available = len(missions or settings.missions)
    return SessionOptions(
        session_id=draw(SESSION_IDS),
        missions=missions,
        start_index=draw(st.integers(1, max(available, 1))),
        name_suffix=draw(NAME_SUFFIXES),
        description=draw(DESCRIPTIONS),
    )


@st.composite
def settings_and_session(draw: st.DrawFn) -> tuple[SquadronSettings, SessionOptions]:
    settings = draw(squadron_settings())
    return settings, draw(session_options(settings))
