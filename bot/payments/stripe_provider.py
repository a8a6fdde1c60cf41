"""Stripe Checkout through the stripe SDK's async client: the event loop never waits on Stripe."""

import logging
from collections.abc import Mapping, Sequence

import stripe
from aiohttp import web
from stripe.params.checkout import SessionCreateParams

from bot.payments.errors import PaymentError
from bot.payments.paths import CANCEL_PATH, SUCCESS_PATH
from bot.payments.provider import CheckoutRequest, OpenedCheckout

log = logging.getLogger("rr.payments")


class StripeCheckoutProvider:
    """Opens Stripe Checkout Sessions in payment mode; Stripe posts the outcome to the webhook."""

    name = "stripe"

    def __init__(
        self,
        *,
        api_key: str,
        webhook_secret: str,
        public_url: str,
        api_base: str | None,
        network_retries: int,
    ) -> None:
        self._secret = webhook_secret
        self._public_url = public_url
        self._http = stripe.AIOHTTPClient()
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base} if api_base else None,
            http_client=self._http,
            max_network_retries=network_retries,
        )

    @property
    def webhook_secret(self) -> str:
        return self._secret

    async def open_checkout(self, request: CheckoutRequest) -> OpenedCheckout:
        params: SessionCreateParams = {
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {
                        "currency": request.currency,
                        "unit_amount": request.amount_cents,
                        "product_data": {"name": request.product_name},
                    },
                    "quantity": 1,
                }
            ],
            "client_reference_id": request.purchase_id,
            "metadata": request.metadata,
            # Stripe copies the payment intent's metadata onto its charge, so a later
            # charge.refunded event still says which purchase it reverses.
            "payment_intent_data": {"metadata": request.metadata},
            "success_url": f"{self._public_url}{SUCCESS_PATH}?session_id={{CHECKOUT_SESSION_ID}}",
            "cancel_url": f"{self._public_url}{CANCEL_PATH}",
            "expires_at": int(request.expires_at.timestamp()),
        }
        try:
            session = await self._client.v1.checkout.sessions.create_async(
                params, {"idempotency_key": f"rr-checkout-{request.purchase_id}"}
            )
        except stripe.StripeError as error:
            log.warning(
                "stripe checkout refused",
                extra={
                    "guild_id": request.guild_id,
                    "purchase_id": request.purchase_id,
                    "error": type(error).__name__,
                    "http_status": error.http_status,
                    "code": error.code,
                },
            )
            raise PaymentError(_plain_sentence(error)) from None
        if not session.url:
            raise PaymentError("Stripe did not return a checkout page; please try again.")
        return OpenedCheckout(session_id=session.id, url=session.url)

    async def purchase_metadata(self, payment_intent_id: str) -> Mapping[str, str] | None:
        sessions = await self._client.v1.checkout.sessions.list_async(
            {"payment_intent": payment_intent_id, "limit": 1}
        )
        return sessions.data[0].to_dict().get("metadata") if sessions.data else None

    def web_routes(self) -> Sequence[web.RouteDef]:
        return ()

    async def close(self) -> None:
        await self._http.close_async()


def _plain_sentence(error: stripe.StripeError) -> str:
    """What the buyer is told; the details stay in the log."""
    if isinstance(error, stripe.CardError):
        return "The card was declined; try another card or payment method."
    if isinstance(error, stripe.AuthenticationError | stripe.PermissionError):
        return (
            "Payments are not available right now because of a configuration problem; "
            "please tell the bot's operators."
        )
    if isinstance(error, stripe.APIConnectionError | stripe.APIError | stripe.RateLimitError):
        return "Stripe could not be reached just now; please try again in a few minutes."
    return "Stripe could not open a checkout for this purchase; please try again later."
