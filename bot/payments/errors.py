"""The one error buyers see from payments."""

from bot.domain.errors import DomainError


class PaymentError(DomainError):
    """A checkout could not be started; ``str()`` is one plain sentence for the buyer.

    Nothing has been recorded when it is raised.
    """
