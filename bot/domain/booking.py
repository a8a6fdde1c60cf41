"""Whether a start or booking could be carried out now, apart from credit.

Asked before a member is offered what commits them (a quote's confirm button, a shortfall's
Buy button) and again when the request is carried out, so that nobody pays for a start or
booking that is then refused for a reason that was known before the payment.
"""

from bot.domain import session as sessions
from bot.domain import squadron as squadrons
from bot.domain.session import Book
from bot.domain.squadron import SquadronState


def require_bookable(book: Book, squadron: SquadronState) -> None:
    """Raise the ``DomainError`` that would refuse ``book`` now for any reason but credit: the
    booking rules (the squadron it is for, the duration's range, a start in the past or past
    the horizon) and the squadron's limit on servers at once."""
    sessions.decide(book, None)
    squadrons.require_room(squadron, book.session_id, book.limits)
