"""Sending a member a checkout link by DM, shared by ``/credits buy`` and the buy buttons shown
when a start or booking is short of credit."""

from typing import Any

import discord

from bot.domain.actor import Actor
from bot.domain.money import format_cents
from bot.services import Services
from cogs.utils.auth import require_guild


def purchase_amount(services: Services, needed_cents: int) -> int:
    """What to charge for ``needed_cents``: at least the smallest purchase allowed."""
    return max(needed_cents, services.payments.config.min_purchase_cents)


async def send_checkout(
    interaction: discord.Interaction,
    services: Services,
    actor: Actor,
    amount_cents: int,
    intent: dict[str, Any] | None,
) -> None:
    """Open a checkout and DM its link; with DMs closed, show the link privately instead."""
    guild_id = require_guild(interaction)
    await interaction.response.defer(ephemeral=True, thinking=True)
    link = await services.payments.start_checkout(actor, guild_id, amount_cents, intent)
    amount = format_cents(link.amount_cents, services.pricing.currency)
    after = " Your server will be booked as soon as the payment lands." if intent else ""
    text = f"Pay {amount} of server credit here: {link.url}{after}"
    try:
        await interaction.user.send(text)
    except discord.Forbidden:
        await interaction.followup.send(
            f"I couldn't DM you (your DMs are closed), so here is the link. {text}",
            ephemeral=True,
        )
        return
    await interaction.followup.send(
        f"I've sent you a DM with the payment link for {amount}.", ephemeral=True
    )
