"""The Discord client: a ``commands.Bot`` that carries rr's services to its cogs and syncs commands.

``bot/entrypoints/app.py`` builds one ``RRBot`` and nothing else imports this package. Cogs are
extensions (each module has ``setup``) so that operators can reload them with ``/admin reload``.
"""

import logging
from dataclasses import dataclass

import discord
from discord.ext import commands

from bot.clock import Clock
from bot.services import Services
from cogs.utils.errors import ReportingTree
from cogs.utils.notifier import DiscordNotifier
from cogs.utils.views import EndButton, ExpiredButton, ExtendButton, KeepRunningButton

log = logging.getLogger("rr.discord")

EXTENSIONS = ("cogs.servers", "cogs.missions", "cogs.credits", "cogs.admin", "cogs.welcome")

# rr never joins voice, so discord.py's start-up warnings about missing voice libraries are noise.
discord.VoiceClient.warn_nacl = False
discord.VoiceClient.warn_dave = False


@dataclass(frozen=True)
class DiscordOptions:
    """Who operates the bot and where its commands are registered."""

    operator_ids: frozenset[str] = frozenset()
    operator_guild_id: str | None = None
    dev_guild_id: str | None = None
    sync_on_start: bool = True
    guild_ready_timeout: float = 2.0


class RRBot(commands.Bot):
    def __init__(self, services: Services, options: DiscordOptions, clock: Clock) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            tree_cls=ReportingTree,
            owner_ids={int(user_id) for user_id in options.operator_ids},
            guild_ready_timeout=options.guild_ready_timeout,
            allowed_mentions=discord.AllowedMentions(everyone=False, roles=False, users=True),
        )
        self.services = services
        self.options = options
        self.clock = clock
        self.notifier = DiscordNotifier(self)

    @property
    def starting_up(self) -> bool:
        """True while the process that just took over is reading what was written before it
        did: commands are answered "starting up" then, not refused on what it has not read."""
        return self._reporting_tree.starting_up

    @starting_up.setter
    def starting_up(self, value: bool) -> None:
        self._reporting_tree.starting_up = value

    @property
    def _reporting_tree(self) -> ReportingTree:
        tree = self.tree
        assert isinstance(tree, ReportingTree)
        return tree

    def is_operator(self, user_id: int) -> bool:
        return str(user_id) in self.options.operator_ids

    async def setup_hook(self) -> None:
        for name in EXTENSIONS:
            await self.load_extension(name)
        self.add_dynamic_items(ExtendButton, EndButton, KeepRunningButton, ExpiredButton)
        if self.options.sync_on_start:
            await self.sync_commands()

    async def sync_commands(self) -> int:
        """Register every command with Discord; returns how many were synced."""
        synced = 0
        if self.options.dev_guild_id:
            guild = discord.Object(int(self.options.dev_guild_id))
            self.tree.copy_global_to(guild=guild)
            synced += len(await self.tree.sync(guild=guild))
        else:
            synced += len(await self.tree.sync())
        operator_guild = self.options.operator_guild_id
        if operator_guild and operator_guild != self.options.dev_guild_id:
            synced += len(await self.tree.sync(guild=discord.Object(int(operator_guild))))
        log.info("commands synced count=%d dev_guild=%s", synced, self.options.dev_guild_id)
        return synced
