"""Buying credit: open a checkout for a purchase, and take in what the provider reports back."""

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.clock import Clock
from bot.domain.actor import Actor
from bot.domain.money import format_cents
from bot.notify import Notifier
from bot.payments.config import PaymentsConfig
from bot.payments.errors import PaymentError
from bot.payments.ledger import PurchaseLedger
from bot.payments.provider import CheckoutProvider, CheckoutRequest
from bot.payments.sandbox import SandboxCheckoutProvider
from bot.payments.stripe_provider import StripeCheckoutProvider
from bot.payments.webhook import WebhookHandler, WebhookOutcome

log = logging.getLogger("rr.payments")


@dataclass(frozen=True)
class CheckoutLink:
    """Where the buyer pays (to DM them), and the purchase it belongs to."""

    url: str
    purchase_id: str
    amount_cents: int


class PaymentService:
    """``services.payments``: ``start_checkout`` for cogs, ``handle_webhook`` for the web app."""

    def __init__(
        self,
        *,
        config: PaymentsConfig,
        ledger: PurchaseLedger,
        provider: CheckoutProvider,
        notifier: Notifier,
        clock: Clock,
    ) -> None:
        self.config = config
        self.provider = provider
        self._ledger = ledger
        self._clock = clock
        self._webhooks = WebhookHandler(
            ledger=ledger,
            provider=provider,
            notifier=notifier,
            clock=clock,
            currency=config.currency,
            tolerance=config.webhook_tolerance,
            lookup_timeout=config.provider_lookup_timeout,
        )

    async def start_checkout(
        self,
        actor: Actor,
        guild_id: str,
        amount_cents: int,
        intent: Mapping[str, Any] | None = None,
    ) -> CheckoutLink:
        """Open a checkout for ``amount_cents``, then record ``PurchaseStarted``.

        ``intent`` is what to do once paid ({"action": "start" | "book", ...}). Raises
        ``PaymentError`` with one plain sentence, having recorded nothing, when the amount is out
        of bounds or the provider fails, and ``Conflict`` (opening nothing) when the buyer
        already holds the most open checkouts allowed.
        """
        self._check(actor, guild_id, amount_cents)
        lapsed_before = self._clock.now() - self.config.checkout_expiry
        await self._ledger.check_open_purchases(
            guild_id, actor.user_id, lapsed_before=lapsed_before
        )
        purchase_id = uuid.uuid4().hex
        request = CheckoutRequest(
            purchase_id=purchase_id,
            guild_id=guild_id,
            buyer_id=actor.user_id,
            amount_cents=amount_cents,
            currency=self.config.currency,
            squadron_name=await self._ledger.squadron_name(guild_id),
            expires_at=self._clock.now() + self.config.checkout_expiry,
        )
        opened = await self.provider.open_checkout(request)
        await self._ledger.record_purchase_started(
            actor,
            guild_id,
            purchase_id,
            amount_cents,
            opened.session_id,
            intent,
            lapsed_before=lapsed_before,
        )
        log.info(
            "checkout started",
            extra={
                "guild_id": guild_id,
                "user_id": actor.user_id,
                "purchase_id": purchase_id,
                "amount_cents": amount_cents,
                "provider": self.provider.name,
            },
        )
        return CheckoutLink(url=opened.url, purchase_id=purchase_id, amount_cents=amount_cents)

    async def handle_webhook(self, raw_body: bytes, signature_header: str | None) -> WebhookOutcome:
        """Verify a delivery (signature and age) before reading it, then record what it says."""
        return await self._webhooks.handle(raw_body, signature_header)

    async def aclose(self) -> None:
        """Let the notices under way finish, then close the provider's connections."""
        await self._webhooks.aclose()
        await self.provider.close()

    def _check(self, actor: Actor, guild_id: str, amount_cents: int) -> None:
        if actor.guild_id is not None and actor.guild_id != guild_id:
            raise PaymentError("You can only buy credit for the Discord server you are in.")
        if type(amount_cents) is not int:
            raise PaymentError("The amount must be a whole number of cents.")
        low, high = self.config.min_purchase_cents, self.config.max_purchase_cents
        if amount_cents < low:
            raise PaymentError(
                f"The smallest purchase is {self._money(low)}; choose that or a larger amount."
            )
        if amount_cents > high:
            raise PaymentError(
                f"The largest single purchase is {self._money(high)}; choose a smaller amount "
                "and buy again if you need more."
            )

    def _money(self, cents: int) -> str:
        return format_cents(cents, self.config.currency)


def build_payment_service(
    config: PaymentsConfig,
    *,
    ledger: PurchaseLedger,
    notifier: Notifier,
    clock: Clock,
) -> PaymentService:
    """The service with the provider ``config`` names."""
    provider: CheckoutProvider
    if config.provider == "stripe":
        assert config.stripe_api_key and config.stripe_webhook_secret  # checked by the config
        provider = StripeCheckoutProvider(
            api_key=config.stripe_api_key,
            webhook_secret=config.stripe_webhook_secret,
            public_url=config.public_url,
            api_base=config.stripe_api_base,
            network_retries=config.stripe_network_retries,
        )
    else:
        provider = SandboxCheckoutProvider(
            public_url=config.public_url, clock=clock, in_real_discord=config.sandbox_in_discord
        )
    return PaymentService(
        config=config,
        ledger=ledger,
        provider=provider,
        notifier=notifier,
        clock=clock,
    )
