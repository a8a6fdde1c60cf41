"""Who is on a server, as its agent reports it, and when a server nobody is on counts as idle.

rr records no event per join or leave (players come and go too often): the watch of the process
that receives a server's heartbeats keeps what it saw in memory (``Watched``) and decides with
`idle_verdict`. Only the warning, a member keeping the server running, and the stop are
recorded, so every process and a restart honour them. A server whose reports stopped coming is
never judged idle here: that is the reconciler's business (a lost server), not an empty one.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from bot.domain.events import IdleCause
from bot.domain.session import SessionState, SessionStatus

IDLE_WARNING_LEAD = timedelta(minutes=5)
"""How long before an idle stop the squadron is warned (time to join or press Keep running)."""
KEEP_RUNNING_FOR = timedelta(minutes=30)
"""How long Keep running holds off the next idle warning."""
SIDES = {0: "Spectators", 1: "Red", 2: "Blue"}
"""DCS's coalition numbers, as ``net.get_player_info`` gives them."""


@dataclass(frozen=True, slots=True)
class Pilot:
    name: str
    side: int
    slot: str


@dataclass(frozen=True, slots=True)
class ServerStatus:
    """The latest report of a server: DCS's state, the mission, who is on it; ``flown`` counts
    the pilots seen on it since this process has watched it."""

    state: str
    mission: str
    pilots: tuple[Pilot, ...]
    reported_at: datetime
    flown: int

    @property
    def shown(self) -> tuple[str, str, tuple[Pilot, ...]]:
        """What a status message shows; a new report with the same is no news."""
        return (self.state, self.mission, self.pilots)


@dataclass(frozen=True, slots=True)
class Watched:
    """What a process saw of one launch: reports since ``since``, the last one with a pilot on
    at ``last_pilot_at``; ``saw_ready``: it watched from before the server was ready, so it
    knows whether anybody joined since."""

    since: datetime
    last_pilot_at: datetime | None
    saw_ready: bool


@dataclass(frozen=True, slots=True)
class IdleRules:
    """A squadron's idle stop: after ``unjoined`` when nobody joined since the server was
    ready, after ``empty`` once the last pilot left; None turns a rule off."""

    unjoined: timedelta | None
    empty: timedelta | None

    @classmethod
    def from_minutes(cls, unjoined: int, empty: int) -> "IdleRules":
        return cls(
            timedelta(minutes=unjoined) if unjoined else None,
            timedelta(minutes=empty) if empty else None,
        )


@dataclass(frozen=True, slots=True)
class Warn:
    cause: IdleCause
    idle_since: datetime


Verdict = Warn | Literal["withdraw", "stop"] | None


def idle_verdict(
    session: SessionState, watched: Watched, pilots_on: bool, rules: IdleRules, now: datetime
) -> Verdict:
    """What to do about a running server whose latest report is fresh: warn, withdraw the
    warning (a pilot joined), stop it (warned, its stop time come, still nobody on), or nothing.
    """
    if session.status is not SessionStatus.RUNNING or session.ready_at is None:
        return None
    warning = session.idle_warning
    if pilots_on:
        return "withdraw" if warning is not None else None
    if warning is not None:
        return "stop" if now >= warning.stop_at else None
    postponed = session.idle_postponed_until
    if postponed is not None and now < postponed:
        return None
    cause: IdleCause
    if watched.last_pilot_at is not None:
        cause, since, limit = "empty", watched.last_pilot_at, rules.empty
    elif watched.saw_ready:
        cause, since, limit = "unjoined", session.ready_at, rules.unjoined
    else:  # watching since a restart: nobody on since then, whatever came before
        cause, since, limit = "empty", max(watched.since, session.ready_at), rules.empty
    if limit is None or now - since < limit:
        return None
    return Warn(cause, since)
