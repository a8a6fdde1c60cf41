"""REST: interaction callbacks and the interaction webhook (followups, @original, edits).

No authorization header is needed or checked here: discord.py sends these through a session
without one (reference §1.2). The webhook id must be the application id.
"""

from aiohttp import web

from discord_emulator.core import API, core_of
from discord_emulator.errors import unknown_webhook
from discord_emulator.http import json_response, no_content, read_object, snowflake
from discord_emulator.interactions import Interaction

routes = web.RouteTableDef()
WEBHOOK = f"{API}/webhooks/{{webhook_id}}/{{token}}"
MESSAGE = f"{WEBHOOK}/messages/{{message_id}}"


@routes.post(f"{API}/interactions/{{interaction_id}}/{{token}}/callback")
async def callback(request: web.Request) -> web.Response:
    ledger = core_of(request).interactions
    interaction = ledger.by_id(snowflake(request, "interaction_id"), request.match_info["token"])
    body, uploads = await read_object(request)
    return json_response(ledger.respond(interaction, body, uploads))


def _interaction(request: web.Request) -> Interaction:
    core = core_of(request)
    if snowflake(request, "webhook_id") != core.world.application_id:
        raise unknown_webhook()
    return core.interactions.by_token(request.match_info["token"])


@routes.post(WEBHOOK)
async def followup(request: web.Request) -> web.Response:
    core = core_of(request)
    interaction = _interaction(request)
    body, uploads = await read_object(request)
    message = core.interactions.followup(interaction, body, uploads)
    if request.query.get("wait") not in ("1", "true", "True"):
        return no_content()
    return json_response(core.world.message_payload(message))


@routes.get(MESSAGE)
async def get_message(request: web.Request) -> web.Response:
    core = core_of(request)
    message = core.interactions.message(_interaction(request), request.match_info["message_id"])
    return json_response(core.world.message_payload(message))


@routes.patch(MESSAGE)
async def edit_message(request: web.Request) -> web.Response:
    core = core_of(request)
    interaction = _interaction(request)
    body, uploads = await read_object(request)
    reference = request.match_info["message_id"]
    message = core.interactions.edit(interaction, reference, body, uploads)
    return json_response(core.world.message_payload(message))


@routes.delete(MESSAGE)
async def delete_message(request: web.Request) -> web.Response:
    core = core_of(request)
    core.interactions.delete(_interaction(request), request.match_info["message_id"])
    return no_content()
