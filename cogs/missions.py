"""``/mission …``: the squadron's mission library. Managers upload a .miz as an attachment and
remove missions; everyone lists them and reads one's summary. Thin: parse, authorise, call
``bot.services``, render."""

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain.library import LibraryMission, image_name
from bot.domain.mission_quota import BYTES_PER_MB
from bot.services import Library
from cogs.utils.auth import actor_for, require_guild, require_manager
from cogs.utils.client import RRBot
from cogs.utils.saves import RollbackView, saves_embed

MAX_CHOICES = 25
COALITIONS = {"blue": "Blue", "red": "Red", "neutrals": "Neutral"}


class MissionsCog(commands.Cog):
    mission = app_commands.Group(
        name="mission", description="Your squadron's DCS missions.", guild_only=True
    )

    def __init__(self, bot: RRBot) -> None:
        self.bot = bot
        self.services = bot.services

    @mission.command(name="upload", description="Add a .miz mission file to the library.")
    @app_commands.describe(
        file="The .miz file the DCS mission editor saved.",
        name="What to call it (default: the file's name).",
    )
    async def upload(
        self, interaction: discord.Interaction, file: discord.Attachment, name: str | None = None
    ) -> None:
        require_guild(interaction)
        actor = await actor_for(interaction, self.services, self.bot.options.operator_ids)
        require_manager(actor, "add missions to the library")
        await interaction.response.defer(ephemeral=True, thinking=True)
        added = await self.services.missions.upload(
            actor, filename=file.filename, size=file.size, download=file.read, name=name
        )
        await interaction.followup.send(
            f"Added **{added.name}** to the library; start a server with it from "
            "/server start or /server schedule.",
            embed=mission_embed(added),
            ephemeral=True,
        )

    @mission.command(name="list", description="The squadron's missions.")
    async def list_missions(self, interaction: discord.Interaction) -> None:
        guild_id = require_guild(interaction)
        shown = await self.services.missions.library(guild_id)
        await interaction.response.send_message(embed=library_embed(shown), ephemeral=True)

    @mission.command(name="info", description="What a mission in the library holds.")
    @app_commands.describe(name="The mission's name.")
    async def info(self, interaction: discord.Interaction, name: str) -> None:
        guild_id = require_guild(interaction)
        found = await self.services.missions.mission(guild_id, name)
        await interaction.response.send_message(embed=mission_embed(found), ephemeral=True)

    @mission.command(name="remove", description="Remove a mission from the library.")
    @app_commands.describe(name="The mission's name.")
    async def remove(self, interaction: discord.Interaction, name: str) -> None:
        require_guild(interaction)
        actor = await actor_for(interaction, self.services, self.bot.options.operator_ids)
        require_manager(actor, "remove missions from the library")
        removed = await self.services.missions.remove(actor, name)
        await interaction.response.send_message(
            f"Removed **{removed.name}** from the library.", ephemeral=True
        )

    @mission.command(name="saves", description="A mission's campaign saves; roll back to one.")
    @app_commands.describe(mission="The mission's name.")
    async def saves(self, interaction: discord.Interaction, mission: str) -> None:
        guild_id = require_guild(interaction)
        actor = await actor_for(interaction, self.services, self.bot.options.operator_ids)
        found = await self.services.saves.saves(guild_id, mission)
        embed = saves_embed(mission, found)
        if not (actor.is_manager or actor.is_operator) or len(found.saves) < 2:
            await interaction.response.send_message(embed=embed, ephemeral=True)
            return

        async def choose(_: discord.Interaction, key: str) -> None:
            await self.services.saves.choose(actor, guild_id, mission, key)

        view = RollbackView(interaction.user.id, mission, found, choose)
        sent = await interaction.response.send_message(embed=embed, view=view, ephemeral=True)
        view.shown_on(interaction, sent.message_id)

    @saves.autocomplete("mission")
    @info.autocomplete("name")
    @remove.autocomplete("name")
    async def _library_names(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        shown = await self.services.missions.library(str(interaction.guild_id))
        typed = current.casefold()
        names = [m.name for m in shown.missions if typed in m.name.casefold()]
        return [app_commands.Choice(name=n, value=n) for n in names[:MAX_CHOICES]]


def mission_embed(mission: LibraryMission) -> discord.Embed:
    facts = mission.facts
    embed = discord.Embed(
        title=mission.name, description=facts.sortie or None, colour=discord.Colour.blue()
    )
    embed.add_field(name="Terrain", value=facts.terrain)
    embed.add_field(name="Starts", value=facts.mission_start.replace("T", " ")[:16])
    embed.add_field(name="Player slots", value=_slots(mission))
    embed.add_field(name="Modules", value=", ".join(facts.required_modules)[:1024] or "none")
    if facts.desanitized_scripting:
        embed.add_field(
            name="Scripting",
            value="Its scripts use os, io or lfs, which DCS servers block by default.",
            inline=False,
        )
    embed.add_field(name="Uploaded by", value=f"<@{mission.uploaded_by}>")
    embed.set_footer(text=f"{facts.filename} · {_mb(facts.size)}")
    return embed


def library_embed(shown: Library) -> discord.Embed:
    embed = discord.Embed(title="Mission library", colour=discord.Colour.blue())
    lines = [
        f"**{m.name}** · {m.facts.terrain} · {_slots(m)} · {_mb(m.facts.size)}"
        for m in shown.missions
    ]
    embed.description = (
        "\n".join(lines)[:4000] or "No missions uploaded yet: add one with /mission upload."
    )
    if shown.on_image:
        embed.add_field(
            name="On the server image",
            value="\n".join(image_name(path) for path in shown.on_image)[:1024],
            inline=False,
        )
    quota = shown.quota
    embed.set_footer(
        text=f"{len(shown.missions)} of {quota.max_count} missions · "
        f"{_mb(shown.used_bytes)} of {_mb(quota.max_bytes)} used"
    )
    return embed


def _slots(mission: LibraryMission) -> str:
    taken = [
        f"{COALITIONS.get(side, side)} {count}"
        for side, count in mission.facts.client_slots.items()
        if count
    ]
    return ", ".join(taken) or "no player slots"


def _mb(size: int) -> str:
    return f"{size / BYTES_PER_MB:,.1f} MB"


async def setup(bot: RRBot) -> None:
    await bot.add_cog(MissionsCog(bot))
