"""What a payments provider does for rr: open a hosted checkout, and sign its webhooks.

Both providers (Stripe and the local sandbox) deliver their outcome the same way: a
Stripe-shaped event, signed with ``webhook_secret``, posted to ``POST /stripe/webhook``.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from aiohttp import web


@dataclass(frozen=True)
class CheckoutRequest:
    """One purchase to open a checkout for."""

    purchase_id: str
    guild_id: str
    buyer_id: str
    amount_cents: int
    currency: str
    squadron_name: str
    expires_at: datetime

    @property
    def product_name(self) -> str:
        """The line the buyer sees on the checkout page and their receipt."""
        return f"DCS server time credit for {self.squadron_name}"

    @property
    def metadata(self) -> dict[str, str]:
        """What rr attaches to the session (and its payment) to find the purchase again."""
        return {
            "guild_id": self.guild_id,
            "buyer_id": self.buyer_id,
            "purchase_id": self.purchase_id,
        }


@dataclass(frozen=True)
class OpenedCheckout:
    session_id: str
    url: str


class CheckoutProvider(Protocol):
    name: str

    @property
    def webhook_secret(self) -> str:
        """The secret the provider's webhook deliveries are signed with."""
        ...

    async def open_checkout(self, request: CheckoutRequest) -> OpenedCheckout:
        """Create the hosted checkout; raises ``PaymentError`` (one plain sentence) on failure."""
        ...

    async def purchase_metadata(self, payment_intent_id: str) -> Mapping[str, str] | None:
        """Metadata of the checkout that created ``payment_intent_id``, if the provider knows."""
        ...

    def web_routes(self) -> Sequence[web.RouteDef]:
        """Pages the provider serves from the bot's own web app (none for Stripe)."""
        ...

    async def close(self) -> None: ...
