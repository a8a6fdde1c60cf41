"""What the console page is shown: the world, messages as one member sees them, command forms.

Everything is JSON-ready data with ids as strings (JavaScript numbers cannot hold a snowflake).
A member sees a guild channel's messages if they may view the channel, ephemeral messages only
when they are the ones who used the interaction, and only their own DMs with the bot.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from discord_emulator import payloads
from discord_emulator.commands import SUBCOMMAND_TYPES
from discord_emulator.core import API
from discord_emulator.interactions import APPLICATION_COMMAND
from discord_emulator.models import DMChannel, Guild, Message, TextChannel, User
from discord_emulator.permissions import Permission
from discord_emulator.server import Emulator


def world_json(emulator: Emulator) -> dict[str, Any]:
    """Guilds with their channels, roles and members, and every user (for names in mentions)."""
    return {
        "bot": _user(emulator.bot_user),
        "users": [_user(user) for user in emulator.users],
        "guilds": [_guild(guild) for guild in emulator.guilds],
    }


def _user(user: User) -> dict[str, Any]:
    return {"id": str(user.id), "name": user.name, "bot": user.bot}


def _guild(guild: Guild) -> dict[str, Any]:
    return {
        "id": str(guild.id),
        "name": guild.name,
        "owner_id": str(guild.owner.id),
        "channels": [{"id": str(c.id), "name": c.name} for c in guild.text_channels],
        "roles": [
            {"id": str(role.id), "name": role.name}
            for role in sorted(guild.roles.values(), key=lambda role: role.position)
            if role is not guild.everyone
        ],
        "members": [
            {
                "id": str(member.user.id),
                "name": member.user.name,
                "bot": member.user.bot,
                "roles": [str(role_id) for role_id in member.role_ids],
            }
            for member in guild.members.values()
        ],
    }


# -- messages -------------------------------------------------------------------------------


def message_json(emulator: Emulator, message: Message) -> dict[str, Any]:
    """A message in Discord's wire form plus where it is and who the page should show it to."""
    origin = emulator.base_url.removesuffix(API)
    wire = payloads.message(message, application_id=emulator.application_id, cdn_url=origin)
    channel = message.channel
    interaction = message.interaction
    return {
        "id": wire["id"],
        "channel_id": wire["channel_id"],
        "guild_id": wire.get("guild_id"),
        "dm_user_id": str(channel.recipient.id) if isinstance(channel, DMChannel) else None,
        "author": _user(message.author),
        "created_at": wire["timestamp"],
        "edited_at": wire["edited_timestamp"],
        "content": message.content,
        "embeds": message.embeds,
        "components": message.components,
        "attachments": wire["attachments"],
        "ephemeral": message.ephemeral,
        "loading": message.loading,
        "deleted": message.deleted,
        "command": (
            {
                "name": interaction.name,
                "user_id": str(interaction.user.id),
                "user_name": interaction.user.name,
            }
            if interaction is not None and interaction.type == APPLICATION_COMMAND
            else None
        ),
    }


def can_see(user: User, message: Message) -> bool:
    """Whether ``user`` sees ``message`` (deleted ones included: the page removes them)."""
    channel = message.channel
    if isinstance(channel, DMChannel):
        return channel.recipient is user
    if channel.deleted or not can_view(user, channel):
        return False
    if message.ephemeral:
        return message.interaction is not None and message.interaction.user is user
    return True


def can_view(user: User, channel: TextChannel) -> bool:
    guild = channel.guild
    if user.id not in guild.members:
        return False
    return bool(guild.permissions_for(user, channel) & Permission.VIEW_CHANNEL)


PAGE_SIZE = 50
"""Messages the console sends at once: the latest page, then older ones on request."""


@dataclass(frozen=True)
class Page:
    messages: list[dict[str, Any]]
    """Oldest first."""
    more: bool
    """Older messages the member can see remain before these."""


def messages_in(
    emulator: Emulator,
    channel: TextChannel | None,
    user: User,
    *,
    before: int | None = None,
    limit: int = PAGE_SIZE,
) -> Page:
    """The latest ``limit`` messages ``user`` sees in ``channel`` (their DMs with the bot when
    None) older than message ``before`` (if given): walked from the newest, so a request costs
    the page, not the whole history."""
    visible: list[Message] = []
    more = False
    for message in reversed(emulator.history(user if channel is None else channel)):
        if (before is not None and message.id >= before) or message.deleted:
            continue
        if not can_see(user, message):
            continue
        if len(visible) == limit:
            more = True
            break
        visible.append(message)
    return Page([message_json(emulator, m) for m in reversed(visible)], more)


def find_message(emulator: Emulator, user: User, message_id: int) -> Message | None:
    """A message ``user`` can see, by id: in a guild channel, their DMs, or their interactions."""
    message = emulator.stored_message(message_id)
    if message is None or message.deleted or not can_see(user, message):
        return None
    return message


def channel_by_id(emulator: Emulator, channel_id: int) -> TextChannel | None:
    for guild in emulator.guilds:
        channel = guild.channels.get(channel_id)
        if channel is not None:
            return channel
    return None


# -- commands -------------------------------------------------------------------------------


def command_forms(emulator: Emulator, guild: Guild | None, user: User) -> list[dict[str, Any]]:
    """Every slash command ``user`` may run in ``guild`` (or the bot's DMs), one per leaf.

    A leaf is what a person types: ``server start`` with the options of that subcommand, as the
    bot registered them (types, choices, ranges, required, autocomplete).
    """
    forms: list[dict[str, Any]] = []
    for command in emulator.slash_commands(guild):
        if guild is not None and not _may_see(command, guild, user):
            continue
        forms.extend(_leaves(command["name"], command))
    return sorted(forms, key=lambda form: form["path"])


def _may_see(command: dict[str, Any], guild: Guild, user: User) -> bool:
    """Discord hides a command with ``default_member_permissions`` from members lacking them."""
    required = command.get("default_member_permissions")
    if required is None:
        return True
    granted = guild.permissions_for(user)
    if granted & Permission.ADMINISTRATOR:
        return True
    needed = int(required)
    return needed != 0 and granted & needed == needed


def _leaves(path: str, node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    options = list(node.get("options") or [])
    branches = [option for option in options if option["type"] in SUBCOMMAND_TYPES]
    if not branches:
        yield {"path": path, "description": node.get("description") or "", "options": options}
    for branch in branches:
        yield from _leaves(f"{path} {branch['name']}", branch)
