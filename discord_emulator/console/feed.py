"""The live feed: server-sent events carrying what one member would see change, as it happens.

Each open page holds one ``text/event-stream`` response fed by ``emulator.subscribe()``. Every
event is one ``data:`` line of JSON with a ``kind``:

- ``hello`` when the stream opens: the page then loads what it shows, so nothing that happened
  between its first load and the stream is lost;
- ``message`` with ``change`` created, edited or deleted (only messages the member can see);
- ``world``: guilds, members, roles or channels changed;
- ``commands``: the bot synced its commands; ``connected``: the bot logged in or resumed.

Each carries ``now`` on the bot's clock.
"""

import asyncio
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from discord_emulator.console.views import can_see, message_json
from discord_emulator.events import (
    BotConnected,
    ChannelCreated,
    ChannelDeleted,
    ChannelUpdated,
    CommandsSynced,
    Event,
    GuildCreated,
    MemberAdded,
    MemberUpdated,
    MessageCreated,
    MessageDeleted,
    MessageEdited,
    RoleCreated,
    Subscription,
)
from discord_emulator.models import User
from discord_emulator.server import Emulator

KEEPALIVE_SECONDS = 15.0
"""A comment line this often, so a page that went away is noticed and its feed closed."""
RECONNECT_MILLISECONDS = 1000

CHANGES = {MessageCreated: "created", MessageEdited: "edited", MessageDeleted: "deleted"}
WORLD_EVENTS = (
    GuildCreated,
    MemberAdded,
    MemberUpdated,
    RoleCreated,
    ChannelCreated,
    ChannelUpdated,
    ChannelDeleted,
)


class LiveFeeds:
    def __init__(self, emulator: Emulator, now: Callable[[], datetime]) -> None:
        self._emulator = emulator
        self._now = now
        self._open: set[Subscription] = set()

    async def stream(self, request: web.Request, user: User) -> web.StreamResponse:
        feed = self._emulator.subscribe()
        self._open.add(feed)
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        try:
            await response.prepare(request)
            await response.write(f"retry: {RECONNECT_MILLISECONDS}\n\n".encode())
            await self._send(response, {"kind": "hello"})
            while True:
                try:
                    async with asyncio.timeout(KEEPALIVE_SECONDS):
                        event = await anext(feed)
                except TimeoutError:
                    await response.write(b": keepalive\n\n")
                    continue
                body = self.for_member(event, user)
                if body is not None:
                    await self._send(response, body)
        except (StopAsyncIteration, ConnectionResetError):
            pass
        finally:
            self._open.discard(feed)
            feed.close()
        return response

    def for_member(self, event: Event, user: User) -> dict[str, Any] | None:
        """What the page of ``user`` is told about ``event`` (None: nothing)."""
        if isinstance(event, MessageCreated | MessageEdited | MessageDeleted):
            if not can_see(user, event.message):
                return None
            return {
                "kind": "message",
                "change": CHANGES[type(event)],
                "message": message_json(self._emulator, event.message),
            }
        if isinstance(event, WORLD_EVENTS):
            return {"kind": "world"}
        if isinstance(event, CommandsSynced):
            return {"kind": "commands"}
        if isinstance(event, BotConnected):
            return {"kind": "connected"}
        return None

    async def close_all(self, _: web.Application) -> None:
        """End every open stream (the app is shutting down)."""
        for feed in list(self._open):
            feed.close()

    async def _send(self, response: web.StreamResponse, body: dict[str, Any]) -> None:
        data = json.dumps({**body, "now": self._now().isoformat()})
        await response.write(f"data: {data}\n\n".encode())
