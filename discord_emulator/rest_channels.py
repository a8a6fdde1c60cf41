"""REST: messages in guild text channels and DMs, and the attachment CDN.

Checks as Discord makes them: a deleted or unknown channel is 10003; the bot needs View Channel
to see a channel (50001), Send Messages to post (50013) and Read Message History to list; a DM to
a user whose DMs are closed, who shares no guild with the bot, or who is a bot is 50007; only the
author may edit a message (50005), and deleting someone else's needs Manage Messages.
"""

from aiohttp import web

from discord_emulator.core import API, core_of
from discord_emulator.errors import (
    cannot_edit_others_message,
    cannot_message_user,
    missing_access,
    missing_permissions,
    unknown_message,
)
from discord_emulator.http import json_response, no_content, query_int, read_object, snowflake
from discord_emulator.message_limits import CHANNEL_MESSAGE_FLAGS, EDITABLE_FLAGS, parse_message
from discord_emulator.models import Channel, TextChannel
from discord_emulator.permissions import Permission
from discord_emulator.state import World

routes = web.RouteTableDef()
MESSAGES = f"{API}/channels/{{channel_id}}/messages"


def _channel(request: web.Request, needed: Permission = Permission.VIEW_CHANNEL) -> Channel:
    world = core_of(request).world
    channel = world.channel(snowflake(request, "channel_id"))
    if isinstance(channel, TextChannel):
        granted = channel.guild.permissions_for(world.bot, channel)
        if not granted & Permission.VIEW_CHANNEL:
            raise missing_access()
        if granted & needed != needed:
            raise missing_permissions()
    return channel


def _can_message(world: World, channel: Channel) -> None:
    if isinstance(channel, TextChannel):
        return
    user = channel.recipient
    if user.bot or not user.dms_open or not world.shares_guild_with_bot(user):
        raise cannot_message_user()


@routes.post(MESSAGES)
async def create_message(request: web.Request) -> web.Response:
    world = core_of(request).world
    channel = _channel(request, Permission.VIEW_CHANNEL | Permission.SEND_MESSAGES)
    body, uploads = await read_object(request)
    fields = parse_message(
        body, uploads, allowed_flags=CHANNEL_MESSAGE_FLAGS, new_id=world.ids.next
    )
    _can_message(world, channel)
    message = world.create_message(channel, fields, author=world.bot, nonce=body.get("nonce"))
    return json_response(world.message_payload(message))


@routes.get(MESSAGES)
async def list_messages(request: web.Request) -> web.Response:
    world = core_of(request).world
    channel = _channel(request, Permission.VIEW_CHANNEL | Permission.READ_MESSAGE_HISTORY)
    limit = min(max(query_int(request, "limit", 50), 1), 100)
    before = query_int(request, "before", 2**63)
    after = query_int(request, "after", 0)
    newest_first = [m for m in reversed(world.channel_messages(channel)) if after < m.id < before]
    chosen = newest_first[-limit:] if "after" in request.query else newest_first[:limit]
    return json_response([world.message_payload(m) for m in chosen])


@routes.get(f"{MESSAGES}/{{message_id}}")
async def get_message(request: web.Request) -> web.Response:
    world = core_of(request).world
    channel = _channel(request, Permission.VIEW_CHANNEL | Permission.READ_MESSAGE_HISTORY)
    message = world.message(channel, snowflake(request, "message_id"))
    return json_response(world.message_payload(message))


@routes.patch(f"{MESSAGES}/{{message_id}}")
async def edit_message(request: web.Request) -> web.Response:
    world = core_of(request).world
    channel = _channel(request)
    message = world.message(channel, snowflake(request, "message_id"))
    if message.author is not world.bot:
        raise cannot_edit_others_message()
    body, uploads = await read_object(request)
    fields = parse_message(
        body,
        uploads,
        allowed_flags=EDITABLE_FLAGS,
        new_id=world.ids.next,
        current=world.fields_of(message),
    )
    return json_response(world.message_payload(world.edit_message(message, fields)))


@routes.delete(f"{MESSAGES}/{{message_id}}")
async def delete_message(request: web.Request) -> web.Response:
    world = core_of(request).world
    channel = _channel(request)
    message = world.message(channel, snowflake(request, "message_id"))
    if (
        message.author is not world.bot
        and isinstance(channel, TextChannel)
        and not channel.guild.permissions_for(world.bot, channel) & Permission.MANAGE_MESSAGES
    ):
        raise missing_permissions()
    world.delete_message(message)
    return no_content()


@routes.get("/attachments/{attachment_id}/{filename}")
async def attachment(request: web.Request) -> web.Response:
    found = core_of(request).world.attachments.get(snowflake(request, "attachment_id"))
    if found is None or found.filename != request.match_info["filename"]:
        raise unknown_message()
    return web.Response(body=found.data, headers={"Content-Type": found.content_type})
