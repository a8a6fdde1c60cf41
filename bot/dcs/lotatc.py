"""Mods/Services/LotAtc/config.custom.lua: `lotatc_inst.options = {...}`, LotAtc's overrides.

LotAtc reads its shipped config.lua and then this file, which survives LotAtc updates. The
server runs in dedicated mode; when SRS runs too, LotAtc's transponder link points at it.
"""

from __future__ import annotations

from bot.dcs.lua import LuaValue, lua_assignment, lua_comment
from bot.dcs.session import SessionOptions
from bot.domain.settings import SRS_LOTATC_EXPORT_PORT, SquadronSettings

PATH = "Mods/Services/LotAtc/config.custom.lua"


def render(settings: SquadronSettings, session: SessionOptions) -> bytes:
    lotatc, srs = settings.lotatc, settings.srs
    options: dict[str, LuaValue] = {
        "use_atc": True,
        "dedicated_mode": True,
        "port": lotatc.port,
        "blue_password": lotatc.blue_password,
        "red_password": lotatc.red_password,
        "blue_max_clients": lotatc.blue_max_clients,
        "red_max_clients": lotatc.red_max_clients,
        "chat_connect_message": lotatc.connect_message,
        "srs_use_transponder": srs.enabled,
    }
    if srs.enabled:
        options |= {
            "srs_server": "127.0.0.1",
            "srs_server_port": srs.port,
            "srs_transponder_port": SRS_LOTATC_EXPORT_PORT,
        }
    text = lua_comment(session.file_note()) + lua_assignment("lotatc_inst.options", options)
    return text.encode("utf-8")
