"""Shared REST plumbing: Discord-shaped JSON responses, request bodies, errors and auth.

Every body is sent with ``Content-Type: application/json`` exactly, because discord.py compares
the header with ``==`` (reference §4); a 204 has no body and no content type, as discord.py would
otherwise try to parse the empty text as JSON. Errors, unknown routes and wrong methods all get
Discord's JSON error shape. Bot routes need ``Authorization: Bot <token>``; interaction and webhook
routes need none (discord.py sends none there, reference §1.2).
"""

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import BodyPartReader, web

from discord_emulator.core import API, core_of
from discord_emulator.errors import (
    DiscordError,
    form_error,
    invalid_json,
    method_not_allowed,
    route_not_found,
    unauthorized,
)
from discord_emulator.message_limits import Upload

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PUBLIC_PREFIXES = (f"{API}/webhooks/", f"{API}/interactions/", "/gateway", "/attachments/")


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(body).encode(), status=status, content_type="application/json"
    )


def no_content() -> web.Response:
    return web.Response(status=204)


def snowflake(request: web.Request, name: str) -> int:
    """A snowflake path parameter; anything else is a 400 as from Discord."""
    raw = request.match_info[name]
    if not raw.isdigit():
        raise form_error([name], "NUMBER_TYPE_COERCE", f'Value "{raw}" is not snowflake.')
    return int(raw)


def query_int(request: web.Request, name: str, default: int) -> int:
    """An integer query parameter (``default`` when absent); anything else is a 400."""
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.lstrip("-").isdigit():
        raise form_error([name], "NUMBER_TYPE_COERCE", f'Value "{raw}" is not int.')
    return int(raw)


async def read_body(request: web.Request) -> tuple[Any, dict[int, Upload]]:
    """The JSON body, or for multipart the ``payload_json`` part plus the ``files[n]`` uploads."""
    if request.content_type.startswith("multipart/"):
        body: Any = {}
        uploads: dict[int, Upload] = {}
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader) or part.name is None:
                continue
            if part.name == "payload_json":
                body = _parse_json(await part.text())
            elif part.name.startswith("files[") and part.name.endswith("]"):
                index = int(part.name[6:-1])
                content_type = part.headers.get("Content-Type", "application/octet-stream")
                uploads[index] = Upload(
                    part.filename or f"file{index}", content_type, await part.read()
                )
        return body, uploads
    text = await request.text()
    return (_parse_json(text) if text else {}), {}


async def read_object(request: web.Request) -> tuple[dict[str, Any], dict[int, Upload]]:
    """Like ``read_body`` for routes whose body must be a JSON object."""
    body, uploads = await read_body(request)
    if not isinstance(body, dict):
        raise form_error([], "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
    return body, uploads


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise invalid_json() from None


@web.middleware
async def discord_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer every failure the way Discord does, with its JSON error body."""
    try:
        return await handler(request)
    except DiscordError as error:
        return json_response(error.body(), error.status)
    except web.HTTPNotFound:
        return json_response(route_not_found().body(), 404)
    except web.HTTPMethodNotAllowed:
        return json_response(method_not_allowed().body(), 405)


@web.middleware
async def bot_authorization(request: web.Request, handler: Handler) -> web.StreamResponse:
    path = request.path
    if path.startswith(API) and not path.startswith(PUBLIC_PREFIXES):
        expected = f"Bot {core_of(request).token}"
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise unauthorized()
    log.debug("%s %s", request.method, _route_name(request))
    return await handler(request)


def _route_name(request: web.Request) -> str:
    """The route template (never the concrete path, which can hold an interaction token)."""
    info = request.match_info.route.resource
    return info.canonical if info is not None else "(unmatched)"
