"""Events as JSON-ready data, for a web page that renders the emulator's live feed."""

from typing import Any

from discord_emulator import payloads
from discord_emulator.events import Event
from discord_emulator.interactions import Interaction
from discord_emulator.models import Guild, Member, Message, Role, TextChannel
from discord_emulator.state import World


def describe(event: Event, world: World) -> dict[str, Any]:
    """``{"event": <class name>, <field>: <wire form>...}``; messages as Discord sends them."""
    body: dict[str, Any] = {"event": type(event).__name__}
    for name, value in vars(event).items():
        if isinstance(value, Message):
            body[name] = world.message_payload(value)
            body["interaction_id"] = str(value.interaction.id) if value.interaction else None
            body["deleted"] = value.deleted
        elif isinstance(value, Interaction):
            body[name] = {
                "id": str(value.id),
                "name": value.name,
                "user_id": str(value.user.id),
                "channel_id": str(value.channel.id),
                "response_type": value.response_type,
                "response": value.response_data,
                "latency": value.latency,
            }
        elif isinstance(value, Guild):
            body[name] = payloads.guild(value)
        elif isinstance(value, TextChannel):
            body[name] = payloads.text_channel(value)
        elif isinstance(value, Member):
            body[name] = {**payloads.member(value), "guild_id": str(value.guild.id)}
        elif isinstance(value, Role):
            body[name] = {**payloads.role(value), "guild_id": str(value.guild_id)}
        else:
            body[name] = value
    return body
