"""Who is acting: the ``Actor`` the services record, built from a Discord interaction.

The rules themselves live in the domain; this module only reads Discord's facts (roles, the Manage
Server permission, the operators list) and refuses early where a command needs a manager.
"""

import discord

from bot.domain.actor import Actor
from bot.services import Services
from cogs.utils.errors import NotPermitted


async def actor_for(
    interaction: discord.Interaction, services: Services, operator_ids: frozenset[str]
) -> Actor:
    """The member behind ``interaction`` with what they may do in this guild."""
    user_id = str(interaction.user.id)
    guild_id = str(interaction.guild_id) if interaction.guild_id else None
    is_manager = False
    if guild_id is not None and isinstance(interaction.user, discord.Member):
        is_manager = _manages_server(interaction)
        if not is_manager:
            squadron = await services.squadrons.get(guild_id)
            role_id = squadron.settings.manager_role_id
            is_manager = role_id is not None and any(
                str(role.id) == role_id for role in interaction.user.roles
            )
    return Actor(
        user_id=user_id,
        guild_id=guild_id,
        is_manager=is_manager,
        is_operator=user_id in operator_ids,
        source="discord",
        source_id=str(interaction.id),
    )


def _manages_server(interaction: discord.Interaction) -> bool:
    """The member has Manage Server (or Administrator, which implies it) here."""
    permissions = interaction.permissions
    return permissions.manage_guild or permissions.administrator


def require_guild(interaction: discord.Interaction) -> str:
    if interaction.guild_id is None:
        raise NotPermitted("Use this command in your squadron's server, not in a DM.")
    return str(interaction.guild_id)


def require_manager(actor: Actor, what: str = "do that") -> None:
    if not (actor.is_manager or actor.is_operator):
        raise NotPermitted(
            f"Only squadron managers (the manager role or Manage Server) can {what}; "
            "ask one of them."
        )


def require_admin(interaction: discord.Interaction, actor: Actor) -> None:
    if not (_manages_server(interaction) or actor.is_operator):
        raise NotPermitted("Only members with Manage Server can change the squadron's settings.")
