"""Turning verified webhook deliveries into ledger facts, each exactly once.

Exactly once, in layers: the squadron's decider credits a purchase at most once, however late
the event (so two different events for one session, which name its one purchase, credit once;
a payment for a checkout other than its purchase's is refused below), and each append carries
an idempotency key (the session id for a credit, the Stripe event id for a close or a refund),
so a redelivered event writes nothing. A duplicate is answered 200. A refund event carries the
charge's refunded total, and the ledger brings what it reversed up to that total, so partial
refunds arriving in any order, or twice, reverse each cent once.

A payment credits only the purchase rr started: in the guild its metadata names, for that
checkout session, buyer and amount. rr records a purchase before anyone sees its checkout link,
so a purchase this process has not heard of was started by another process whose events have
not reached this one yet: the answer is 503 and Stripe delivers the event again later. Anything
else that does not match is not credited, and the operators are told.

The answer goes back as soon as the fact is recorded; notices go out in the background. The
one call out of the process on the way (finding a refunded charge's purchase at the provider)
is bounded by ``lookup_timeout``; when it runs out the answer is 503 and Stripe tries again.
"""

import asyncio
import logging
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any, TypeGuard

from bot.clock import Clock
from bot.domain.errors import DomainError
from bot.domain.squadron import Purchase
from bot.notify import AdminAlertNotice, CreditsLandedNotice, Notifier, PurchaseClosedNotice
from bot.payments.ledger import PurchaseLedger
from bot.payments.provider import CheckoutProvider
from bot.payments.signature import DeliveryRejected, verified_event

log = logging.getLogger("rr.payments")


class WebhookResult(StrEnum):
    CREDITED = "credited"
    DUPLICATE = "duplicate"
    NOT_YET_KNOWN = "not_yet_known"
    AWAITING_PAYMENT = "awaiting_payment"
    CLOSED = "closed"
    REFUNDED = "refunded"
    IGNORED = "ignored"
    REFUSED = "refused"
    REJECTED = "rejected"


@dataclass(frozen=True)
class WebhookOutcome:
    """What the endpoint answers: ``status`` for Stripe, ``result`` and a short ``detail``."""

    status: int
    result: WebhookResult
    detail: str = ""


@dataclass(frozen=True)
class _Purchase:
    guild_id: str
    buyer_id: str
    purchase_id: str


