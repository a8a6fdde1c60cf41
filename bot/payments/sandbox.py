"""The embedded payments provider: a local checkout page that pays with a signed webhook.

Pressing "Pay" makes the bot's web app post a ``checkout.session.completed`` event, shaped and
signed exactly as Stripe would (with a secret generated at start-up), to its own
``POST /stripe/webhook``, so a sandbox purchase goes through the very code that handles Stripe.
The post goes to the address the page request arrived on (the listening socket, not the Host
header, so a forged Host cannot send the signed event elsewhere).

Open checkouts live in memory and expire ``checkout_expiry`` after they open, on the bot's clock
(so under RR_SANDBOX_TIME_SCALE=60 an hour-long checkout stays open for one real minute); after
a restart their links say they have expired, as a Stripe session would after its deadline. A
paid checkout's link says it was paid, expired or not, while the bot runs.
"""

import json
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

import aiohttp
import stripe
from aiohttp import web

from bot.clock import Clock
from bot.domain.money import format_cents
from bot.payments.pages import already_paid_page, html_page, message_page
from bot.payments.paths import (
    CANCEL_PATH,
    SANDBOX_CHECKOUT_PATH,
    SANDBOX_PAY_PATH,
    SUCCESS_PATH,
    WEBHOOK_PATH,
)
from bot.payments.provider import CheckoutRequest, OpenedCheckout

log = logging.getLogger("rr.payments")

_POST_TIMEOUT = aiohttp.ClientTimeout(total=10)
SANDBOX_BANNER = '<p class="banner" id="banner">Sandbox: no real money moves.</p>'
REAL_DISCORD_BANNER = (
    '<p class="banner loud" id="banner"><strong>SANDBOX PAYMENTS ON A REAL DISCORD BOT.</strong> '
    "No real money moves: pressing Pay gives this squadron free credit, and with it real "
    "servers. The operator turned this on with RR_SANDBOX_PAYMENTS=true; it is meant for "
    "trials only.</p>"
)


@dataclass(frozen=True)
class _SandboxCheckout:
    request: CheckoutRequest
    session_id: str = field(default_factory=lambda: _id("cs_sandbox_"))
    event_id: str = field(default_factory=lambda: _id("evt_sandbox_"))
    payment_intent_id: str = field(default_factory=lambda: _id("pi_sandbox_"))

    def completed_event(self, created: int) -> dict[str, Any]:
        """The ``checkout.session.completed`` event Stripe would send for this checkout, paid."""
        request = self.request
        session = {
            "id": self.session_id,
            "object": "checkout.session",
            "amount_subtotal": request.amount_cents,
            "amount_total": request.amount_cents,
            "client_reference_id": request.purchase_id,
            "currency": request.currency,
            "expires_at": int(request.expires_at.timestamp()),
            "livemode": False,
            "metadata": request.metadata,
            "mode": "payment",
            "payment_intent": self.payment_intent_id,
            "payment_status": "paid",
            "status": "complete",
        }
        return {
            "id": self.event_id,
            "object": "event",
            "created": created,
            "data": {"object": session},
            "livemode": False,
            "type": "checkout.session.completed",
        }


