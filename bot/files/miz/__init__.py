"""DCS mission files (.miz) read safely: checked as archives, their Lua read as data only."""

from bot.files.miz.errors import MizRejected
from bot.files.miz.limits import MizLimits
from bot.files.miz.reader import check_terrain, read_mission
from bot.files.miz.summary import MissionSummary

__all__ = ["MissionSummary", "MizLimits", "MizRejected", "check_terrain", "read_mission"]
