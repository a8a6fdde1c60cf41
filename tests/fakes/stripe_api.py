"""A local stand-in for the parts of Stripe's API that rr uses, served over HTTP on loopback.

The stripe SDK talks to it exactly as it talks to api.stripe.com (form-encoded bodies, bearer
key, Stripe's error JSON; idempotency keys are recorded, not replayed), so tests exercise the
SDK's real request and error paths. It also builds webhook events and signs them the way Stripe
does, independently of ``bot``.

Covered: ``POST /v1/checkout/sessions``, ``GET /v1/checkout/sessions`` (``payment_intent``
filter) and ``GET /v1/checkout/sessions/{id}``. What Stripe does when a buyer pays, a delayed
payment settles, a session expires or a charge is refunded is done by the test through
``complete``, ``settle_async_payment``, ``expire`` and ``refunded_charge``; ``stall`` holds its
answers back.
"""

import asyncio
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

_KEY_PART = re.compile(r"\[([^\[\]]*)\]")
_MIN_EXPIRY_SECONDS = 30 * 60
_MAX_EXPIRY_SECONDS = 24 * 60 * 60


class FailureMode(StrEnum):
    """What the fake answers instead of doing the work, as Stripe would."""

    CARD_DECLINED = "card_declined"
    API_DOWN = "api_down"
    BAD_KEY = "bad_key"


@dataclass
class ReceivedRequest:
    method: str
    path: str
    params: dict[str, Any]
    idempotency_key: str | None


@dataclass
class FakeStripeApi:
    """State and HTTP handlers of the fake; ``app()`` gives the aiohttp application to serve."""

    api_key: str = "sk_test_fake_key"
    now: Callable[[], float] = time.time
    failure: FailureMode | None = None
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    intent_metadata: dict[str, dict[str, str]] = field(default_factory=dict)
    requests: list[ReceivedRequest] = field(default_factory=list)
    stalled: asyncio.Event | None = None

    def fail(self, mode: FailureMode) -> None:
        """Answer every following request with ``mode``'s error."""
        self.failure = mode

    def stall(self) -> asyncio.Event:
        """Hold every following request unanswered until the returned event is set."""
        self.stalled = asyncio.Event()
        return self.stalled

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/checkout/sessions", self._create_session)
        app.router.add_get("/v1/checkout/sessions", self._list_sessions)
        app.router.add_get("/v1/checkout/sessions/{id}", self._retrieve_session)
        return app

    def complete(self, session_id: str, *, payment_status: str = "paid") -> dict[str, Any]:
        """What Stripe does when the buyer pays: the session completes and gets a payment intent."""
        session = self.sessions[session_id]
        session["status"] = "complete"
        session["payment_status"] = payment_status
        session["payment_intent"] = session["payment_intent"] or _id("pi_test_")
        return dict(session)

    def refunded_charge(
        self, session_id: str, amount_refunded: int, *, copy_metadata: bool = True
    ) -> dict[str, Any]:
        """The charge behind a paid session after ``amount_refunded`` cents were refunded in total.

        Stripe copies a payment intent's metadata (``payment_intent_data[metadata]`` at session
        creation) onto the charge it makes; ``copy_metadata=False`` gives a charge without it.
        """
        session = self.sessions[session_id]
        amount = int(session["amount_total"])
        metadata = self.intent_metadata.get(session_id, {}) if copy_metadata else {}
        return {
            "id": _id("ch_test_"),
            "object": "charge",
            "amount": amount,
            "amount_captured": amount,
            "amount_refunded": amount_refunded,
            "currency": session["currency"],
            "metadata": dict(metadata),
            "paid": True,
            "payment_intent": session["payment_intent"],
            "refunded": amount_refunded >= amount,
            "status": "succeeded",
        }

    def settle_async_payment(self, session_id: str) -> dict[str, Any]:
        """A delayed payment method (bank debit) succeeded after the session completed unpaid."""
        self.sessions[session_id]["payment_status"] = "paid"
        return dict(self.sessions[session_id])

    def expire(self, session_id: str) -> dict[str, Any]:
        self.sessions[session_id]["status"] = "expired"
        return dict(self.sessions[session_id])

    async def _create_session(self, request: web.Request) -> web.Response:
        params = decode_form(await request.text())
        if (refusal := await self._refusal(request, params)) is not None:
            return refusal
        status, body = self._new_session(params)
        return web.json_response(body, status=status)

    async def _list_sessions(self, request: web.Request) -> web.Response:
        params = dict(request.query)
        if (refusal := await self._refusal(request, params)) is not None:
            return refusal
        wanted = params.get("payment_intent")
        found = [s for s in self.sessions.values() if wanted in (None, s["payment_intent"])]
        return web.json_response(
            {"object": "list", "data": found, "has_more": False, "url": "/v1/checkout/sessions"}
        )

    async def _retrieve_session(self, request: web.Request) -> web.Response:
        if (refusal := await self._refusal(request, {})) is not None:
            return refusal
        session = self.sessions.get(request.match_info["id"])
        if session is None:
            return _missing(request.match_info["id"])
        return web.json_response(session)

    async def _refusal(
        self, request: web.Request, params: Mapping[str, Any]
    ) -> web.Response | None:
        self.requests.append(
            ReceivedRequest(
                request.method, request.path, dict(params), request.headers.get("Idempotency-Key")
            )
        )
        if self.stalled is not None:
            await self.stalled.wait()
        if request.headers.get("Authorization") != f"Bearer {self.api_key}" or (
            self.failure is FailureMode.BAD_KEY
        ):
            return _error(
                401, "invalid_request_error", "Invalid API Key provided: sk_test_****_key"
            )
        if self.failure is FailureMode.API_DOWN:
            return _error(500, "api_error", "An unknown error occurred")
        if self.failure is FailureMode.CARD_DECLINED:
            return _error(402, "card_error", "Your card was declined.", code="card_declined")
        return None

    def _new_session(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        problem = self._invalid(params)
        if problem is not None:
            param, message = problem
            return 400, _error_body("invalid_request_error", message, param=param)
        items = params["line_items"]
        amount = sum(int(i["price_data"]["unit_amount"]) * int(i["quantity"]) for i in items)
        session_id = _id("cs_test_")
        created = int(self.now())
        session: dict[str, Any] = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": amount,
            "amount_total": amount,
            "cancel_url": params.get("cancel_url"),
            "client_reference_id": params.get("client_reference_id"),
            "created": created,
            "currency": items[0]["price_data"]["currency"],
            "expires_at": int(params.get("expires_at", created + _MAX_EXPIRY_SECONDS)),
            "livemode": False,
            "metadata": params.get("metadata", {}),
            "mode": params["mode"],
            "payment_intent": None,
            "payment_status": "unpaid",
            "status": "open",
            "success_url": params["success_url"],
            "url": f"https://checkout.stripe.com/c/pay/{session_id}",
        }
        self.sessions[session_id] = session
        self.intent_metadata[session_id] = params.get("payment_intent_data", {}).get("metadata", {})
        return 200, session

    def _invalid(self, params: dict[str, Any]) -> tuple[str, str] | None:
        """The first thing Stripe would reject in a payment-mode session request, if any."""
        for required in ("mode", "success_url", "line_items"):
            if required not in params:
                return required, f"Missing required param: {required}."
        if params["mode"] != "payment":
            return "mode", "This fake only creates sessions in payment mode."
        items = params["line_items"]
        if not isinstance(items, list) or not items:
            return "line_items", "line_items must be a non-empty list."
        for index, item in enumerate(items):
            where = f"line_items[{index}]"
            price = item.get("price_data")
            if not isinstance(price, dict):
                return f"{where}[price_data]", f"Missing required param: {where}[price_data]."
            for name in ("currency", "unit_amount"):
                if name not in price:
                    return f"{where}[price_data][{name}]", f"Missing required param: {name}."
            if not str(price["unit_amount"]).isdigit():
                return f"{where}[price_data][unit_amount]", "Invalid integer: unit_amount."
            if "name" not in price.get("product_data", {}):
                return f"{where}[price_data][product_data][name]", "Missing required param: name."
            if not str(item.get("quantity", "")).isdigit() or int(item["quantity"]) < 1:
                return f"{where}[quantity]", "Quantity must be a positive integer."
        if "expires_at" in params:
            ahead = int(params["expires_at"]) - self.now()
            if not _MIN_EXPIRY_SECONDS <= ahead <= _MAX_EXPIRY_SECONDS:
                return "expires_at", "expires_at must be between 30 minutes and 24 hours away."
        for key, value in params.get("metadata", {}).items():
            if len(key) > 40 or len(str(value)) > 500:
                return f"metadata[{key}]", "Metadata keys are at most 40 characters, values 500."
        return None


