"""A small, ordinary discord.py bot the emulator tests drive (nothing in it knows the emulator).

It exercises each thing a real bot does: a slash command group with choices and a range,
buttons, a select menu, a modal, autocomplete, a defer with followups and edits, a DM, a post to
a configured channel, and a guild-only command group with a member option.
"""

import asyncio

import discord
from discord import app_commands
from discord.ext import commands

MISSIONS = ["Caucasus CAP", "Caucasus SEAD", "Nevada Red Flag", "Syria Strike"]


class ConfirmView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=60)

    @discord.ui.button(label="Confirm", custom_id="confirm", style=discord.ButtonStyle.success)
    async def confirm(
        self, interaction: discord.Interaction, _: discord.ui.Button["ConfirmView"]
    ) -> None:
        await interaction.response.edit_message(content="Confirmed.", view=None)

    @discord.ui.button(label="Cancel", custom_id="cancel", style=discord.ButtonStyle.secondary)
    async def cancel(
        self, interaction: discord.Interaction, _: discord.ui.Button["ConfirmView"]
    ) -> None:
        await interaction.response.send_message("Cancelled.", ephemeral=True)


class RegionView(discord.ui.View):
    @discord.ui.select(
        custom_id="region",
        options=[discord.SelectOption(label=r, value=r) for r in ("eu-west-1", "us-east-1")],
    )
    async def region(
        self, interaction: discord.Interaction, select: discord.ui.Select["RegionView"]
    ) -> None:
        await interaction.response.send_message(f"Region {select.values[0]}.")


class FeedbackModal(discord.ui.Modal, title="Feedback"):
    text: discord.ui.TextInput["FeedbackModal"] = discord.ui.TextInput(
        label="What went well?", custom_id="text", max_length=200
    )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"Thanks: {self.text.value}", ephemeral=True)


class Flights(commands.Cog):
    server = app_commands.Group(name="server", description="DCS servers")

    def __init__(self, bot: "FlightBot") -> None:
        self.bot = bot

    @server.command(name="start", description="Start a server now")
    @app_commands.describe(size="Instance size", duration="How long, like 2h", players="Seats")
    @app_commands.choices(
        size=[
            app_commands.Choice(name="Small", value="small"),
            app_commands.Choice(name="Large", value="large"),
        ]
    )
    async def start(
        self,
        interaction: discord.Interaction,
        size: str,
        duration: str,
        players: app_commands.Range[int, 1, 64] = 16,
    ) -> None:
        await interaction.response.send_message(
            f"Start a {size} server for {duration} with {players} seats?",
            view=ConfirmView(),
            ephemeral=True,
        )

    @server.command(name="status", description="Boot progress")
    async def status(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send("Launching...")
        await interaction.edit_original_response(content="Ready at 127.0.0.1:10308.")
        embed = discord.Embed(title="Server", description="Caucasus")
        await interaction.followup.send("Details", embed=embed, ephemeral=True)

    @app_commands.command(name="mission", description="Pick a mission")
    async def mission(self, interaction: discord.Interaction, name: str) -> None:
        await interaction.response.send_message(f"Mission {name}.")

    @mission.autocomplete("name")
    async def mission_names(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=m, value=m) for m in MISSIONS if m.startswith(current)]

    @app_commands.command(name="briefing", description="Read an attached briefing")
    async def briefing(
        self, interaction: discord.Interaction, file: discord.Attachment, note: str = ""
    ) -> None:
        data = await file.read()
        self.bot.attachments.append(file)
        await interaction.response.send_message(
            f"{file.filename}: {file.size} bytes, {file.content_type}, {data[:20]!r} {note}"
        )

    @app_commands.command(name="remind", description="DM me a reminder")
    async def remind(self, interaction: discord.Interaction, text: str) -> None:
        try:
            await interaction.user.send(text)
        except discord.Forbidden as error:
            self.bot.failures.append(error)
            await interaction.response.send_message("Your DMs are closed.", ephemeral=True)
            return
        await interaction.response.send_message("Sent you a DM.", ephemeral=True)

    @app_commands.command(name="setchannel", description="Where announcements go")
    async def setchannel(
        self, interaction: discord.Interaction, channel: discord.TextChannel
    ) -> None:
        self.bot.announce_channel_id = channel.id
        await interaction.response.send_message(f"Announcements go to {channel.mention}.")

    @app_commands.command(name="announce", description="Post an announcement")
    async def announce(self, interaction: discord.Interaction, text: str) -> None:
        await interaction.response.defer(ephemeral=True)
        channel = self.bot.get_partial_messageable(self.bot.announce_channel_id or 0)
        try:
            await channel.send(text, embed=discord.Embed(title="Announcement"))
        except discord.HTTPException as error:
            self.bot.failures.append(error)
            await interaction.followup.send(f"Could not post ({error.code}).")
            return
        await interaction.followup.send("Posted.")

    @app_commands.command(name="slow", description="Defer, wait for the test, then follow up")
    async def slow(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        await self.bot.release.wait()
        await interaction.followup.send("Done at last.")

    @app_commands.command(name="region", description="Choose a region")
    async def region(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message("Which region?", view=RegionView())

    @app_commands.command(name="feedback", description="Tell us how it went")
    async def feedback(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(FeedbackModal())


admin = app_commands.Group(
    name="admin",
    description="Operator commands",
    default_permissions=discord.Permissions(manage_guild=True),
)
admin_user = app_commands.Group(name="user", description="Members", parent=admin)


@admin_user.command(name="kick", description="Kick a member")
async def kick(interaction: discord.Interaction, member: discord.Member) -> None:
    await interaction.response.send_message(f"Kicked {member.display_name} ({member.id}).")


class RecordingTree(app_commands.CommandTree["FlightBot"]):
    async def on_error(
        self, interaction: discord.Interaction["FlightBot"], error: app_commands.AppCommandError
    ) -> None:
        """Keep what went wrong and announce it as the ``command_failure`` event."""
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        self.client.failures.append(cause)
        self.client.dispatch("command_failure", cause)


class FlightBot(commands.Bot):
    """Registers its commands globally, plus the admin group only in ``admin_guild_id``."""

    def __init__(self, admin_guild_id: int, *, intents: discord.Intents | None = None) -> None:
        if intents is None:
            intents = discord.Intents.default()
            intents.members = True
        super().__init__(
            command_prefix="!", intents=intents, guild_ready_timeout=0.05, tree_cls=RecordingTree
        )
        self.admin_guild = discord.Object(id=admin_guild_id)
        self.failures: list[Exception] = []
        self.attachments: list[discord.Attachment] = []
        self.announce_channel_id: int | None = None
        self.release = asyncio.Event()

    async def setup_hook(self) -> None:
        await self.add_cog(Flights(self))
        self.tree.add_command(admin, guild=self.admin_guild)
        await self.tree.sync()
        await self.tree.sync(guild=self.admin_guild)
