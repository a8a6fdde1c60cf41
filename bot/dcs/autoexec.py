"""Config/autoexec.cfg: Lua statements DCS runs at start-up.

WebGUI on its fixed port, UPnP off (the cloud firewall decides what is reachable), crash
reports silent so a crashed server exits instead of waiting at a dialog, no server track files.
"""

from __future__ import annotations

from bot.dcs.lua import lua_assignment, lua_comment
from bot.dcs.session import SessionOptions
from bot.domain.settings import WEBGUI_PORT

PATH = "Config/autoexec.cfg"


def render(session: SessionOptions) -> bytes:
    text = (
        lua_comment(session.file_note())
        + lua_assignment("webgui_port", WEBGUI_PORT)
        + lua_assignment("crash_report_mode", "silent")
        + lua_assignment("disable_write_track", True)
        + "if not net then net = {} end\n"
        + lua_assignment("net.use_upnp", False)
    )
    return text.encode("utf-8")
