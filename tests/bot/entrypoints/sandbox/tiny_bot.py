"""A tiny, ordinary discord.py bot for the console tests: it knows nothing of the console.

``/flight plan`` has a choice option, an autocompleted one and a ranged integer, and answers
privately with an embed (a Discord timestamp and a mention in it) and a button; the button posts
to the channel and DMs the member. ``/flight debrief`` opens a modal; ``/flight track`` reads
an attached file. ``/audit`` is registered
only in the admin guild and only for members with Manage Server.
"""

import discord
from discord import app_commands
from discord.ext import commands

AIRFIELDS = ["Batumi", "Kobuleti", "Kutaisi", "Senaki"]
DEPARTURE = 1_900_000_000
"""A fixed Unix time, shown as a Discord timestamp in the plan."""

flight = app_commands.Group(name="flight", description="Flight planning", guild_only=True)


class PlanView(discord.ui.View):
    def __init__(self, summary: str) -> None:
        super().__init__(timeout=60)
        self.summary = summary

    @discord.ui.button(label="File plan", custom_id="file", style=discord.ButtonStyle.success)
    async def file(
        self, interaction: discord.Interaction, _: discord.ui.Button["PlanView"]
    ) -> None:
        await interaction.response.edit_message(content="Filed.", embed=None, view=None)
        assert isinstance(interaction.channel, discord.abc.Messageable)
        await interaction.channel.send(f"{interaction.user.mention} filed: {self.summary}")
        await interaction.user.send(f"Your plan is filed: https://example.com/plans/{self.summary}")


@flight.command(name="plan", description="Plan a flight")
@app_commands.describe(aircraft="What you fly", airfield="Where from", minutes="How long")
@app_commands.choices(
    aircraft=[
        app_commands.Choice(name="F-16C Viper", value="f16"),
        app_commands.Choice(name="F/A-18C Hornet", value="f18"),
    ]
)
async def plan(
    interaction: discord.Interaction,
    aircraft: str,
    airfield: str,
    minutes: app_commands.Range[int, 15, 240] = 60,
) -> None:
    summary = f"{aircraft}-{airfield}-{minutes}"
    embed = discord.Embed(
        title="Flight plan",
        description=f"Pilot {interaction.user.mention}, departing <t:{DEPARTURE}:R>.",
        colour=0x5865F2,
    )
    embed.add_field(name="Airfield", value=airfield)
    embed.add_field(name="Minutes", value=str(minutes))
    embed.set_footer(text="Press File plan to file it.")
    await interaction.response.send_message(
        f"**{aircraft}** from {airfield}?", embed=embed, view=PlanView(summary), ephemeral=True
    )


@plan.autocomplete("airfield")
async def airfields(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    return [
        app_commands.Choice(name=f"{name} airbase", value=name)
        for name in AIRFIELDS
        if name.lower().startswith(current.lower())
    ]


class Debrief(discord.ui.Modal, title="Debrief"):
    notes: discord.ui.TextInput["Debrief"] = discord.ui.TextInput(
        label="What happened?", custom_id="notes", max_length=200
    )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"Noted: {self.notes.value}", ephemeral=True)


@flight.command(name="debrief", description="Tell us how it went")
async def debrief(interaction: discord.Interaction) -> None:
    await interaction.response.send_modal(Debrief())


@flight.command(name="track", description="Share a track file")
async def track(interaction: discord.Interaction, file: discord.Attachment) -> None:
    data = await file.read()
    await interaction.response.send_message(f"Got {file.filename}: {len(data)} bytes.")


@app_commands.command(name="audit", description="Audit the wing")
@app_commands.default_permissions(manage_guild=True)
async def audit(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("Audited.")


class TinyBot(commands.Bot):
    def __init__(self, admin_guild_id: int) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(
            command_prefix=commands.when_mentioned, intents=intents, guild_ready_timeout=0.05
        )
        self.admin_guild = discord.Object(admin_guild_id)

    async def setup_hook(self) -> None:
        self.tree.add_command(flight)
        self.tree.add_command(audit, guild=self.admin_guild)
        await self.tree.sync()
        await self.tree.sync(guild=self.admin_guild)
