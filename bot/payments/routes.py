"""The payments part of the bot's web app: the webhook, the return pages, the sandbox checkout."""

import logging

from aiohttp import web

from bot.payments.pages import payment_cancelled, payment_succeeded
from bot.payments.paths import CANCEL_PATH, SUCCESS_PATH, WEBHOOK_PATH
from bot.payments.service import PaymentService
from bot.payments.webhook import WebhookOutcome, WebhookResult
from bot.routes import RouteRegistrar

log = logging.getLogger("rr.payments")


def payment_routes(payments: PaymentService) -> RouteRegistrar:
    """A route registrar for the web app factory: everything payments serve."""

    async def webhook(request: web.Request) -> web.Response:
        body = await _read_at_most(request, payments.config.max_webhook_body_bytes)
        if body is None:
            log.warning("stripe delivery rejected", extra={"reason": "body too large"})
            outcome = WebhookOutcome(400, WebhookResult.REJECTED, "body too large")
        else:
            try:
                outcome = await payments.handle_webhook(
                    body, request.headers.get("Stripe-Signature")
                )
            except Exception:
                # Not recorded (e.g. the store is unreachable): a 5xx makes Stripe deliver again.
                log.exception("stripe webhook failed")
                return web.json_response(
                    {"result": "error", "detail": "temporary failure; retry later"}, status=503
                )
        return web.json_response(
            {"result": outcome.result.value, "detail": outcome.detail}, status=outcome.status
        )

    def register(app: web.Application) -> None:
        app.router.add_post(WEBHOOK_PATH, webhook)
        app.router.add_get(SUCCESS_PATH, payment_succeeded)
        app.router.add_get(CANCEL_PATH, payment_cancelled)
        app.router.add_routes(payments.provider.web_routes())

    return register


async def _read_at_most(request: web.Request, limit: int) -> bytes | None:
    """The body, or None as soon as it is known to be longer than ``limit`` (never buffered)."""
    if request.content_length is not None and request.content_length > limit:
        return None
    body = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)
