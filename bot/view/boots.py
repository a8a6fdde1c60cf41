"""How long servers took to boot, by size and region, and how early a booked one is launched.

Every session that became ready adds its boot (launch to ready) to a window of the latest
``BOOTS_KEPT`` boots of its size and region. A booked server is launched a high percentile
(``PERCENTILE``) of that window before its start, rounded up to a minute and kept within the
configured floor and ceiling; with fewer than ``MIN_BOOTS`` boots the configured lead stands.
"""

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

BOOTS_KEPT = 20
MIN_BOOTS = 5
PERCENTILE = 90
_MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class BootLeadRule:
    """The lead with too few boots measured (``default``), and the bounds of a measured one."""

    default: timedelta
    floor: timedelta
    ceiling: timedelta


@dataclass(frozen=True, slots=True)
class BootLead:
    """How early a booked server of one size and region is launched, and what that rests on.

    ``measured`` is the ``PERCENTILE`` of the recent ``boots`` (None with fewer than
    ``MIN_BOOTS``), and ``within`` how many of them were ready within it.
    """

    lead: timedelta
    boots: int
    measured: timedelta | None = None
    within: int = 0


def boot_lead(boot_seconds: Sequence[int], rule: BootLeadRule) -> BootLead:
    """The lead for a size and region whose recent boots took ``boot_seconds``."""
    if len(boot_seconds) < MIN_BOOTS:
        return BootLead(rule.default, len(boot_seconds))
    ordered = sorted(boot_seconds)
    rank = math.ceil(len(ordered) * PERCENTILE / 100)
    high = ordered[rank - 1]
    measured = timedelta(seconds=high)
    rounded = _MINUTE * math.ceil(measured / _MINUTE)
    lead = min(max(rounded, rule.floor), rule.ceiling)
    within = sum(1 for seconds in ordered if seconds <= high)
    return BootLead(lead, len(ordered), measured, within)


BootEntry = tuple[int, str, int]
"""One boot: when the server was ready (POSIX seconds), its session's id, how long it took
(whole seconds)."""
BootRows = list[list[Any]]
"""The window as plain JSON-ready rows: ``[region, size, [[ready, session id, took], ...]]``."""


class BootTimes:
    """The ``BOOTS_KEPT`` latest boots (by the time the server was ready) per region and size.

    Recording is idempotent and order-free: a session's boot counts once however often its
    events are applied (a forgotten session's stream delivered again), and a view folding the
    same events in another order keeps the same boots. ``rows`` and ``from_rows`` turn it into
    plain data and back, for the view's checkpoint.
    """

    def __init__(self) -> None:
        self._windows: dict[tuple[str, str], list[BootEntry]] = {}

    def record(
        self, size: str, region: str, session_id: str, ready_at: datetime, took: timedelta
    ) -> bool:
        """Add the session's boot; whether it is now among the kept ones (and was not yet)."""
        window = self._windows.setdefault((region, size), [])
        if any(entry[1] == session_id for entry in window):
            return False
        entry = (
            math.floor(ready_at.timestamp()),
            session_id,
            max(0, math.ceil(took.total_seconds())),
        )
        bisect.insort(window, entry)
        del window[:-BOOTS_KEPT]
        return entry in window

    def recent(self, size: str, region: str) -> list[int]:
        """The kept boots' durations in seconds, oldest first."""
        return [entry[2] for entry in self._windows.get((region, size), ())]

    def rows(self) -> BootRows:
        return [
            [region, size, [list(entry) for entry in window]]
            for (region, size), window in sorted(self._windows.items())
        ]

    @classmethod
    def from_rows(cls, rows: BootRows) -> "BootTimes":
        times = cls()
        for region, size, window in rows:
            times._windows[(str(region), str(size))] = sorted(
                (int(ready), str(session_id), int(took)) for ready, session_id, took in window
            )
        return times
