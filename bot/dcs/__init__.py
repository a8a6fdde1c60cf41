"""DCS, LotAtc, SRS and Tacview configuration files rendered from a squadron's settings."""

from bot.dcs.render import render_server_files
from bot.dcs.session import SessionOptions

__all__ = ["SessionOptions", "render_server_files"]
