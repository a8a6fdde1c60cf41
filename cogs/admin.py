"""``/admin …``: the operators' tools, registered only in the operators' guild.

Every command checks that the member is an operator (``RR_OPERATOR_IDS``); ``sync`` and ``reload``
are the owner-level housekeeping of the Discord side itself.
"""

import json
import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain.actor import Actor
from bot.domain.events import current_type
from bot.domain.money import format_cents
from cogs.utils.auth import actor_for
from cogs.utils.client import EXTENSIONS, RRBot
from cogs.utils.errors import NotPermitted
from cogs.utils.parsing import InputError, parse_money
from cogs.utils.render import STATUS_LABELS, redacted, session_line, short_id
from cogs.utils.views import Button, OwnedView

log = logging.getLogger("rr.discord.admin")

HISTORY_LIMIT = 500
"""The most recent events ``/admin history`` pages through."""
MESSAGE_LIMIT = 2000
LARGEST_AMOUNT_CENTS = 999_999_99
"""The most an operator may grant or refund at once, against a slip of the finger."""
PAGE_HEADER = 40
"""Room kept on each page for its "Page 1 of 9" line."""


class AdminCog(commands.Cog):
    admin = app_commands.Group(name="admin", description="Operator tools for rr.", guild_only=True)

    def __init__(self, bot: RRBot) -> None:
        self.bot = bot
        self.services = bot.services

    async def interaction_check(self, interaction: discord.Interaction) -> bool:  # type: ignore[override]
        if not self.bot.is_operator(interaction.user.id):
            raise NotPermitted("Only rr's operators can use /admin.")
        return True

    async def _operator(self, interaction: discord.Interaction) -> Actor:
        return await actor_for(interaction, self.services, self.bot.options.operator_ids)

    def _money(self, cents: int) -> str:
        return format_cents(cents, self.services.pricing.currency)

    @admin.command(name="instances", description="Every running server across all guilds.")
    async def instances(self, interaction: discord.Interaction) -> None:
        sessions = await self.services.admin.running_instances()
        lines = [
            f"`{short_id(m.session_id)}` guild `{m.guild_id}` {m.instance_id or '—'} "
            f"{session_line(m)}"
            for m in sessions
        ]
        await _reply(interaction, "\n".join(lines) or "No servers are running.")

    @admin.command(name="terminate", description="Stop a server now, in any guild.")
    @app_commands.describe(session="The session id.")
    async def terminate(self, interaction: discord.Interaction, session: str) -> None:
        actor = await self._operator(interaction)
        # Recorded before the answer, so the stop holds whatever happens to the bot after it.
        ended = await self.services.admin.request_terminate(actor, session.strip())
        if ended.is_active:
            await _reply(interaction, f"Stopping session `{short_id(ended.session_id)}`…")
            ended = await self.services.admin.terminate(actor, ended.session_id)
        await _reply(
            interaction,
            f"Session `{short_id(ended.session_id)}` is {STATUS_LABELS[ended.status].lower()}.",
        )

    def _amount(self, text: str) -> int:
        cents = parse_money(text)
        if cents > LARGEST_AMOUNT_CENTS:
            raise InputError(
                f"An operator can grant or refund at most {self._money(LARGEST_AMOUNT_CENTS)} "
                "at a time; enter a smaller amount."
            )
        return cents

    async def _squadron(self, typed: str) -> str:
        """The guild id of the squadron ``typed`` names, by id or by guild name; only squadrons
        rr has a record of, so a typo creates nothing."""
        wanted = typed.strip()
        known = await self.services.admin.squadrons()
        if wanted in known:
            return wanted
        named = [g for g in known if (self._guild_name(g) or "").lower() == wanted.lower()]
        if len(named) == 1:
            return named[0]
        raise InputError(
            f'rr has no squadron "{wanted[:100]}"; pick one from the list, which shows every '
            "guild that has bought or been granted credit, booked a server or changed a setting."
        )

    def _guild_name(self, guild_id: str) -> str | None:
        guild = self.bot.get_guild(int(guild_id)) if guild_id.isdigit() else None
        return None if guild is None else guild.name

    @admin.command(name="grant", description="Give a squadron credit.")
    @app_commands.describe(guild="The squadron.", amount="e.g. 25 or 12.50", reason="Why.")
    async def grant(
        self, interaction: discord.Interaction, guild: str, amount: str, reason: str
    ) -> None:
        actor = await self._operator(interaction)
        cents, guild_id = self._amount(amount), await self._squadron(guild)
        await self.services.squadrons.grant(actor, guild_id, cents, reason)
        await _reply(interaction, f"Granted {self._money(cents)} to guild `{guild_id}`.")

    @admin.command(name="refund", description="Take credit back from a squadron.")
    @app_commands.describe(
        guild="The squadron.",
        amount="e.g. 25 or 12.50",
        reason="Why.",
        allow_negative="Allow the balance to go below zero.",
    )
    async def refund(
        self,
        interaction: discord.Interaction,
        guild: str,
        amount: str,
        reason: str,
        allow_negative: bool = False,
    ) -> None:
        actor = await self._operator(interaction)
        cents, guild_id = self._amount(amount), await self._squadron(guild)
        await self.services.squadrons.refund(
            actor, guild_id, cents, reason, allow_negative=allow_negative
        )
        await _reply(interaction, f"Refunded {self._money(cents)} from guild `{guild_id}`.")

    @admin.command(
        name="forget-secrets",
        description="Delete a squadron's key: its passwords in the history become unreadable.",
    )
    @app_commands.describe(guild="The squadron.")
    async def forget_secrets(self, interaction: discord.Interaction, guild: str) -> None:
        actor = await self._operator(interaction)
        guild_id = await self._squadron(guild)
        had_key = await self.services.squadrons.forget_secrets(actor, guild_id)
        done = "Deleted the key of" if had_key else "No key was kept for"
        await _reply(
            interaction,
            f"{done} guild `{guild_id}`; its passwords are blank and must be set again.",
        )

    @grant.autocomplete("guild")
    @refund.autocomplete("guild")
    @forget_secrets.autocomplete("guild")
    async def _squadrons(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Squadrons rr knows, by guild name where the bot knows it; for operators only."""
        if not self.bot.is_operator(interaction.user.id):
            return []
        typed = current.strip().lower()
        labelled = sorted(
            (
                (self._label(guild_id), guild_id)
                for guild_id in await self.services.admin.squadrons()
            ),
            key=lambda pair: pair[0].lower(),
        )
        return [
            app_commands.Choice(name=label[:100], value=guild_id)
            for label, guild_id in labelled
            if typed in label.lower()
        ][:25]

    def _label(self, guild_id: str) -> str:
        name = self._guild_name(guild_id)
        return guild_id if name is None else f"{name} ({guild_id})"

    @admin.command(name="prices", description="The hourly price of each server size.")
    async def prices(self, interaction: discord.Interaction) -> None:
        rates = self.services.pricing.rates_cents_per_hour
        lines = [f"**{size}**: {self._money(rate)} an hour" for size, rate in rates.items()]
        await _reply(interaction, "\n".join(lines))

    @admin.command(name="history", description="The events of one stream, newest page first.")
    @app_commands.describe(stream="e.g. squadron#123 or mission#<id>")
    async def history(self, interaction: discord.Interaction, stream: str) -> None:
        events = await self.services.admin.stream_history(stream.strip(), HISTORY_LIMIT)
        if not events:
            await _reply(interaction, "That stream has no events.")
            return
        lines = [
            f"`{e.version}` {e.recorded_at:%Y-%m-%d %H:%M:%S} **{_type_label(e.type)}** "
            f"{json.dumps(redacted(e.data), sort_keys=True)}"
            for e in events
        ]
        pager = HistoryPages(interaction.user.id, pages(lines, MESSAGE_LIMIT - PAGE_HEADER))
        sent = await interaction.response.send_message(pager.text(), view=pager, ephemeral=True)
        pager.shown_on(interaction, sent.message_id)

    @admin.command(name="reconcile", description="Compare the cloud with the records and repair.")
    async def reconcile(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        report = await self.services.admin.reconcile()
        await _reply(interaction, str(report))

    @admin.command(name="health", description="Store, view and scheduler health.")
    async def health(self, interaction: discord.Interaction) -> None:
        health = await self.services.admin.health()
        await _reply(interaction, str(health))

    @admin.command(name="sync", description="Register the bot's commands with Discord again.")
    async def sync(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        count = await self.bot.sync_commands()
        await _reply(interaction, f"Synced {count} commands.")

    @admin.command(name="reload", description="Reload one of the bot's cogs.")
    @app_commands.describe(cog="Which cog.")
    @app_commands.choices(cog=[app_commands.Choice(name=n, value=n) for n in EXTENSIONS])
    async def reload(self, interaction: discord.Interaction, cog: str) -> None:
        await self.bot.reload_extension(cog)
        log.info("cog reloaded name=%s by=%s", cog, interaction.user.id)
        await _reply(interaction, f"Reloaded `{cog}`.")


def _type_label(stored_type: str) -> str:
    """The event's type as this code reads it, and the name it was stored under if renamed."""
    now = current_type(stored_type)
    return now if now == stored_type else f"{now} (stored as {stored_type})"


def pages(lines: list[str], limit: int) -> list[str]:
    """``lines`` (oldest first) packed into pages of at most ``limit`` characters without
    splitting a line, the newest page first; a line longer than a page is cut to fit, ending
    in "…"."""
    packed: list[list[str]] = []
    size = limit + 1
    fitted = [line if len(line) <= limit else line[: limit - 1] + "…" for line in lines]
    for line in reversed(fitted):
        if size + 1 + len(line) > limit:
            packed.append([])
            size = -1
        packed[-1].insert(0, line)
        size += 1 + len(line)
    return ["\n".join(page) for page in packed]


class HistoryPages(OwnedView):
    """Newer / Older through pages of a stream's history."""

    def __init__(self, owner_id: int, texts: list[str], page: int = 0) -> None:
        super().__init__(owner_id)
        self.texts, self.page = texts, page
        self.newer.disabled = page <= 0
        self.older.disabled = page + 1 >= len(texts)

    def text(self) -> str:
        return f"Page {self.page + 1} of {len(self.texts)}, newest first\n{self.texts[self.page]}"

    async def _show(self, interaction: discord.Interaction, page: int) -> None:
        view = HistoryPages(self.owner_id, self.texts, page)
        self.stop()
        await interaction.response.edit_message(content=view.text(), view=view)
        if interaction.message:
            view.shown_on(interaction, interaction.message.id)

    @discord.ui.button(label="Newer", style=discord.ButtonStyle.secondary, custom_id="newer")
    async def newer(self, interaction: discord.Interaction, button: Button) -> None:
        await self._show(interaction, self.page - 1)

    @discord.ui.button(label="Older", style=discord.ButtonStyle.secondary, custom_id="older")
    async def older(self, interaction: discord.Interaction, button: Button) -> None:
        await self._show(interaction, self.page + 1)


async def _reply(interaction: discord.Interaction, text: str) -> None:
    """Answer privately (after a deferral too), cut to Discord's message length limit."""
    text = text[:MESSAGE_LIMIT]
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True)
    else:
        await interaction.response.send_message(text, ephemeral=True)


async def setup(bot: RRBot) -> None:
    guild_id = bot.options.operator_guild_id
    if guild_id is None:
        log.info("no operator guild configured; /admin is not registered")
        return
    await bot.add_cog(AdminCog(bot), guild=discord.Object(int(guild_id)))
