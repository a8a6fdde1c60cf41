"""The sandbox's fast clock carried across restarts, anchored in the event store.

A scaled clock that started again from real time at every start would jump backwards after a
restart (an hour of sandbox time at 60× is one real minute), so a server still running at
shutdown looked lost and bookings moved. Instead the store's stream ``clock#sandbox`` holds
``ClockAnchored`` events: the clock's time at a real (wall-clock) instant, and the scale it ran
at. At start-up the clock resumes where the latest anchor says it is now — sandbox time kept
running at that scale while rr was stopped, as the local stand-in servers did (their deadlines
are real times worked out with that scale), and as time passes in production while a bot is
down. A new anchor is recorded on the first start and whenever the scale changes.
"""

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from bot.clock import ScaledClock
from eventstore import ConcurrencyError, EventStore, NewEvent, StoredEvent

log = logging.getLogger("rr.clock")

STREAM = "clock#sandbox"
ANCHORED = "ClockAnchored"
_ATTEMPTS = 3


def _wall_now() -> datetime:
    return datetime.now(UTC)


async def carry_clock(
    store: EventStore, clock: ScaledClock, wall: Callable[[], datetime] = _wall_now
) -> datetime:
    """Resume ``clock`` from the latest anchor (or anchor it now); returns its time now."""
    for _ in range(_ATTEMPTS):
        latest = await _latest(store)
        real_now = wall()
        if latest is not None:
            clock.resume_at(_carried(latest, real_now))
            if latest.data["scale"] == clock.scale:
                return clock.now()
        anchor = {
            "clock_time": clock.now().isoformat(),
            "real_time": real_now.isoformat(),
            "scale": clock.scale,
        }
        try:
            await store.append(
                STREAM, latest.version if latest else 0, [NewEvent(ANCHORED, anchor)]
            )
        except ConcurrencyError:
            continue  # another process anchored meanwhile: carry its anchor on instead
        log.info("sandbox clock anchored", extra=anchor)
        return clock.now()
    raise RuntimeError(f"The sandbox clock's stream {STREAM} kept changing; start rr again.")


async def _latest(store: EventStore) -> StoredEvent | None:
    latest = None
    async for event in store.read(STREAM):
        latest = event
    return latest


def _carried(anchor: StoredEvent, real_now: datetime) -> datetime:
    clock_time = datetime.fromisoformat(anchor.data["clock_time"])
    real_time = datetime.fromisoformat(anchor.data["real_time"])
    return clock_time + (real_now - real_time) * anchor.data["scale"]