class WebhookHandler:
    """Verifies, records and answers one delivery at a time; see the module docstring."""

    def __init__(
        self,
        *,
        ledger: PurchaseLedger,
        provider: CheckoutProvider,
        notifier: Notifier,
        clock: Clock,
        currency: str,
        tolerance: timedelta,
        lookup_timeout: timedelta,
    ) -> None:
        self._ledger = ledger
        self._provider = provider
        self._notifier = notifier
        self._clock = clock
        self._currency = currency
        self._tolerance = tolerance
        self._lookup_timeout = lookup_timeout
        self._background: set[asyncio.Task[None]] = set()

    async def handle(self, raw_body: bytes, signature_header: str | None) -> WebhookOutcome:
        """``raw_body`` is already bounded: the route refuses a longer one before reading it."""
        try:
            event = verified_event(
                raw_body,
                signature_header,
                self._provider.webhook_secret,
                now=self._clock.now(),
                tolerance=self._tolerance,
            )
        except DeliveryRejected as rejection:
            log.warning("stripe delivery rejected", extra={"reason": str(rejection)})
            return WebhookOutcome(400, WebhookResult.REJECTED, str(rejection))
        event_id, event_type = event["id"], event["type"]
        try:
            outcome = await self._dispatch(event_id, event_type, event["data"]["object"])
        except DomainError as refusal:
            # A rule refused the fact; Stripe delivering the same event again cannot change that.
            fields = {"event_id": event_id, "type": event_type, "refusal": str(refusal)}
            log.error("stripe event refused", extra=fields)
            self._alert(f"Stripe event {event_id} ({event_type}) was not recorded: {refusal}")
            outcome = WebhookOutcome(200, WebhookResult.REFUSED, str(refusal))
        log.info(
            "stripe event",
            extra={"event_id": event_id, "type": event_type, "outcome": outcome.result.value},
        )
        return outcome

    async def aclose(self) -> None:
        """Wait for the notices still under way."""
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    async def _dispatch(
        self, event_id: str, event_type: str, obj: Mapping[str, Any]
    ) -> WebhookOutcome:
        if event_type == "checkout.session.completed":
            if obj.get("payment_status") != "paid":
                return WebhookOutcome(200, WebhookResult.AWAITING_PAYMENT)
            return await self._credit(event_id, obj)
        if event_type == "checkout.session.async_payment_succeeded":
            return await self._credit(event_id, obj)
        if event_type == "checkout.session.async_payment_failed":
            return await self._close(event_id, obj, "payment_failed")
        if event_type == "checkout.session.expired":
            return await self._close(event_id, obj, "expired")
        if event_type == "charge.refunded":
            return await self._refund(event_id, obj)
        return WebhookOutcome(200, WebhookResult.IGNORED, f"{event_type} is not used")

    async def _credit(self, event_id: str, session: Mapping[str, Any]) -> WebhookOutcome:
        purchase = _purchase_of(session.get("metadata"))
        session_id = session.get("id")
        if purchase is None or not _text(session_id):
            return _not_ours(session)
        amount = _cents(session.get("amount_total"))
        if amount is None or not self._in_our_currency(session):
            # Never credit an amount rr cannot read as its own cents: tell the operators.
            self._alert(
                f"Checkout {session_id} for purchase {purchase.purchase_id} was paid "
                f"with amount {session.get('amount_total')!r} {session.get('currency')!r}, "
                f"which rr cannot credit in {self._currency}; credit it by hand."
            )
            return WebhookOutcome(200, WebhookResult.REFUSED, "amount or currency not usable")
        started = await self._ledger.purchase(purchase.guild_id, purchase.purchase_id)
        if started is None:
            log.warning(
                "payment for a purchase not known yet",
                extra={"guild_id": purchase.guild_id, "purchase_id": purchase.purchase_id},
            )
            return WebhookOutcome(
                503, WebhookResult.NOT_YET_KNOWN, "purchase not known yet; retry later"
            )
        mismatch = _mismatch(started, purchase, session_id, amount)
        if mismatch is not None:
            self._alert(
                f"Checkout {session_id} for purchase {purchase.purchase_id} in guild "
                f"{purchase.guild_id} was paid but not credited: {mismatch}. Check the payment "
                "in Stripe and credit it by hand if it is genuine."
            )
            return WebhookOutcome(200, WebhookResult.REFUSED, mismatch)
        credited = await self._ledger.record_purchase(
            purchase.guild_id,
            purchase.purchase_id,
            amount,
            purchase.buyer_id,
            session_id,
            event_id,
        )
        if not credited:
            return WebhookOutcome(200, WebhookResult.DUPLICATE)
        self._later(self._tell_credits_landed(purchase, amount))
        return WebhookOutcome(200, WebhookResult.CREDITED)

    async def _close(
        self, event_id: str, session: Mapping[str, Any], reason: str
    ) -> WebhookOutcome:
        purchase = _purchase_of(session.get("metadata"))
        if purchase is None:
            return _not_ours(session)
        closed = await self._ledger.close_purchase(
            purchase.guild_id, purchase.purchase_id, reason, event_id
        )
        if not closed:
            return WebhookOutcome(200, WebhookResult.DUPLICATE, "already credited or closed")
        notice = PurchaseClosedNotice(
            guild_id=purchase.guild_id,
            buyer_id=purchase.buyer_id,
            purchase_id=purchase.purchase_id,
            amount_cents=_cents(session.get("amount_total")) or 0,
            reason=reason,
        )
        self._later(self._notifier.notify(notice))
        return WebhookOutcome(200, WebhookResult.CLOSED, reason)

    async def _refund(self, event_id: str, charge: Mapping[str, Any]) -> WebhookOutcome:
        purchase = _purchase_of(charge.get("metadata"))
        payment_intent = charge.get("payment_intent")
        if purchase is None and isinstance(payment_intent, str):
            async with asyncio.timeout(self._lookup_timeout.total_seconds()):
                metadata = await self._provider.purchase_metadata(payment_intent)
            purchase = _purchase_of(metadata)
        if purchase is None:
            return _not_ours(charge)
        refunded_total = _cents(charge.get("amount_refunded"))
        if refunded_total is None:
            return WebhookOutcome(200, WebhookResult.IGNORED, "no refunded amount")
        if not self._in_our_currency(charge):
            self._alert(
                f"Charge {charge.get('id')} for purchase {purchase.purchase_id} was refunded in "
                f"{charge.get('currency')!r}, not {self._currency}; reverse it by hand."
            )
            return WebhookOutcome(200, WebhookResult.REFUSED, "currency not usable")
        shortfall = await self._ledger.record_stripe_refund(
            purchase.guild_id, purchase.purchase_id, refunded_total, event_id
        )
        if shortfall:
            self._alert(
                f"A Stripe refund for purchase {purchase.purchase_id} in guild "
                f"{purchase.guild_id} came after part of that credit was spent; "
                f"{shortfall} cents could not be taken back."
            )
        return WebhookOutcome(200, WebhookResult.REFUNDED)

    async def _tell_credits_landed(self, purchase: _Purchase, amount_cents: int) -> None:
        balance = await self._ledger.balance(purchase.guild_id)
        await self._notifier.notify(
            CreditsLandedNotice(
                guild_id=purchase.guild_id,
                buyer_id=purchase.buyer_id,
                amount_cents=amount_cents,
                balance=balance,
            )
        )

    def _in_our_currency(self, obj: Mapping[str, Any]) -> bool:
        return str(obj.get("currency", "")).lower() == self._currency

    def _alert(self, message: str) -> None:
        """Tell the operators (``guild_id=None``) what needs a person."""
        self._later(self._notifier.notify(AdminAlertNotice(None, message)))

    def _later(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` after the answer, keeping it referenced until it ends."""
        task = asyncio.create_task(_logged(work))
        self._background.add(task)
        task.add_done_callback(self._background.discard)


async def _logged(work: Coroutine[Any, Any, None]) -> None:
    try:
        await work
    except Exception:
        log.exception("payment notice failed")


def _purchase_of(metadata: Any) -> _Purchase | None:
    """The rr purchase named by a session's (or charge's) metadata, if it names one."""
    if not isinstance(metadata, Mapping):
        return None
    guild_id, buyer_id, purchase_id = (
        metadata.get(key) for key in ("guild_id", "buyer_id", "purchase_id")
    )
    if not (_text(guild_id) and _text(buyer_id) and _text(purchase_id)):
        return None
    return _Purchase(guild_id, buyer_id, purchase_id)


def _mismatch(started: Purchase, paid: _Purchase, session_id: str, amount: int) -> str | None:
    """How a payment differs from the purchase rr started, if it does."""
    if started.checkout_session_id != session_id:
        return f"the purchase belongs to checkout {started.checkout_session_id}"
    if started.buyer_id != paid.buyer_id:
        return f"the purchase was started by member {started.buyer_id}, not {paid.buyer_id}"
    if started.amount_cents != amount:
        return f"{amount} cents were paid for a purchase of {started.amount_cents} cents"
    return None


def _text(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and bool(value)


def _cents(value: Any) -> int | None:
    """``value`` if it is a whole, non-negative number of cents (JSON true is not), else None."""
    return value if type(value) is int and value >= 0 else None


def _not_ours(obj: Mapping[str, Any]) -> WebhookOutcome:
    """Something else on the same Stripe account (no rr metadata): not rr's to record."""
    return WebhookOutcome(200, WebhookResult.IGNORED, f"{obj.get('id')} is not an rr purchase")
