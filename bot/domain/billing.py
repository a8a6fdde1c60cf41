"""The billing rule, stated once. Every path that ends a session bills through `bill()`.

A session is billed at the hourly rate it was booked at, for the whole minutes — the last one
rounded up — from its *billable start* to its *billable end*:

- The billable start is the later of the start the squadron asked for (the moment it pressed
  start, for a start now) and the launch of its server. Boot time before a booked start is
  rr's: rr launches a booked server early (the boot lead) so that it is ready at its start,
  and bills from the start. A start now boots inside its own time, as it asked for the server
  now. EC2 reports a launch in whole seconds, so a launch may appear to precede the press of
  the button; taking the later of the two keeps that from adding a minute.
- The billable end is the earlier of the booked end (with every extension) and the moment the
  session was stopped: when a member or an operator asked for the stop, when its credit ran
  out, or when a lost server was last known running. That moment is recorded with the stop
  request (``TerminationRequested.stop_at``), before the server is terminated and before anyone
  is told, so a crash, a failed cloud call or a restart hours later never moves it. The minutes
  rr then gives the server to end its mission cleanly (``GracefulEndStarted``: DCS saves its
  Tacview, track and save files) come after that moment, so they are rr's.
- A session whose server never served a game — its launch failed, or it never became ready —
  is billed nothing.

So a session that runs to its booked end is billed exactly its booked minutes plus its
extensions, and no session is ever billed past them.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.domain.pricing import cost_at_rate

_MINUTE = timedelta(minutes=1)
NOTHING_SERVED = frozenset({"not_ready", "launch_failed"})
"""Reasons a session ends without its server ever serving a game: billed nothing."""


class Billable(Protocol):
    """The recorded facts of a session the bill is computed from (``SessionState`` has them)."""

    @property
    def start_at(self) -> datetime: ...

    @property
    def end_at(self) -> datetime: ...

    @property
    def rate_cents_per_hour(self) -> int: ...

    @property
    def launched_at(self) -> datetime | None: ...

    @property
    def stop_at(self) -> datetime | None: ...

    @property
    def termination_reason(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Bill:
    """What ending a session charges: ``minutes`` at its rate, ``cents``; ``ended_at`` is its
    billable end (never before its launch), the time its end records."""

    minutes: int
    cents: int
    ended_at: datetime


def billable_start(session: Billable) -> datetime | None:
    """The later of the requested start and the launch; None while nothing was launched."""
    if session.launched_at is None:
        return None
    return max(session.launched_at, session.start_at)


def billable_end(session: Billable, now: datetime) -> datetime:
    """The earlier of the booked end and the recorded stop (``now`` when none is recorded, as
    for a launch that failed)."""
    stop = session.stop_at if session.stop_at is not None else now
    return min(stop, session.end_at)


def bill(session: Billable, now: datetime) -> Bill:
    """The bill of a session ending at ``now``, from its recorded facts alone: ``now`` only
    dates the end of a session that has no recorded stop, and is never billed."""
    ended_at = billable_end(session, now)
    start = billable_start(session)
    if session.launched_at is not None:
        ended_at = max(ended_at, session.launched_at)
    if start is None or session.termination_reason in NOTHING_SERVED or ended_at <= start:
        return Bill(0, 0, ended_at)
    minutes = -(-(ended_at - start) // _MINUTE)
    return Bill(minutes, cost_at_rate(session.rate_cents_per_hour, minutes), ended_at)


def funded_until(start: datetime, reserved_cents: int, rate_cents_per_hour: int) -> datetime:
    """When a reservation runs out: the most whole minutes it pays for at the rate
    (``ceil(minutes × rate / 60) ≤ reserved``), counted from ``start``."""
    minutes = max(reserved_cents, 0) * 60 // rate_cents_per_hour
    return start + timedelta(minutes=minutes)


def credit_runs_out(session: Billable, reserved_cents: int) -> datetime | None:
    """When a launched session's reservation stops paying for it, counted from its billable
    start; None when it never launched or costs nothing."""
    start = billable_start(session)
    if start is None or session.rate_cents_per_hour <= 0:
        return None
    return funded_until(start, reserved_cents, session.rate_cents_per_hour)
