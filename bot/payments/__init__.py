"""Buying credit: Stripe Checkout (or the local sandbox) and its signed webhooks.

``PaymentService.start_checkout`` opens a checkout and records ``PurchaseStarted``;
``PaymentService.handle_webhook`` verifies a delivery and records what it says, exactly once;
``payment_routes`` registers ``POST /stripe/webhook``, the return pages and the sandbox checkout
on the web app.
"""

from bot.payments.config import PaymentsConfig
from bot.payments.errors import PaymentError
from bot.payments.routes import payment_routes
from bot.payments.service import CheckoutLink, PaymentService, build_payment_service
from bot.payments.webhook import WebhookOutcome, WebhookResult

__all__ = [
    "CheckoutLink",
    "PaymentError",
    "PaymentService",
    "PaymentsConfig",
    "WebhookOutcome",
    "WebhookResult",
    "build_payment_service",
    "payment_routes",
]
