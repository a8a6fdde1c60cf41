"""The console's aiohttp application: the page, its static files and its JSON API.

Routes are relative to wherever the application is mounted (``parent.add_subapp(prefix, app)``)
and the page uses relative URLs, so any prefix works. Acting requests are POSTs of JSON: a page
on another origin cannot send those without a CORS preflight, which the console never answers.
A file for an attachment option comes inside that JSON as ``{"filename", "content_type",
"data_base64"}``, so that uploads keep the same protection.
"""

import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from aiohttp import web

from discord_emulator.console.feed import LiveFeeds
from discord_emulator.console.views import (
    PAGE_SIZE,
    channel_by_id,
    command_forms,
    find_message,
    messages_in,
    world_json,
)
from discord_emulator.errors import InvalidInvocation
from discord_emulator.handles import InteractionHandle
from discord_emulator.interactions import MODAL
from discord_emulator.message_limits import Upload
from discord_emulator.models import Guild, TextChannel, User
from discord_emulator.payloads import ATTACHMENT_SIZE_LIMIT
from discord_emulator.server import Emulator

STATIC = Path(__file__).parent / "static"
MAX_PAGE_SIZE = 100
ANSWER_WITHIN = 3.5
"""Seconds the console waits for the bot's first answer; Discord gives up after three."""
MAX_BODY_BYTES = ATTACHMENT_SIZE_LIMIT * 4 // 3 + 64 * 1024
"""The largest request the console reads: a file Discord would take, in base64, and the rest."""

Now = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def console_app(
    emulator: Emulator,
    *,
    title: str = "Discord emulator",
    now: Now = _utc_now,
    time_scale: float = 1.0,
    links: Sequence[tuple[str, str]] = (),
) -> web.Application:
    """The console for ``emulator``.

    ``now`` and ``time_scale`` are the clock the bot runs on (and how much faster than real
    time it goes): the page shows Discord timestamps such as ``<t:…:R>`` relative to it.
    ``links`` are (label, address) of pages beside the console, listed under the member picker.
    """
    console = _Console(emulator, title, now, time_scale)
    app = web.Application()
    app.router.add_get("/", _page(title, links))
    app.router.add_get("/console.js", _static("console.js", "text/javascript"))
    app.router.add_get("/console.css", _static("console.css", "text/css"))
    app.router.add_get("/api/world", console.world)
    app.router.add_get("/api/channels/{channel_id}/messages", console.channel_messages)
    app.router.add_get("/api/dms/{user_id}/messages", console.dm_messages)
    app.router.add_get("/api/commands", console.commands)
    app.router.add_get("/api/events", console.events)
    app.router.add_post("/api/invoke", console.invoke)
    app.router.add_post("/api/autocomplete", console.autocomplete)
    app.router.add_post("/api/click", console.click)
    app.router.add_post("/api/modal", console.submit_modal)
    app.on_shutdown.append(console.feeds.close_all)
    return app


