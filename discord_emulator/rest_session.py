"""REST: who the bot is (login), where the gateway is, users, and opening DM channels."""

from aiohttp import web

from discord_emulator import payloads
from discord_emulator.core import API, core_of
from discord_emulator.errors import invalid_recipient
from discord_emulator.http import json_response, read_object, snowflake

routes = web.RouteTableDef()


@routes.get(f"{API}/users/@me")
async def current_user(request: web.Request) -> web.Response:
    return json_response(payloads.user(core_of(request).world.bot))


@routes.get(f"{API}/oauth2/applications/@me")
async def current_application(request: web.Request) -> web.Response:
    world = core_of(request).world
    owner = world.application_owner
    return json_response(payloads.application(world.application_id, world.bot.name, owner))


@routes.get(f"{API}/gateway")
async def gateway(request: web.Request) -> web.Response:
    return json_response({"url": core_of(request).gateway.url})


@routes.get(f"{API}/gateway/bot")
async def gateway_bot(request: web.Request) -> web.Response:
    limit = {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}
    body = {"url": core_of(request).gateway.url, "shards": 1, "session_start_limit": limit}
    return json_response(body)


@routes.get(f"{API}/users/{{user_id}}")
async def get_user(request: web.Request) -> web.Response:
    world = core_of(request).world
    return json_response(payloads.user(world.user(snowflake(request, "user_id"))))


@routes.post(f"{API}/users/@me/channels")
async def open_dm(request: web.Request) -> web.Response:
    world = core_of(request).world
    body, _ = await read_object(request)
    recipient = str(body.get("recipient_id", ""))
    user = world.users.get(int(recipient)) if recipient.isdigit() else None
    if user is None or user is world.bot:
        raise invalid_recipient()
    return json_response(payloads.dm_channel(world.dm_channel(user)))
