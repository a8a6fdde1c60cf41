"""A local Discord API emulator that an unmodified discord.py bot connects to over loopback.

It serves Discord's REST API under ``/api/v10`` and the gateway websocket at ``/gateway`` on
127.0.0.1, keeps a small world (users, guilds, roles, members, text channels, DMs, messages,
registered commands) and lets a test or the offline sandbox act as Discord users: run slash
commands with real options, autocomplete, click buttons and selects, submit modals, and watch
every reply, edit, channel message and DM as it happens. Each module's docstring says what it
emulates and where it deliberately differs from Discord.

How a test drives it::

    from discord_emulator import Emulator, Permission, running_bot

    async with Emulator() as emu:                      # REST + gateway on 127.0.0.1:<free port>
        guild = emu.add_guild("Squadron")              # @everyone, #general, owner, the bot
        managers = guild.add_role("managers", permissions=Permission.MANAGE_GUILD)
        pilot = emu.add_user("pilot")
        guild.add_member(pilot, roles=[managers])
        bot = MyBot(..., guild_ready_timeout=0.05)     # the unmodified commands.Bot
        async with running_bot(bot, emu):              # login, tree.sync, READY, on_ready
            handle = await emu.invoke(guild, pilot, "server start", {"size": "large"})
            first = await handle.response()            # the initial callback, with its latency
            reply = await handle.message()             # the reply as it is now (edits applied)
            dm = emu.next_message(pilot)               # register before the action...
            confirm = await handle.click("confirm")    # a button on the reply
            await confirm.response()
            assert "booked" in (await dm).content      # ...then await the DM
            names = await emu.autocomplete(guild, pilot, "mission", {"name": "Cau"},
                                           focused="name")   # the bot's suggestions
            upload = Upload("raid.miz", "application/zip", data)   # an attachment option
            await emu.invoke(guild, pilot, "mission upload", {"file": upload})

Failure switches: ``emu.close_dms(user)`` (DMs fail with 50007), ``emu.deny_bot(channel)`` (posts
fail with 50013), ``emu.delete_channel(channel)`` (CHANNEL_DELETE, then 10003). Time: pass
``Emulator(clock=...)`` to make an answer later than 3 s (10062) or a token older than 15 minutes
(50027) without sleeping. Observing: ``emu.subscribe()`` is a live feed of every event
(``emu.describe(event)`` turns one into JSON for a web page); ``emu.until(check)`` resolves once
a condition over the emulator's state holds; ``emu.interactions`` records each interaction's
dispatch and acknowledgement times. The emulator sees what the bot *sends*; to wait until the
bot has *processed* a dispatch (its cache), use discord.py's own ``bot.wait_for(event)``.
"""

from discord_emulator.discordpy import patch_discord, patched_discord, running_bot
from discord_emulator.errors import DiscordError, InvalidInvocation
from discord_emulator.events import (
    BotConnected,
    ChannelCreated,
    ChannelDeleted,
    ChannelUpdated,
    CommandsSynced,
    Event,
    GuildCreated,
    InteractionAcknowledged,
    InteractionDispatched,
    MemberAdded,
    MemberUpdated,
    MessageCreated,
    MessageDeleted,
    MessageEdited,
    RoleCreated,
    Subscription,
)
from discord_emulator.handles import InitialResponse, InteractionHandle
from discord_emulator.interactions import Interaction
from discord_emulator.message_limits import Upload
from discord_emulator.models import DMChannel, Guild, Member, Message, Role, TextChannel, User
from discord_emulator.permissions import Permission
from discord_emulator.server import Emulator

__all__ = [
    "BotConnected",
    "ChannelCreated",
    "ChannelDeleted",
    "ChannelUpdated",
    "CommandsSynced",
    "DMChannel",
    "DiscordError",
    "Emulator",
    "Event",
    "Guild",
    "GuildCreated",
    "InitialResponse",
    "Interaction",
    "InteractionAcknowledged",
    "InteractionDispatched",
    "InteractionHandle",
    "InvalidInvocation",
    "Member",
    "MemberAdded",
    "MemberUpdated",
    "Message",
    "MessageCreated",
    "MessageDeleted",
    "MessageEdited",
    "Permission",
    "Role",
    "RoleCreated",
    "Subscription",
    "TextChannel",
    "Upload",
    "User",
    "patch_discord",
    "patched_discord",
    "running_bot",
]