def decode_form(body: str) -> dict[str, Any]:
    """Stripe's form encoding (``a[b][0][c]=v``) back into nested dicts and lists."""
    root: dict[str, Any] = {}
    for raw_key, value in parse_qsl(body, keep_blank_values=True):
        head, _, rest = raw_key.partition("[")
        path = [head, *_KEY_PART.findall("[" + rest)] if rest else [head]
        node = root
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return _lists_from_indexed(root)


def _lists_from_indexed(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {key: _lists_from_indexed(value) for key, value in node.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


def webhook_event(
    event_type: str, obj: Mapping[str, Any], *, event_id: str | None = None, created: int = 0
) -> dict[str, Any]:
    """A Stripe event envelope carrying ``obj`` as it was when the event happened."""
    return {
        "id": event_id or _id("evt_test_"),
        "object": "event",
        "api_version": "2025-01-27.acacia",
        "created": created,
        "data": {"object": dict(obj)},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The ``Stripe-Signature`` header Stripe sends: ``t=<unix>,v1=<HMAC-SHA256 of "t.body">``."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def signed_delivery(
    event: Mapping[str, Any], secret: str, timestamp: int
) -> tuple[bytes, dict[str, str]]:
    """Body and headers of one webhook delivery, ready to POST."""
    body = json.dumps(event).encode()
    return body, {
        "Stripe-Signature": sign(body, secret, timestamp),
        "Content-Type": "application/json",
    }


def _id(prefix: str) -> str:
    return prefix + secrets.token_hex(12)


def _error_body(
    error_type: str, message: str, *, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    error: dict[str, Any] = {"type": error_type, "message": message}
    if code is not None:
        error["code"] = code
    if param is not None:
        error["param"] = param
    return {"error": error}


def _error(status: int, error_type: str, message: str, *, code: str | None = None) -> web.Response:
    return web.json_response(_error_body(error_type, message, code=code), status=status)


def _missing(session_id: str) -> web.Response:
    return web.json_response(
        _error_body(
            "invalid_request_error",
            f"No such checkout.session: '{session_id}'",
            code="resource_missing",
            param="id",
        ),
        status=404,
    )
