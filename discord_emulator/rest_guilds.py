"""REST: the guild, member, role and channel reads a bot plausibly makes."""

from aiohttp import web

from discord_emulator import payloads
from discord_emulator.core import API, core_of
from discord_emulator.errors import missing_access, unknown_member
from discord_emulator.http import json_response, query_int, snowflake
from discord_emulator.models import Guild, TextChannel
from discord_emulator.permissions import Permission

routes = web.RouteTableDef()


def _guild(request: web.Request) -> Guild:
    return core_of(request).world.guild(snowflake(request, "guild_id"))


@routes.get(f"{API}/guilds/{{guild_id}}")
async def get_guild(request: web.Request) -> web.Response:
    guild = _guild(request)
    body = payloads.guild(guild)
    if request.query.get("with_counts") == "true":
        body |= {"approximate_member_count": len(guild.members), "approximate_presence_count": 0}
    return json_response(body)


@routes.get(f"{API}/guilds/{{guild_id}}/members/{{user_id}}")
async def get_member(request: web.Request) -> web.Response:
    member = _guild(request).members.get(snowflake(request, "user_id"))
    if member is None:
        raise unknown_member()
    return json_response(payloads.member(member))


@routes.get(f"{API}/guilds/{{guild_id}}/members")
async def list_members(request: web.Request) -> web.Response:
    limit = min(max(query_int(request, "limit", 1), 1), 1000)
    after = query_int(request, "after", 0)
    members = sorted(_guild(request).members.values(), key=lambda m: m.user.id)
    chosen = [m for m in members if m.user.id > after][:limit]
    return json_response([payloads.member(m) for m in chosen])


@routes.get(f"{API}/guilds/{{guild_id}}/roles")
async def list_roles(request: web.Request) -> web.Response:
    roles = sorted(_guild(request).roles.values(), key=lambda r: r.position)
    return json_response([payloads.role(r) for r in roles])


@routes.get(f"{API}/guilds/{{guild_id}}/channels")
async def list_channels(request: web.Request) -> web.Response:
    return json_response([payloads.text_channel(c) for c in _guild(request).text_channels])


@routes.get(f"{API}/channels/{{channel_id}}")
async def get_channel(request: web.Request) -> web.Response:
    world = core_of(request).world
    channel = world.channel(snowflake(request, "channel_id"))
    if isinstance(channel, TextChannel):
        if not channel.guild.permissions_for(world.bot, channel) & Permission.VIEW_CHANNEL:
            raise missing_access()
        return json_response(payloads.text_channel(channel))
    return json_response(payloads.dm_channel(channel))
