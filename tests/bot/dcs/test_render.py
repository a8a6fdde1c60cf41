"""The rendered server files, loaded the way DCS, LotAtc and SRS read them.

Every Lua file runs in a sandboxed Lua 5.1 and every global it leaves behind is compared, value
and Lua type, with what the settings say; SRS.cfg is read back as INI.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import fields
from typing import Any

import pytest
from hypothesis import given, reject, settings
from hypothesis import strategies as st

import eventstore
from bot.dcs import SessionOptions, render_server_files
from bot.domain.events import SquadronSettingsChanged, from_stored, to_new_event
from bot.domain.settings import SettingsError, SquadronSettings
from tests.bot.dcs.lua_sandbox import LuaSandbox, tag_expected
from tests.bot.dcs.strategies import ini_text, lua_text, mission_path, settings_and_session
from tests.bot.dcs.test_ini import parse_strictly, parse_with_configparser

SERVER_SETTINGS = "Config/serverSettings.lua"
OPTIONS = "Config/options.lua"
AUTOEXEC = "Config/autoexec.cfg"
LOTATC = "Mods/Services/LotAtc/config.custom.lua"
SRS = "Config/SRS.cfg"

SESSION = SessionOptions(session_id="0b7c5a52-6d0e-4c55-9a3e-3f1a1f9b2c11")
ADD_ONS_ON = SquadronSettings().apply_changes(
    {
        "lotatc.enabled": True,
        "lotatc.blue_password": "blue-gci",
        "lotatc.red_password": "red-gci",
        "srs.enabled": True,
        "srs.eam_enabled": True,
        "srs.blue_password": "blue-awacs",
        "srs.red_password": "red-awacs",
        "tacview.enabled": True,
        "tacview.remote_control_enabled": True,
        "tacview.remote_control_password": "remote",
        "missions": ("C:\\Missions\\Caucasus.miz", "C:\\Missions\\Syria.miz"),
    }
)
# serverSettings.lua spells a few `advanced` keys differently from the settings' field names.
DCS_ADVANCED_NAMES = {
    "event_connect": "event_Connect",
    "event_crash": "event_Crash",
    "event_ejecting": "event_Ejecting",
    "event_kill": "event_Kill",
    "event_role": "event_Role",
    "event_takeoff": "event_Takeoff",
    "max_ping": "maxPing",
}


def expected_server_settings(s: SquadronSettings, session: SessionOptions) -> dict[str, Any]:
    advanced = {
        DCS_ADVANCED_NAMES.get(item.name, item.name): getattr(s.advanced, item.name)
        for item in fields(s.advanced)
    }
    description = s.description if session.description is None else session.description
    cfg = {
        "name": s.server_name + session.name_suffix,
        "description": description,
        "password": s.password,
        "port": s.game_port,
        "maxPlayers": s.max_players,
        "isPublic": s.is_public,
        "missionList": list(session.missions or s.missions),
        "listStartIndex": session.start_index,
        "listLoop": s.loop_missions,
        "listShuffle": s.shuffle_missions,
        "require_pure_clients": s.require_pure_clients,
        "require_pure_models": s.require_pure_models,
        "require_pure_textures": s.require_pure_textures,
        "require_pure_scripts": s.require_pure_scripts,
        "advanced": advanced,
    }
    return {"cfg": cfg}


def expected_options(s: SquadronSettings) -> dict[str, Any]:
    tacview = s.tacview
    plugin = {
        "tacviewModuleEnabled": tacview.enabled,
        "tacviewFlightDataRecordingEnabled": tacview.recording,
        "tacviewPlaybackDelay": tacview.playback_delay,
        "tacviewRealTimeTelemetryEnabled": tacview.telemetry_enabled,
        "tacviewRealTimeTelemetryPort": str(tacview.telemetry_port),
        "tacviewRealTimeTelemetryPassword": tacview.telemetry_password,
        "tacviewRemoteControlEnabled": tacview.remote_control_enabled,
        "tacviewRemoteControlPort": str(tacview.remote_control_port),
        "tacviewRemoteControlPassword": tacview.remote_control_password,
    }
    misc = {"autologin": True, "collect_stat": False, "launcher": False}
    return {"options": {"miscellaneous": misc, "plugins": {"Tacview": plugin}}}


def expected_autoexec() -> dict[str, Any]:
    return {
        "webgui_port": 8088,
        "crash_report_mode": "silent",
        "disable_write_track": True,
        "net": {"use_upnp": False},
    }


def expected_lotatc(s: SquadronSettings) -> dict[str, Any]:
    lotatc = s.lotatc
    options: dict[str, Any] = {
        "use_atc": True,
        "dedicated_mode": True,
        "port": lotatc.port,
        "blue_password": lotatc.blue_password,
        "red_password": lotatc.red_password,
        "blue_max_clients": lotatc.blue_max_clients,
        "red_max_clients": lotatc.red_max_clients,
        "chat_connect_message": lotatc.connect_message,
        "srs_use_transponder": s.srs.enabled,
    }
    if s.srs.enabled:
        options |= {
            "srs_server": "127.0.0.1",
            "srs_server_port": s.srs.port,
            "srs_transponder_port": 10712,
        }
    return {"lotatc_inst": {"options": options}}


def expected_srs(s: SquadronSettings) -> dict[str, dict[str, str]]:
    def ini(value: bool | int | str) -> str:
        return str(value).lower() if isinstance(value, bool) else str(value)

    srs = s.srs
    general: dict[str, bool | int | str] = {
        "EXTERNAL_AWACS_MODE": srs.eam_enabled,
        "COALITION_AUDIO_SECURITY": srs.coalition_audio_security,
        "SPECTATORS_AUDIO_DISABLED": srs.spectators_audio_disabled,
        "LOS_ENABLED": srs.los_enabled,
        "DISTANCE_ENABLED": srs.distance_enabled,
        "IRL_RADIO_TX": srs.irl_radio_tx,
        "IRL_RADIO_RX_INTERFERENCE": srs.irl_radio_rx_interference,
        "RADIO_EXPANSION": srs.radio_expansion,
        "ALLOW_RADIO_ENCRYPTION": srs.allow_radio_encryption,
        "SHOW_TRANSMITTER_NAME": srs.show_transmitter_name,
        "LOTATC_EXPORT_ENABLED": s.lotatc.enabled,
        "LOTATC_EXPORT_IP": "127.0.0.1",
        "LOTATC_EXPORT_PORT": 10712,
    }
    server: dict[str, bool | int | str] = {
        "SERVER_IP": "0.0.0.0",
        "SERVER_PORT": srs.port,
        "UPNP_ENABLED": False,
        "CHECK_FOR_BETA_UPDATES": False,
    }
    awacs: dict[str, bool | int | str] = {
        "EXTERNAL_AWACS_MODE_BLUE_PASSWORD": srs.blue_password,
        "EXTERNAL_AWACS_MODE_RED_PASSWORD": srs.red_password,
    }
    sections = {
        "General Settings": general,
        "Server Settings": server,
        "External AWACS Mode Settings": awacs,
    }
    return {
        name: {key: ini(value) for key, value in values.items()}
        for name, values in sections.items()
    }


def assert_files_match(
    lua: LuaSandbox, s: SquadronSettings, session: SessionOptions, files: dict[str, bytes]
) -> None:
    expected_paths = {SERVER_SETTINGS, OPTIONS, AUTOEXEC}
    expected_paths |= {LOTATC} if s.lotatc.enabled else set()
    expected_paths |= {SRS} if s.srs.enabled else set()
    assert set(files) == expected_paths
    for content in files.values():
        assert not content.startswith(b"\xef\xbb\xbf")
        content.decode("utf-8")
    loaded = lua.globals_of(files[SERVER_SETTINGS])
    assert loaded == tag_expected(expected_server_settings(s, session))
    assert lua.globals_of(files[OPTIONS]) == tag_expected(expected_options(s))
    assert lua.globals_of(files[AUTOEXEC]) == tag_expected(expected_autoexec())
    if s.lotatc.enabled:
        loaded = lua.globals_of(files[LOTATC], tables=["lotatc_inst"])
        assert loaded == tag_expected(expected_lotatc(s))
    if s.srs.enabled:
        text = files[SRS].decode("utf-8")
        assert parse_strictly(text) == expected_srs(s)
        assert parse_with_configparser(text) == expected_srs(s)


@pytest.mark.parametrize(
    "squadron",
    [SquadronSettings(), ADD_ONS_ON],
    ids=["defaults", "every-add-on"],
)
def test_every_file_loads_with_the_values_and_types_of_the_settings(
    lua: LuaSandbox, squadron: SquadronSettings
) -> None:
    assert_files_match(lua, squadron, SESSION, render_server_files(squadron, SESSION))


@given(settings_and_session())
@settings(deadline=None, max_examples=80)
def test_any_valid_settings_render_files_that_load_with_their_values(
    lua: LuaSandbox, drawn: tuple[SquadronSettings, SessionOptions]
) -> None:
    squadron, session = drawn
    assert_files_match(lua, squadron, session, render_server_files(squadron, session))


LUA_TEXT_FIELDS = {
    "server_name": 100,
    "description": 1000,
    "password": 64,
    "lotatc.blue_password": 64,
    "lotatc.red_password": 64,
    "tacview.telemetry_password": 64,
    "tacview.remote_control_password": 64,
}


@pytest.mark.parametrize("key", LUA_TEXT_FIELDS)
@given(data=st.data())
@settings(deadline=None, max_examples=40)
def test_any_text_in_a_lua_field_comes_back_identical(
    lua: LuaSandbox, key: str, data: st.DataObject
) -> None:
    text = data.draw(lua_text(LUA_TEXT_FIELDS[key], required=key == "server_name"))
    try:
        squadron = ADD_ONS_ON.apply_changes({key: text})
    except SettingsError:
        reject()  # an empty remote control password, or both LotAtc passwords the same
    assert_files_match(lua, squadron, SESSION, render_server_files(squadron, SESSION))


@pytest.mark.parametrize("key", ["srs.blue_password", "srs.red_password"])
@given(data=st.data())
@settings(deadline=None, max_examples=40)
def test_any_ini_safe_text_in_an_srs_field_comes_back_identical(
    lua: LuaSandbox, key: str, data: st.DataObject
) -> None:
    try:
        squadron = ADD_ONS_ON.apply_changes({key: data.draw(ini_text(64))})
    except SettingsError:
        reject()  # empty, or the same as the other coalition's password
    assert_files_match(lua, squadron, SESSION, render_server_files(squadron, SESSION))


@given(st.lists(mission_path(), min_size=1, max_size=20).map(tuple), lua_text(64), lua_text(1000))
@settings(deadline=None, max_examples=40)
def test_any_mission_paths_suffix_and_description_come_back_identical(
    lua: LuaSandbox, paths: tuple[str, ...], suffix: str, description: str
) -> None:
    session = SessionOptions(
        session_id="m-1", missions=paths, name_suffix=suffix, description=description
    )
    assert_files_match(lua, ADD_ONS_ON, session, render_server_files(ADD_ONS_ON, session))


def through_the_event_store(squadron: SquadronSettings) -> SquadronSettings:
    """The settings of a SquadronSettingsChanged event appended to a SQLite event store and
    read back, as the squadron service records and reloads them."""

    async def round_trip() -> SquadronSettings:
        with tempfile.TemporaryDirectory() as folder:
            async with eventstore.open(f"sqlite:///{folder}/rr.db") as store:
                event = SquadronSettingsChanged(
                    settings=squadron, changed=(), secrets_forgotten=False
                )
                await store.append("squadron#1", 0, [to_new_event(event, {})])
                [stored] = [stored async for stored in store.read("squadron#1")]
        reloaded = from_stored(stored)
        assert isinstance(reloaded, SquadronSettingsChanged)
        return reloaded.settings

    return asyncio.run(round_trip())


@given(settings_and_session())
@settings(deadline=None, max_examples=40)
def test_settings_stored_in_the_event_store_render_byte_for_byte_the_same(
    drawn: tuple[SquadronSettings, SessionOptions],
) -> None:
    squadron, session = drawn
    reloaded = through_the_event_store(squadron)
    assert render_server_files(reloaded, session) == render_server_files(squadron, session)


def test_rendering_twice_gives_the_same_bytes() -> None:
    assert render_server_files(ADD_ONS_ON, SESSION) == render_server_files(ADD_ONS_ON, SESSION)


def test_rendering_in_another_process_gives_the_same_bytes() -> None:
    script = (
        "import json, sys\n"
        "from bot.dcs import SessionOptions, render_server_files\n"
        "from bot.domain.settings import SquadronSettings\n"
        "settings = SquadronSettings.from_data(json.loads(sys.argv[1]))\n"
        "files = render_server_files(settings, SessionOptions(session_id=sys.argv[2]))\n"
        "print(json.dumps({path: data.hex() for path, data in files.items()}))\n"
    )
    argv = [sys.executable, "-c", script, json.dumps(ADD_ONS_ON.to_data()), SESSION.session_id]
    environment = os.environ | {"PYTHONHASHSEED": "4242"}
    result = subprocess.run(argv, capture_output=True, check=True, env=environment, timeout=60)
    rendered = {path: bytes.fromhex(data) for path, data in json.loads(result.stdout).items()}
    assert rendered == render_server_files(ADD_ONS_ON, SESSION)


@pytest.mark.parametrize(
    ("changes", "present", "absent"),
    [
        ({}, set(), {LOTATC, SRS}),
        ({"lotatc.enabled": True, "lotatc.red_password": "r"}, {LOTATC}, {SRS}),
        ({"srs.enabled": True}, {SRS}, {LOTATC}),
    ],
)
def test_add_on_files_exist_only_when_the_add_on_is_enabled(
    changes: dict[str, object], present: set[str], absent: set[str]
) -> None:
    files = render_server_files(SquadronSettings().apply_changes(changes), SESSION)
    assert present <= set(files) and not absent & set(files)


def test_a_run_without_missions_uses_the_squadron_list_from_its_start_index(
    lua: LuaSandbox,
) -> None:
    session = SessionOptions(session_id="m-2", start_index=2)
    cfg = lua.run(render_server_files(ADD_ONS_ON, session)[SERVER_SETTINGS])[b"cfg"]
    assert cfg[b"missionList"][2] == b"C:\\Missions\\Syria.miz" and cfg[b"listStartIndex"] == 2


def test_a_start_index_past_the_squadron_list_is_refused() -> None:
    session = SessionOptions(session_id="m-3", start_index=3)
    with pytest.raises(SettingsError, match=r"^start_index must be a whole number from 1 to 2"):
        render_server_files(ADD_ONS_ON, session)


def test_a_squadron_without_missions_renders_an_empty_list(lua: LuaSandbox) -> None:
    cfg = lua.run(render_server_files(SquadronSettings(), SESSION)[SERVER_SETTINGS])[b"cfg"]
    assert lua.ipairs_length(cfg[b"missionList"]) == 0 and cfg[b"listStartIndex"] == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"session_id": "has space"}, r"^session_id"),
        ({"session_id": ""}, r"^session_id"),
        ({"session_id": "m", "missions": ("a.miz",), "start_index": 2}, r"^start_index"),
        ({"session_id": "m", "start_index": 0}, r"^start_index"),
        ({"session_id": "m", "missions": ("a.exe",)}, r"^missions"),
        ({"session_id": "m", "name_suffix": "x" * 65}, r"^name_suffix"),
        ({"session_id": "m", "description": "x" * 1001}, r"^description"),
    ],
)
def test_invalid_session_options_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        SessionOptions(**options)


def test_the_files_are_traceable_to_their_session() -> None:
    for content in render_server_files(ADD_ONS_ON, SESSION).values():
        assert SESSION.session_id.encode() in content.split(b"\n", 1)[0]
