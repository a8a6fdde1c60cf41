"""Leases: which process does the timed work, and the fencing token that proves it still may.

A lease has a name, an owner and an expiry, kept in the store's own engine. Whoever acquires it
gets a fencing token one higher than any before it. The holder renews before the expiry; once
the expiry has passed (by the clock of whoever looks) anyone may take it over, with a new token.
An append fenced by a lease (``append(..., fence=lease)``) is refused with ``LeaseLost``,
atomically with the append, unless that lease's token is still the current one and unexpired:
a process paused past its lease cannot act on the authority it had.

The rules are here as plain functions of the stored lease and the time; backends apply them
inside one transaction (memory, SQLite) or as DynamoDB conditions that say the same.
"""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from eventstore.errors import LeaseLost


@dataclass(frozen=True, slots=True)
class Lease:
    """A lease as granted: ``token`` grows with every acquisition of ``name``."""

    name: str
    owner: str
    token: int
    expires_at: datetime


def check_request(name: object, owner: object, duration: object) -> None:
    if not isinstance(name, str) or not name:
        raise ValueError(f"A lease name must be a non-empty string, not {name!r}.")
    if not isinstance(owner, str) or not owner:
        raise ValueError(f"A lease owner must be a non-empty string, not {owner!r}.")
    if not isinstance(duration, timedelta) or duration <= timedelta(0):
        raise ValueError(f"A lease lasts a positive timedelta, not {duration!r}.")


def taken(
    current: Lease | None, name: str, owner: str, now: datetime, expires_at: datetime
) -> Lease | None:
    """The lease granted to ``owner`` until ``expires_at``, or None while another holds it."""
    if is_live(current, now):
        return None
    token = current.token + 1 if current is not None else 1
    return Lease(name, owner, token, expires_at)


def is_live(current: Lease | None, now: datetime) -> bool:
    """Whether a stored lease is held by someone at ``now``."""
    return current is not None and now < current.expires_at


def holds(current: Lease | None, lease: Lease, now: datetime) -> bool:
    """Whether ``lease`` is still the current, unexpired grant of its name at ``now``."""
    return (
        current is not None
        and current.token == lease.token
        and current.owner == lease.owner
        and now < current.expires_at
    )


def renewed(current: Lease | None, lease: Lease, now: datetime, expires_at: datetime) -> Lease:
    if not holds(current, lease, now):
        raise LeaseLost(lease.name, lease.token)
    return replace(lease, expires_at=expires_at)


def released(current: Lease | None, lease: Lease, now: datetime) -> Lease | None:
    """The stored lease after ``lease`` is given up (expired now, token kept), or None when
    ``lease`` is no longer the current grant and there is nothing to change."""
    if current is None or current.token != lease.token:
        return None
    return replace(current, expires_at=min(current.expires_at, now))
