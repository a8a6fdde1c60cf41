"""The first minute: rr greets a guild that adds it, and says what to set before servers start.

When rr joins a guild it posts the first steps in the guild's system channel, else in the first
text channel it may post in (none: it stays quiet and logs why). The sandbox greets its squadron
the same way at start-up, through `greet`.
"""

import logging

import discord
from discord.ext import commands

from bot.domain.squadron import SquadronState
from cogs.utils.client import RRBot
from cogs.utils.parsing import InputError

log = logging.getLogger("rr.discord")

WELCOME_TITLE = "Thanks for adding rr"
WELCOME_STEPS = (
    "rr rents DCS World dedicated servers to your squadron by the hour. The first steps:",
    "1. **Who may manage servers**: someone with Manage Server runs `/config role` to "
    "name the role whose members may start, book, extend and stop servers (members with Manage "
    "Server always may).",
    "2. **Where reminders go**: `/config channel` picks the channel for reminders, "
    "ready messages (the server's address) and end warnings.",
    "3. **Buy credit**: `/credits buy` with an amount; the payment link comes by DM, and "
    "`/credits balance` shows what is left.",
    "4. **Start a server**: `/server start` with a duration such as `2h` starts one now; "
    "`/server schedule` books one for later. `/config show` lists the squadron's "
    "defaults (name, password, size, add-ons) and `/config set` changes them.",
)


def welcome_embed() -> discord.Embed:
    return discord.Embed(title=WELCOME_TITLE, description="\n".join(WELCOME_STEPS))


def welcome_channel(guild: discord.Guild) -> discord.TextChannel | None:
    """The system channel if rr may post there, else the first text channel where it may."""
    me = guild.me
    candidates = [guild.system_channel] if guild.system_channel else []
    candidates.extend(sorted(guild.text_channels, key=lambda channel: channel.position))
    for channel in candidates:
        allowed = channel.permissions_for(me)
        if allowed.view_channel and allowed.send_messages and allowed.embed_links:
            return channel
    return None


def require_set_up(squadron: SquadronState) -> None:
    """Refuse to start or book before the squadron chose where its reminders go: the ready
    message with the server's address and the end warnings would have nowhere to land."""
    settings = squadron.settings
    if settings.reminder_channel_id:
        return
    steps = ["`/config channel` (where reminders and the server's address go)"]
    if not settings.manager_role_id:
        steps.append("`/config role` (who may manage servers)")
    raise InputError(
        "This squadron isn't set up yet: someone with Manage Server should first run "
        + " and ".join(steps)
        + "."
    )


async def greet(guild: discord.Guild) -> discord.Message | None:
    """Post the first steps in ``guild``; None when rr may post in none of its channels."""
    channel = welcome_channel(guild)
    if channel is None:
        log.warning("no channel to greet in guild=%s", guild.id)
        return None
    try:
        return await channel.send(embed=welcome_embed())
    except discord.HTTPException as error:
        log.warning("welcome not posted guild=%s status=%s", guild.id, error.status)
        return None


class WelcomeCog(commands.Cog):
    def __init__(self, bot: RRBot) -> None:
        self.bot = bot

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        await greet(guild)


async def setup(bot: RRBot) -> None:
    await bot.add_cog(WelcomeCog(bot))
