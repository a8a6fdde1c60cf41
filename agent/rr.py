"""rr's agent API, version 1, over HTTP(S) with the standard library (in a worker thread)."""

import asyncio
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

TIMEOUT_SECONDS = 10.0
MAX_REPLY_BYTES = 64 * 1024 * 1024


class Unreachable(Exception):
    """rr did not answer, or answered with a server error: try again later."""


class Refused(Exception):
    """rr refused the request (a 4xx); ``error`` is its code, ``last_seq`` set on a 409."""

    def __init__(self, status: int, error: str, message: str, last_seq: int | None) -> None:
        super().__init__(f"{status} {error}: {message}")
        self.status = status
        self.error = error
        self.last_seq = last_seq
        self.retry_after: float | None = None


class RrClient:
    def __init__(self, base_url: str, session_id: str, credential: str) -> None:
        self._base = base_url.rstrip("/") + "/agent/v1/sessions/" + urllib.parse.quote(session_id)
        self._credential = credential

    def __repr__(self) -> str:
        return f"RrClient({self._base!r})"

    async def files(self) -> dict[str, Any]:
        return await asyncio.to_thread(self._request, "GET", "/files", None)

    async def heartbeat(self, beat: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(beat, ensure_ascii=False).encode("utf-8")
        return await asyncio.to_thread(self._request, "POST", "/heartbeats", body)

    def _request(self, method: str, path: str, body: bytes | None) -> dict[str, Any]:
        request = urllib.request.Request(self._base + path, data=body, method=method)
        request.add_header("Authorization", f"Bearer {self._credential}")
        request.add_header("Accept", "application/json")
        if body is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                return _json_object(response.read(MAX_REPLY_BYTES))
        except urllib.error.HTTPError as error:
            with error:
                reply = _error_reply(error.read(64 * 1024))
            if error.code >= 500 or error.code == 408:
                raise Unreachable(f"rr answered {error.code}") from None
            refused = Refused(
                error.code,
                str(reply.get("error", "")),
                str(reply.get("message", "")),
                reply.get("last_seq") if isinstance(reply.get("last_seq"), int) else None,
            )
            retry_after = error.headers.get("Retry-After", "")
            if retry_after.isdigit():
                refused.retry_after = float(retry_after)
            raise refused from None
        except (OSError, ValueError) as error:
            raise Unreachable(f"rr cannot be reached: {type(error).__name__}") from None


def _json_object(raw: bytes) -> dict[str, Any]:
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("rr's reply is not a JSON object")
    return value


def _error_reply(raw: bytes) -> dict[str, Any]:
    try:
        return _json_object(raw)
    except ValueError:
        return {}