class SandboxCheckoutProvider:
    """Serves the checkout page itself; see the module docstring."""

    name = "sandbox"

    def __init__(self, *, public_url: str, clock: Clock, in_real_discord: bool = False) -> None:
        self._public_url = public_url
        self._clock = clock
        self._banner = REAL_DISCORD_BANNER if in_real_discord else SANDBOX_BANNER
        self._secret = "whsec_sandbox_" + secrets.token_hex(24)
        self._checkouts: dict[str, _SandboxCheckout] = {}
        self._paid: set[str] = set()
        """Purchases whose payment the bot recorded: their links say so, even once expired."""

    @property
    def webhook_secret(self) -> str:
        return self._secret

    async def open_checkout(self, request: CheckoutRequest) -> OpenedCheckout:
        checkout = _SandboxCheckout(request)
        self._checkouts[request.purchase_id] = checkout
        page = SANDBOX_CHECKOUT_PATH.format(purchase_id=request.purchase_id)
        return OpenedCheckout(session_id=checkout.session_id, url=self._public_url + page)

    async def purchase_metadata(self, payment_intent_id: str) -> Mapping[str, str] | None:
        for checkout in self._checkouts.values():
            if checkout.payment_intent_id == payment_intent_id:
                return checkout.request.metadata
        return None

    def web_routes(self) -> Sequence[web.RouteDef]:
        return (
            web.get(SANDBOX_CHECKOUT_PATH, self._checkout_page),
            web.post(SANDBOX_PAY_PATH, self._pay),
        )

    async def close(self) -> None:
        self._checkouts.clear()
        self._paid.clear()

    def _open(self, request: web.Request) -> _SandboxCheckout | None:
        checkout = self._checkouts.get(request.match_info["purchase_id"])
        if checkout is None or checkout.request.expires_at <= self._clock.now():
            return None
        return checkout

    async def _checkout_page(self, request: web.Request) -> web.Response:
        if request.match_info["purchase_id"] in self._paid:
            return already_paid_page()
        checkout = self._open(request)
        if checkout is None:
            return _expired_page()
        purchase = checkout.request
        pay_path = SANDBOX_PAY_PATH.format(purchase_id=purchase.purchase_id)
        amount = format_cents(purchase.amount_cents, purchase.currency)
        return html_page(
            "Sandbox checkout",
            self._banner + f"<h1>{escape(purchase.product_name)}</h1>"
            f'<p class="note">Squadron: {escape(purchase.squadron_name)} '
            f"(Discord server {escape(purchase.guild_id)})</p>"
            f'<p class="amount" id="amount">{escape(amount)}</p>'
            f'<form method="post" action="{escape(pay_path)}">'
            '<button type="submit" id="pay">Pay</button></form>'
            f'<a class="secondary" id="cancel" href="{CANCEL_PATH}">Cancel</a>',
        )

    async def _pay(self, request: web.Request) -> web.Response:
        if request.match_info["purchase_id"] in self._paid:
            return already_paid_page()
        checkout = self._open(request)
        if checkout is None:
            return _expired_page()
        now = int(self._clock.now().timestamp())
        payload = json.dumps(checkout.completed_event(created=now))
        header = stripe.WebhookSignature.generate_signature_header(payload, self._secret, now)
        try:
            status, answer = await _post(_own_webhook_url(request), payload, header)
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            log.error("sandbox webhook post failed", extra={"error": type(error).__name__})
            status, answer = 0, {}
        if status == 200:
            self._paid.add(checkout.request.purchase_id)
            raise web.HTTPSeeOther(f"{SUCCESS_PATH}?session_id={checkout.session_id}")
        log.error(
            "sandbox payment not recorded",
            extra={
                "purchase_id": checkout.request.purchase_id,
                "status": status,
                "detail": answer.get("detail"),
            },
        )
        return message_page(
            "Payment not recorded",
            "The bot could not record this payment just now; nothing was charged. "
            "Go back and press Pay again in a moment.",
            status=502,
        )


async def _post(url: str, payload: str, signature: str) -> tuple[int, dict[str, Any]]:
    headers = {"Stripe-Signature": signature, "Content-Type": "application/json"}
    async with (
        aiohttp.ClientSession(timeout=_POST_TIMEOUT) as http,
        http.post(url, data=payload.encode(), headers=headers) as response,
    ):
        answer = await response.json(content_type=None)
        return response.status, answer if isinstance(answer, dict) else {}


def _own_webhook_url(request: web.Request) -> str:
    """The webhook on the socket this request came in on (IPv4 or IPv6)."""
    host, port = request.transport.get_extra_info("sockname")[:2]  # type: ignore[union-attr]
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}{WEBHOOK_PATH}"


def _expired_page() -> web.Response:
    return message_page(
        "Checkout expired",
        "This checkout link is no longer open; use /credits buy in Discord for a new one.",
        status=404,
    )


def _id(prefix: str) -> str:
    return prefix + secrets.token_hex(12)
