"""The squadron-ledger calls payments make (``bot.services.SquadronService`` provides them)."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from bot.domain.actor import Actor
from bot.domain.squadron import Purchase
from bot.view import Balance


class PurchaseLedger(Protocol):
    async def purchase(self, guild_id: str, purchase_id: str) -> Purchase | None:
        """The purchase as the store holds it now, whichever process started it."""
        ...

    async def squadron_name(self, guild_id: str) -> str: ...

    async def check_open_purchases(
        self, guild_id: str, buyer_id: str, *, lapsed_before: datetime
    ) -> None:
        """Refuse a buyer who already holds the most open checkouts allowed."""
        ...

    async def record_purchase_started(
        self,
        actor: Actor,
        guild_id: str,
        purchase_id: str,
        amount_cents: int,
        checkout_session_id: str,
        intent: Mapping[str, Any] | None,
        *,
        lapsed_before: datetime,
    ) -> None: ...

    async def record_purchase(
        self,
        guild_id: str,
        purchase_id: str,
        amount_cents: int,
        buyer_id: str,
        checkout_session_id: str,
        payment_event_id: str,
    ) -> bool:
        """Credit the purchase; False when the session (or the event) was already credited."""
        ...

    async def close_purchase(
        self, guild_id: str, purchase_id: str, reason: str, event_id: str
    ) -> bool:
        """Close an unpaid purchase; False when it was already credited or closed."""
        ...

    async def record_stripe_refund(
        self, guild_id: str, purchase_id: str, refunded_total_cents: int, event_id: str
    ) -> int:
        """Bring the purchase's reversed amount up to ``refunded_total_cents``; returns the
        shortfall (credit already spent that could not be taken back)."""
        ...

    async def balance(self, guild_id: str) -> Balance: ...
