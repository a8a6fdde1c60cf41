"""Checking a webhook delivery is Stripe's (or the sandbox's) before anything reads its body.

The stripe library checks the HMAC (``WebhookSignature.verify_header``). Its age check reads
``time.time()`` and cannot take a clock, so it is switched off there and done here against the
injected clock instead: a delivery signed more than ``tolerance`` away from now, in either
direction, is refused (Stripe's own default tolerance is 300 s).
"""

import json
from datetime import datetime, timedelta
from typing import Any

import stripe


class DeliveryRejected(Exception):
    """The delivery is not accepted; ``str()`` is a short reason safe to send back."""


def verified_event(
    body: bytes, header: str | None, secret: str, *, now: datetime, tolerance: timedelta
) -> dict[str, Any]:
    """The event in ``body`` once its signature and age check out; raises ``DeliveryRejected``."""
    if not header:
        raise DeliveryRejected("missing signature")
    if not header.isascii():
        # The stripe library compares signatures with hmac.compare_digest, which raises
        # TypeError (not a verification error) on non-ASCII text.
        raise DeliveryRejected("invalid signature")
    try:
        stripe.WebhookSignature.verify_header(body, header, secret, tolerance=None)
    except stripe.SignatureVerificationError:
        raise DeliveryRejected("invalid signature") from None
    except UnicodeDecodeError:
        raise DeliveryRejected("body is not UTF-8") from None
    if abs(now.timestamp() - _signed_at(header)) > tolerance.total_seconds():
        raise DeliveryRejected("signature timestamp outside the tolerance")
    try:
        event = json.loads(body)
    except ValueError:
        raise DeliveryRejected("body is not JSON") from None
    if not _looks_like_event(event):
        raise DeliveryRejected("body is not a Stripe event")
    return event


def _signed_at(header: str) -> int:
    """The ``t=`` Unix time of a header ``verify_header`` has accepted (so it is well formed)."""
    for item in header.split(","):
        key, _, value = item.partition("=")
        if key == "t":
            return int(value)
    raise DeliveryRejected("signature has no timestamp")


def _looks_like_event(event: Any) -> bool:
    return (
        isinstance(event, dict)
        and isinstance(event.get("id"), str)
        and isinstance(event.get("type"), str)
        and isinstance(event.get("data"), dict)
        and isinstance(event["data"].get("object"), dict)
    )
