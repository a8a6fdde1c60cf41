"""REST: application command sync (bulk overwrite) and listing, per scope."""

from aiohttp import web

from discord_emulator.command_limits import validate_commands
from discord_emulator.core import API, Core, core_of
from discord_emulator.errors import unknown_application
from discord_emulator.events import CommandsSynced
from discord_emulator.http import json_response, read_body, snowflake
from discord_emulator.models import Guild

routes = web.RouteTableDef()
GLOBAL = f"{API}/applications/{{application_id}}/commands"
GUILD = f"{API}/applications/{{application_id}}/guilds/{{guild_id}}/commands"


def _scope(request: web.Request) -> tuple[Core, Guild | None]:
    core = core_of(request)
    if snowflake(request, "application_id") != core.world.application_id:
        raise unknown_application()
    guild = (
        core.world.guild(snowflake(request, "guild_id"))
        if "guild_id" in request.match_info
        else None
    )
    return core, guild


@routes.put(GLOBAL)
@routes.put(GUILD)
async def overwrite_commands(request: web.Request) -> web.Response:
    core, guild = _scope(request)
    body, _ = await read_body(request)
    definitions = validate_commands(body)
    registered = core.commands.overwrite(guild.id if guild else None, definitions)
    synced = [command.payload for command in registered]
    core.bus.publish(CommandsSynced(guild, synced))
    return json_response(synced)


@routes.get(GLOBAL)
@routes.get(GUILD)
async def list_commands(request: web.Request) -> web.Response:
    core, guild = _scope(request)
    return json_response([c.payload for c in core.commands.scope(guild.id if guild else None)])
