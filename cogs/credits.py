"""``/credits …``: buy server credit (the checkout link comes by DM), see balance and history."""

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain.money import format_cents
from cogs.utils.auth import actor_for, require_guild
from cogs.utils.checkout import send_checkout
from cogs.utils.client import RRBot
from cogs.utils.parsing import parse_money
from cogs.utils.views import OwnedView

HISTORY_PAGE_SIZE = 10


class CreditsCog(commands.Cog):
    credits = app_commands.Group(
        name="credits", description="Your squadron's prepaid server credit.", guild_only=True
    )

    def __init__(self, bot: RRBot) -> None:
        self.bot = bot
        self.services = bot.services

    @credits.command(name="buy", description="Buy server credit; the payment link comes by DM.")
    @app_commands.describe(amount="How much, e.g. 25 or 12.50.")
    async def buy(self, interaction: discord.Interaction, amount: str) -> None:
        require_guild(interaction)
        cents = parse_money(amount)
        actor = await actor_for(interaction, self.services, self.bot.options.operator_ids)
        await send_checkout(interaction, self.services, actor, cents, None)

    @credits.command(name="balance", description="The squadron's credit.")
    async def balance(self, interaction: discord.Interaction) -> None:
        guild_id = require_guild(interaction)
        balance = await self.services.squadrons.balance(guild_id)
        currency = self.services.pricing.currency
        embed = discord.Embed(title="Server credit", colour=discord.Colour.green())
        embed.add_field(name="Available", value=format_cents(balance.available_cents, currency))
        embed.add_field(name="Reserved", value=format_cents(balance.reserved_cents, currency))
        embed.add_field(name="Balance", value=format_cents(balance.balance_cents, currency))
        embed.set_footer(text="Reserved credit pays for booked and running servers.")
        await interaction.response.send_message(embed=embed)

    @credits.command(name="history", description="The squadron's purchases, charges and grants.")
    @app_commands.describe(page="Which page (1 is the newest).")
    async def history(
        self, interaction: discord.Interaction, page: app_commands.Range[int, 1, 1000] = 1
    ) -> None:
        guild_id = require_guild(interaction)
        embed, view = await self._history_page(guild_id, page - 1, interaction.user.id)
        sent = await interaction.response.send_message(embed=embed, view=view, ephemeral=True)
        view.shown_on(interaction, sent.message_id)

    async def _history_page(
        self, guild_id: str, page: int, owner_id: int
    ) -> tuple[discord.Embed, "HistoryPager"]:
        result = await self.services.squadrons.history(
            guild_id, page=page, page_size=HISTORY_PAGE_SIZE
        )
        currency = self.services.pricing.currency
        embed = discord.Embed(title="Credit history", colour=discord.Colour.blurple())
        lines = [
            f"{discord.utils.format_dt(entry.recorded_at, 'd')} "
            f"**{format_cents(entry.amount_cents, currency)}** {entry.description}"
            for entry in result.items
        ]
        embed.description = "\n".join(lines) or "Nothing yet."
        embed.set_footer(text=f"Page {page + 1} of {max(result.pages, 1)}")
        return embed, HistoryPager(self, guild_id, page, result.pages, owner_id)


class HistoryPager(OwnedView):
    def __init__(self, cog: CreditsCog, guild_id: str, page: int, pages: int, owner_id: int):
        super().__init__(owner_id)
        self.cog, self.guild_id, self.page = cog, guild_id, page
        self.newer.disabled = page <= 0
        self.older.disabled = page + 1 >= pages

    async def _show(self, interaction: discord.Interaction, page: int) -> None:
        embed, view = await self.cog._history_page(self.guild_id, page, self.owner_id)
        self.stop()
        await interaction.response.edit_message(embed=embed, view=view)
        if interaction.message:
            view.shown_on(interaction, interaction.message.id)

    @discord.ui.button(label="Newer", style=discord.ButtonStyle.secondary, custom_id="newer")
    async def newer(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
        await self._show(interaction, self.page - 1)

    @discord.ui.button(label="Older", style=discord.ButtonStyle.secondary, custom_id="older")
    async def older(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
        await self._show(interaction, self.page + 1)


async def setup(bot: RRBot) -> None:
    await bot.add_cog(CreditsCog(bot))