def _page(
    title: str, links: Sequence[tuple[str, str]]
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The page, titled ``title`` from the first byte (the tab shows it before any script)."""
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    body = html.replace("<title>Discord emulator</title>", f"<title>{escape(title)}</title>")
    if links:
        anchors = "".join(
            f'<a href="{escape(href)}" target="_blank" rel="noopener">{escape(label)}</a>'
            for label, href in links
        )
        body = body.replace("</aside>", f'<nav id="links">{anchors}</nav>\n  </aside>', 1)

    async def serve(_: web.Request) -> web.Response:
        return web.Response(
            text=body,
            content_type="text/html",
            charset="utf-8",
            headers={"Cache-Control": "no-cache"},
        )

    return serve


def _static(name: str, content_type: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    body = (STATIC / name).read_bytes()

    async def serve(_: web.Request) -> web.Response:
        return web.Response(
            body=body,
            content_type=content_type,
            charset="utf-8",
            headers={"Cache-Control": "no-cache"},
        )

    return serve


def _http_error(status: int, message: str) -> web.HTTPException:
    error_class = {
        400: web.HTTPBadRequest,
        404: web.HTTPNotFound,
        413: web.HTTPRequestEntityTooLarge,
        415: web.HTTPUnsupportedMediaType,
    }
    return error_class[status](text=json.dumps({"error": message}), content_type="application/json")


class _Console:
    def __init__(self, emulator: Emulator, title: str, now: Now, time_scale: float) -> None:
        self._emulator = emulator
        self._title = title
        self._now = now
        self._time_scale = time_scale
        self.feeds = LiveFeeds(emulator, now)

    # -- reading ----------------------------------------------------------------------------

    async def world(self, _: web.Request) -> web.Response:
        return self._json(
            {"title": self._title, "time_scale": self._time_scale, **world_json(self._emulator)}
        )

    async def channel_messages(self, request: web.Request) -> web.Response:
        user = self._user(request.query.get("user"))
        channel = self._channel(request.match_info["channel_id"])
        return self._page(request, channel, user)

    async def dm_messages(self, request: web.Request) -> web.Response:
        user = self._user(request.match_info["user_id"])
        return self._page(request, None, user)

    def _page(self, request: web.Request, channel: TextChannel | None, user: User) -> web.Response:
        """One page of messages: ``limit`` (1 to 100, default 50) before message ``before``."""
        before = request.query.get("before")
        limit = request.query.get("limit", str(PAGE_SIZE))
        if not limit.isdigit() or not 1 <= int(limit) <= MAX_PAGE_SIZE:
            raise _http_error(400, f"limit must be a whole number from 1 to {MAX_PAGE_SIZE}.")
        page = messages_in(
            self._emulator,
            channel,
            user,
            before=None if before in (None, "") else _snowflake(before, "message"),
            limit=int(limit),
        )
        return self._json({"messages": page.messages, "more": page.more})

    async def events(self, request: web.Request) -> web.StreamResponse:
        return await self.feeds.stream(request, self._user(request.query.get("user")))

    async def commands(self, request: web.Request) -> web.Response:
        user = self._user(request.query.get("user"))
        guild = self._guild(request.query.get("guild"))
        return self._json({"commands": command_forms(self._emulator, guild, user)})

    # -- acting -----------------------------------------------------------------------------

    async def invoke(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        user = self._user(body.get("user"))
        guild, channel = self._where(body)
        options = self._options(body)
        try:
            handle = await self._emulator.invoke(
                guild, user, str(body.get("command") or ""), options, channel=channel
            )
        except InvalidInvocation as error:
            raise _http_error(400, str(error)) from None
        return await self._answer(handle)

    async def autocomplete(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        user = self._user(body.get("user"))
        guild, channel = self._where(body)
        try:
            choices = await self._emulator.autocomplete(
                guild,
                user,
                str(body.get("command") or ""),
                self._options(body),
                focused=str(body.get("focused") or ""),
                channel=channel,
                timeout=ANSWER_WITHIN,
            )
        except InvalidInvocation as error:
            raise _http_error(400, str(error)) from None
        except TimeoutError:
            raise _http_error(400, "The bot offered no suggestions in time.") from None
        return self._json({"choices": choices})

    async def click(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        user = self._user(body.get("user"))
        message = find_message(self._emulator, user, _snowflake(body.get("message"), "message"))
        if message is None:
            raise _http_error(404, f"{user.name} cannot see that message.")
        values = body.get("values")
        if values is not None and not isinstance(values, list):
            raise _http_error(400, "values must be a list of the chosen options.")
        try:
            handle = await self._emulator.click(
                message, str(body.get("custom_id") or ""), user, values=values
            )
        except InvalidInvocation as error:
            raise _http_error(400, str(error)) from None
        return await self._answer(handle)

    async def submit_modal(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        user = self._user(body.get("user"))
        interaction_id = _snowflake(body.get("interaction"), "interaction")
        opened_by = next(
            (i for i in self._emulator.interactions if i.id == interaction_id and i.user is user),
            None,
        )
        if opened_by is None:
            raise _http_error(404, f"{user.name} has no open form with that id.")
        values = body.get("values")
        if not isinstance(values, dict):
            raise _http_error(400, "values must map each field's custom_id to its text.")
        try:
            handle = await self._emulator.submit_modal(opened_by, values)
        except InvalidInvocation as error:
            raise _http_error(400, str(error)) from None
        return await self._answer(handle)

    async def _answer(self, handle: InteractionHandle) -> web.Response:
        """Wait briefly for the bot's first answer, as a Discord client does."""
        interaction = handle.interaction
        body: dict[str, Any] = {"interaction": str(interaction.id)}
        try:
            first = await handle.response(ANSWER_WITHIN)
        except TimeoutError:
            body["answered"] = False
            return self._json(body)
        body["answered"] = True
        if first.type == MODAL:
            body["modal"] = interaction.modal
        return self._json(body)

    # -- request parts ----------------------------------------------------------------------

    def _json(self, body: Mapping[str, Any]) -> web.Response:
        return web.json_response({**body, "now": self._now().isoformat()})

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        if request.content_type != "application/json":
            raise _http_error(415, "Send the request as JSON (Content-Type: application/json).")
        raw = await request.content.read(MAX_BODY_BYTES + 1)
        if len(raw) > MAX_BODY_BYTES:
            raise _http_error(413, f"The request is over {MAX_BODY_BYTES:,} bytes.")
        try:
            body = json.loads(raw)
        except ValueError:
            raise _http_error(400, "The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise _http_error(400, "The request body must be a JSON object.")
        return body

    def _user(self, raw: object) -> User:
        user_id = _snowflake(raw, "user")
        for user in self._emulator.users:
            if user.id == user_id:
                return user
        raise _http_error(404, f"There is no user with id {user_id}.")

    def _guild(self, raw: object) -> Guild | None:
        if raw in (None, ""):
            return None
        guild_id = _snowflake(raw, "guild")
        for guild in self._emulator.guilds:
            if guild.id == guild_id:
                return guild
        raise _http_error(404, f"There is no guild with id {guild_id}.")

    def _channel(self, raw: object) -> TextChannel:
        channel = channel_by_id(self._emulator, _snowflake(raw, "channel"))
        if channel is None or channel.deleted:
            raise _http_error(404, f"There is no text channel with id {raw}.")
        return channel

    def _where(self, body: Mapping[str, Any]) -> tuple[Guild | None, TextChannel | None]:
        """The guild and channel to act in; both None mean the bot's DMs."""
        guild = self._guild(body.get("guild"))
        if guild is None or body.get("channel") in (None, ""):
            return guild, None
        return guild, self._channel(body.get("channel"))

    @staticmethod
    def _options(body: Mapping[str, Any]) -> dict[str, Any]:
        options = body.get("options") or {}
        if not isinstance(options, dict):
            raise _http_error(400, "options must map each option's name to its value.")
        return {
            name: _upload(name, value) if isinstance(value, dict) else value
            for name, value in options.items()
        }


def _upload(name: str, value: Mapping[str, Any]) -> Upload:
    """A file given for an attachment option."""
    filename, content_type = value.get("filename"), value.get("content_type")
    try:
        data = base64.b64decode(str(value.get("data_base64")), validate=True)
    except binascii.Error:
        raise _http_error(400, f"The file for {name} is not base64.") from None
    if not isinstance(filename, str) or not isinstance(content_type, str | None):
        raise _http_error(400, f"The file for {name} needs its filename.")
    return Upload(filename, content_type or "application/octet-stream", data)


def _snowflake(raw: object, what: str) -> int:
    text = str(raw) if isinstance(raw, str | int) and not isinstance(raw, bool) else ""
    if not text.isdigit():
        raise _http_error(400, f"Give the {what} as its numeric id.")
    return int(text)
