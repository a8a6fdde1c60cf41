"""rr's read model, its feeder and the due-action rules the scheduler follows."""

from bot.view.model import Balance, View, ViewStats
from bot.view.schedule import DueAction, ScheduleConfig

__all__ = ["Balance", "DueAction", "ScheduleConfig", "View", "ViewStats"]
