"""Config/options.lua: `options = {...}` with the unattended-server basics and Tacview's plugin.

Tacview reads its settings from `options.plugins.Tacview` and accepts its ports only as strings.
The section is written even when Tacview is off, so an image with the exporter installed is
switched off explicitly rather than left on its own defaults.
"""

from __future__ import annotations

from bot.dcs.lua import LuaValue, lua_assignment, lua_comment
from bot.dcs.session import SessionOptions
from bot.domain.settings import SquadronSettings, TacviewSettings

PATH = "Config/options.lua"


def render(settings: SquadronSettings, session: SessionOptions) -> bytes:
    options: dict[str, LuaValue] = {
        "miscellaneous": {"autologin": True, "collect_stat": False, "launcher": False},
        "plugins": {"Tacview": _tacview(settings.tacview)},
    }
    text = lua_comment(session.file_note()) + lua_assignment("options", options)
    return text.encode("utf-8")


def _tacview(tacview: TacviewSettings) -> dict[str, LuaValue]:
    return {
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
