"""What S3 checks of presigned requests and moto does not, in front of a moto server.

moto 5.2 stores a presigned POST whatever its policy says (size, key, expiry, signature) and
serves a presigned GET after its expiry (checked by sending them). Real S3 refuses both, and rr
relies on that to cap what a server uploads. `PresignedRules` is WSGI middleware that applies
S3's documented rules before moto sees the request, with the time taken from a clock the test
moves, so that nothing sleeps:

- a POST form with a ``policy``: its SigV4 signature (HMAC chain over the test secret), its
  ``expiration``, every condition (exact matches, ``starts-with``, ``content-length-range``
  measured on the file) and no field the policy does not cover;
- a request with ``X-Amz-Expires`` in its query: ``X-Amz-Date`` + ``X-Amz-Expires`` not passed
  (its query signature is left to moto).

Refusals are S3's XML errors and statuses (403 AccessDenied / SignatureDoesNotMatch, 400
EntityTooLarge / EntityTooSmall).
"""

import base64
import hashlib
import hmac
import io
import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from werkzeug.wrappers import Request

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_UNCHECKED_FIELDS = frozenset({"policy", "x-amz-signature", "file"})


class AwsTime:
    """S3's clock: the real time plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


class Refused(Exception):
    def __init__(self, status: str, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class PresignedRules:
    def __init__(self, app: WsgiApp, secret_key: str, time: AwsTime) -> None:
        self._app = app
        self._secret = secret_key
        self._time = time

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            self._check_expiry(environ)
            if environ["REQUEST_METHOD"] == "POST":
                self._check_policy(environ, body)
        except Refused as refused:
            xml = (
                f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{refused.code}</Code>"
                f"<Message>{escape(str(refused))}</Message></Error>"
            ).encode()
            start_response(refused.status, [("Content-Type", "application/xml")])
            return [xml]
        environ["wsgi.input"] = io.BytesIO(body)
        return self._app(environ, start_response)

    def _check_expiry(self, environ: dict[str, Any]) -> None:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        if "X-Amz-Expires" not in query:
            return
        signed_at = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        if self._time.now() > signed_at + timedelta(seconds=int(query["X-Amz-Expires"][0])):
            raise Refused("403 Forbidden", "AccessDenied", "Request has expired")

    def _check_policy(self, environ: dict[str, Any], body: bytes) -> None:
        request = Request(dict(environ, **{"wsgi.input": io.BytesIO(body)}))
        form = request.form
        if "policy" not in form:
            return
        policy_b64 = form["policy"]
        credential = form["x-amz-credential"]
        _, date, region, service, _ = credential.split("/")
        signing_key = ("AWS4" + self._secret).encode()
        for part in (date, region, service, "aws4_request"):
            signing_key = hmac.new(signing_key, part.encode(), hashlib.sha256).digest()
        expected = hmac.new(signing_key, policy_b64.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, form.get("x-amz-signature", "")):
            raise Refused(
                "403 Forbidden",
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        policy = json.loads(base64.b64decode(policy_b64))
        expiration = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
        if self._time.now() > expiration:
            raise Refused(
                "403 Forbidden", "AccessDenied", "Invalid according to Policy: Policy expired."
            )
        values = dict(form.items())
        values["bucket"] = environ["PATH_INFO"].strip("/").split("/")[0]
        size = len(request.files["file"].read()) if "file" in request.files else 0
        covered = {"bucket"}
        for condition in policy["conditions"]:
            covered.add(_check_condition(condition, values, size))
        extra = sorted(set(values) - covered - _UNCHECKED_FIELDS)
        if extra:
            raise Refused(
                "403 Forbidden",
                "AccessDenied",
                f"Invalid according to Policy: Extra input fields: {extra[0]}",
            )


def _check_condition(condition: Any, values: dict[str, str], size: int) -> str:
    """Check one policy condition; the field it covers ('' for content-length-range)."""
    if isinstance(condition, dict):
        ((name, wanted),) = condition.items()
        condition = ["eq", f"${name}", wanted]
    operator, *rest = condition
    if operator == "content-length-range":
        low, high = rest
        if size > high:
            raise Refused(
                "400 Bad Request",
                "EntityTooLarge",
                "Your proposed upload exceeds the maximum allowed size",
            )
        if size < low:
            raise Refused(
                "400 Bad Request",
                "EntityTooSmall",
                "Your proposed upload is smaller than the minimum allowed size",
            )
        return ""
    field, wanted = rest
    name = field.removeprefix("$").lower()
    value = values.get(name, "")
    ok = value == wanted if operator == "eq" else value.startswith(wanted)
    if operator not in ("eq", "starts-with") or not ok:
        raise Refused(
            "403 Forbidden",
            "AccessDenied",
            f"Invalid according to Policy: Policy Condition failed: {json.dumps(condition)}",
        )
    return name
