"""Refusals of the domain rules.

A `DomainError`'s `str()` is one plain sentence saying what is wrong and what to do; the Discord
cogs show it to users as it is, so it never names internals.
"""

from bot.domain.money import format_cents


class DomainError(Exception):
    """A command broke a rule; the message is one sentence for the user."""


class NotAllowed(DomainError):
    """The actor may not do this (wrong member, role or guild)."""


class InvalidRequest(DomainError):
    """The request itself makes no sense (a time in the past, a duration out of limits...)."""


class NotFound(DomainError):
    """The thing acted on does not exist."""


class Conflict(DomainError):
    """The request does not fit the current state (e.g. the session has already ended)."""


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
