"""Pointing an unmodified discord.py client at the emulator (reference §1).

Two class attributes decide where discord.py connects: ``discord.http.Route.BASE`` for every REST
call (webhooks and interaction callbacks included) and ``DiscordWebSocket.DEFAULT_GATEWAY`` for
the websocket. They are process-wide, so one process talks to one emulator at a time.
"""

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import discord
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from discord_emulator.server import Emulator


def patch_discord(base_url: str, gateway_url: str) -> None:
    """Send all of discord.py's traffic to ``base_url`` (REST) and ``gateway_url`` (websocket)."""
    Route.BASE = base_url
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


@contextmanager
def patched_discord(base_url: str, gateway_url: str) -> Iterator[None]:
    """``patch_discord`` for the duration of a ``with`` block, restoring Discord's URLs after."""
    saved = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    patch_discord(base_url, gateway_url)
    try:
        yield
    finally:
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = saved


@asynccontextmanager
async def running_bot(
    client: discord.Client, emulator: Emulator, *, ready_within: float = 10.0
) -> AsyncIterator[discord.Client]:
    """Log ``client`` in to ``emulator``, connect it, and yield once ``on_ready`` has fired.

    The client waits ``guild_ready_timeout`` (discord.py's default 2 s) after the last guild
    before it is ready; construct it with ``guild_ready_timeout=0.05`` to skip that wait. The
    client is closed when the block ends.
    """
    with patched_discord(emulator.base_url, emulator.gateway_url):
        try:
            await client.login(emulator.token)
        except BaseException:
            await client.close()
            raise
        connection = asyncio.create_task(client.connect(reconnect=True))
        ready = asyncio.create_task(client.wait_until_ready())
        try:
            done, _ = await asyncio.wait(
                {connection, ready}, timeout=ready_within, return_when=asyncio.FIRST_COMPLETED
            )
            if connection in done:
                connection.result()
                raise ConnectionError("The bot's gateway connection ended before it was ready.")
            if ready not in done:
                raise TimeoutError(f"The bot was not ready within {ready_within:g} s.")
            yield client
        finally:
            ready.cancel()
            await client.close()
            await asyncio.gather(connection, return_exceptions=True)
