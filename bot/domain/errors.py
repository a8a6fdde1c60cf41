"""Refusals of the domain rules.

A `DomainError`'s `str()` is one plain sentence saying what is wrong, never naming internals or
commands. An error the cogs word themselves carries its facts as fields (`NotFound.what` and
`key`, `Conflict.reason`); the cogs (`cogs.utils.errors`) turn those into the member's sentence
with the commands to use, and show the others' `str()` as it is.
"""

from typing import Literal

from bot.domain.money import format_cents

Missing = Literal["session", "purchase", "paid_request", "credited_purchase", "mission"]
"""What a `NotFound` looked for."""

ConflictReason = Literal["session_exists"]
"""The codes of the conflicts the cogs word themselves."""

_MISSING: dict[Missing, str] = {
    "session": "There is no such session.",
    "purchase": "There is no such purchase for this squadron; check the purchase id.",
    "paid_request": "No paid request has that purchase id in this squadron; check the id.",
    "credited_purchase": "No credited purchase has that id in this squadron; check the id.",
    "mission": "The squadron's library has no mission by that name; check its name.",
}


class DomainError(Exception):
    """A command broke a rule; the message is one sentence for the user."""


class NotAllowed(DomainError):
    """The actor may not do this (wrong member, role or guild)."""


class InvalidRequest(DomainError):
    """The request itself makes no sense (a time in the past, a duration out of limits...)."""


class NotFound(DomainError):
    """The thing acted on does not exist: ``what`` it is, and the ``key`` it was looked up by
    where the one refusing knows it."""

    def __init__(self, what: Missing, key: str | None = None) -> None:
        self.what: Missing = what
        self.key = key
        super().__init__(_MISSING[what])


class Conflict(DomainError):
    """The request does not fit the current state (e.g. the session has already ended);
    ``reason`` names the conflicts the cogs word themselves, None for the rest."""

    def __init__(self, message: str, *, reason: ConflictReason | None = None) -> None:
        self.reason = reason
        super().__init__(message)


class InsufficientCredit(DomainError):
    """The squadron's available credit does not cover what the request would reserve: the
    whole request, or with ``shortest_session`` the shortest session a start needs."""

    def __init__(
        self,
        shortfall_cents: int,
        needed_cents: int,
        available_cents: int,
        currency: str = "usd",
        *,
        shortest_session: bool = False,
    ) -> None:
        self.shortfall_cents = shortfall_cents
        self.needed_cents = needed_cents
        self.available_cents = available_cents
        self.currency = currency
        self.shortest_session = shortest_session
        what = "The shortest session" if shortest_session else "That"
        super().__init__(
            f"{what} needs {format_cents(needed_cents, currency)} of credit but the squadron "
            f"has {format_cents(available_cents, currency)} available; buy "
            f"{format_cents(shortfall_cents, currency)} more with /credits buy."
        )
