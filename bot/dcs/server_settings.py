"""Config/serverSettings.lua: `cfg = {...}`, the DCS server's own settings."""

from __future__ import annotations

from bot.dcs.lua import LuaValue, lua_assignment, lua_comment
from bot.dcs.session import SessionOptions
from bot.domain.settings import AdvancedOptions, SquadronSettings

PATH = "Config/serverSettings.lua"


def render(settings: SquadronSettings, session: SessionOptions) -> bytes:
    cfg: dict[str, LuaValue] = {
        "name": session.server_name(settings),
        "description": session.server_description(settings),
        "password": settings.password,
        "port": settings.game_port,
        "maxPlayers": settings.max_players,
        "isPublic": settings.is_public,
        "missionList": list(session.mission_list(settings)),
        "listStartIndex": session.start_index,
        "listLoop": settings.loop_missions,
        "listShuffle": settings.shuffle_missions,
        "require_pure_clients": settings.require_pure_clients,
        "require_pure_models": settings.require_pure_models,
        "require_pure_textures": settings.require_pure_textures,
        "require_pure_scripts": settings.require_pure_scripts,
        "advanced": _advanced(settings.advanced),
    }
    text = lua_comment(session.file_note()) + lua_assignment("cfg", cfg)
    return text.encode("utf-8")


def _advanced(advanced: AdvancedOptions) -> dict[str, LuaValue]:
    return {
        "allow_change_tailno": advanced.allow_change_tailno,
        "allow_change_skin": advanced.allow_change_skin,
        "allow_dynamic_radio": advanced.allow_dynamic_radio,
        "allow_ownship_export": advanced.allow_ownship_export,
        "allow_object_export": advanced.allow_object_export,
        "allow_sensor_export": advanced.allow_sensor_export,
        "allow_players_pool": advanced.allow_players_pool,
        "allow_trial_only_clients": advanced.allow_trial_only_clients,
        "disable_events": advanced.disable_events,
        "event_Connect": advanced.event_connect,
        "event_Crash": advanced.event_crash,
        "event_Ejecting": advanced.event_ejecting,
        "event_Kill": advanced.event_kill,
        "event_Role": advanced.event_role,
        "event_Takeoff": advanced.event_takeoff,
        "server_can_screenshot": advanced.server_can_screenshot,
        "voice_chat_server": advanced.voice_chat_server,
        "resume_mode": advanced.resume_mode,
        "maxPing": advanced.max_ping,
        "client_inbound_limit": advanced.client_inbound_limit,
        "client_outbound_limit": advanced.client_outbound_limit,
    }
