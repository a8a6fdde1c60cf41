"""DCS, LotAtc, SRS and Tacview configuration files rendered from a squadron's settings."""

from bot.dcs.mission import MissionOptions
from bot.dcs.render import render_server_files

__all__ = ["MissionOptions", "render_server_files"]
