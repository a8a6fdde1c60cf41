"""``/server …``: start, book, extend, stop, cancel and inspect the squadron's DCS servers, and set
the squadron's defaults. Thin: parse, authorise, call ``bot.services``, render."""

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain.actor import Actor
from bot.domain.errors import InsufficientCredit, InvalidRequest
from bot.domain.library import image_name
from bot.domain.session import SessionState, SessionStatus
from bot.domain.settings import INSTANCE_SIZES, SETTINGS_CATALOGUE, setting_spec
from bot.domain.words import counted
from bot.services import Quote
from bot.services.sessions import session_id_for
from cogs.utils.auth import actor_for, require_admin, require_guild, require_manager
from cogs.utils.checkout import purchase_amount, send_checkout
from cogs.utils.client import RRBot
from cogs.utils.labels import session_label, session_labels
from cogs.utils.parsing import InputError, parse_duration, parse_start, timezone_choices, zone
from cogs.utils.render import (
    STATUS_LABELS,
    add_presence,
    billed,
    quote_embed,
    session_choice_label,
    session_embed,
    sessions_embed,
    setting_value,
    settings_embed,
)
from cogs.utils.views import (
    Action,
    BuyView,
    ConfirmView,
    StartOrBuyView,
    buy_label,
    idle_warning_view,
    shortfall_text,
)
from cogs.welcome import require_set_up

Recheck = Callable[[], Awaitable[object]]
"""Raises what would refuse a start or booking now, apart from credit (a new quote)."""
SIZE_CHOICES = [app_commands.Choice(name=size, value=size) for size in INSTANCE_SIZES]
SETTING_KEYS = tuple(spec.key for spec in SETTINGS_CATALOGUE)
SECRETS_FORGOTTEN = (
    "The squadron's passwords were forgotten (its key was deleted), and LotAtc, SRS coalition "
    "security and Tacview remote control are off: set the passwords again with /config set."
)


class ServersCog(commands.Cog):
    server = app_commands.Group(
        name="server",
        description="Start, book and manage your squadron's DCS servers.",
        guild_only=True,
    )
    config = app_commands.Group(
        name="config",
        description="Change the squadron's server defaults.",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: RRBot) -> None:
        self.bot = bot
        self.services = bot.services
        self.notifier = bot.notifier

    @property
    def _currency(self) -> str:
        return self.services.pricing.currency

    def _embed(self, session: SessionState, label: str, stage: str | None = None) -> discord.Embed:
        return session_embed(session, label=label, currency=self._currency, stage=stage)

    async def _actor(self, interaction: discord.Interaction) -> Actor:
        return await actor_for(interaction, self.services, self.bot.options.operator_ids)

    async def _manager(self, interaction: discord.Interaction) -> tuple[str, Actor]:
        guild_id = require_guild(interaction)
        actor = await self._actor(interaction)
        require_manager(actor)
        return guild_id, actor

    async def _admin(self, interaction: discord.Interaction) -> tuple[str, Actor]:
        guild_id = require_guild(interaction)
        actor = await self._actor(interaction)
        require_admin(interaction, actor)
        return guild_id, actor

    # --- starting and booking -------------------------------------------------------------------

    @server.command(name="start", description="Start a server now.")
    @app_commands.describe(
        duration="How long to run it, e.g. 2h or 90m.",
        size="Machine size (default: the squadron's setting).",
        mission="Mission to load, from /mission list (default: the squadron's first).",
    )
    @app_commands.choices(size=SIZE_CHOICES)
    async def start(
        self,
        interaction: discord.Interaction,
        duration: str,
        size: str | None = None,
        mission: str | None = None,
    ) -> None:
        guild_id, actor = await self._manager(interaction)
        minutes = parse_duration(duration)
        squadron = await self.services.squadrons.get(guild_id)
        require_set_up(squadron)
        chosen = size or squadron.settings.instance_size
        mission_name = mission
        recheck = partial(
            self.services.sessions.quote, guild_id, chosen, minutes, mission_name=mission_name
        )
        quote = await recheck()
        intent = {"action": "start", "size": chosen, "duration_minutes": minutes}
        if mission_name:
            intent["mission_name"] = mission_name

        async def confirmed(button: discord.Interaction) -> None:
            session_id = session_id_for(actor)
            self.notifier.expect(session_id, interaction.channel_id)
            try:
                started = await self.services.sessions.start(
                    actor, size=chosen, duration_minutes=minutes, mission_name=mission_name
                )
            except Exception:
                self.notifier.forget(session_id)
                raise
            await self._show_booked(button, started, "Server starting")

        await self._offer(
            interaction,
            actor,
            quote,
            title="Start a server now",
            size=chosen,
            intent=intent,
            recheck=recheck,
            confirm_label="Start server",
            on_confirm=confirmed,
        )

    @server.command(name="schedule", description="Book a server for a later time.")
    @app_commands.describe(
        start="When, e.g. 19:30, tomorrow 20:00, sat 19:00 or 2026-12-05 19:30.",
        duration="How long to run it, e.g. 2h or 90m.",
        timezone="Time zone of the start time (default: the squadron's).",
        size="Machine size (default: the squadron's setting).",
        mission="Mission to load, from /mission list (default: the squadron's first).",
    )
    @app_commands.choices(size=SIZE_CHOICES)
    async def schedule(
        self,
        interaction: discord.Interaction,
        start: str,
        duration: str,
        timezone: str | None = None,
        size: str | None = None,
        mission: str | None = None,
    ) -> None:
        guild_id, actor = await self._manager(interaction)
        squadron = await self.services.squadrons.get(guild_id)
        require_set_up(squadron)
        tz = zone(timezone or squadron.settings.timezone)
        start_at = parse_start(start, now=self.bot.clock.now(), tz=tz)
        minutes = parse_duration(duration)
        chosen = size or squadron.settings.instance_size
        mission_name = mission
        recheck = partial(
            self.services.sessions.quote, guild_id, chosen, minutes, start_at, mission_name
        )
        quote = await recheck()
        intent = {
            "action": "book",
            "size": chosen,
            "duration_minutes": minutes,
            "start_at": start_at.isoformat(),
        }
        if mission_name:
            intent["mission_name"] = mission_name

        async def confirmed(button: discord.Interaction) -> None:
            session_id = session_id_for(actor)
            self.notifier.expect(session_id, interaction.channel_id)
            try:
                booked = await self.services.sessions.book(
                    actor,
                    start_at=start_at,
                    duration_minutes=minutes,
                    size=chosen,
                    mission_name=mission_name,
                )
            except Exception:
                self.notifier.forget(session_id)
                raise
            await self._show_booked(button, booked, "Server booked")

        await self._offer(
            interaction,
            actor,
            quote,
            title="Book a server",
            size=chosen,
            intent=intent,
            recheck=recheck,
            confirm_label="Book server",
            on_confirm=confirmed,
        )

    async def _offer(
        self,
        interaction: discord.Interaction,
        actor: Actor,
        quote: Quote,
        *,
        title: str,
        size: str,
        intent: dict[str, Any],
        recheck: Recheck,
        confirm_label: str,
        on_confirm: Action,
    ) -> None:
        """Show the quote with a confirm button; for a start the credit only partly covers,
        with a choice to start anyway or buy the rest; when it cannot go ahead, the shortfall
        with a buy button. The quote has checked every refusal but credit already."""
        if not quote.can_go_ahead:
            shortfall = InsufficientCredit(
                quote.shortfall_cents, quote.cost_cents, quote.available_cents, quote.currency
            )
            await self._offer_purchase(interaction, actor, shortfall, intent, recheck)
            return
        embed = quote_embed(title=title, quote=quote, size=size)

        async def confirmed(button: discord.Interaction) -> None:
            try:
                await on_confirm(button)
            except InsufficientCredit as error:
                await self._offer_purchase(button, actor, error, intent, recheck)

        view: discord.ui.View
        if quote.partly_funded:
            amount = purchase_amount(self.services, quote.shortfall_cents)
            buy = self._buy_action(actor, amount, intent, recheck)
            label = buy_label(amount, quote.currency)
            view = StartOrBuyView(interaction.user.id, confirmed, buy, buy_label=label)
        else:
            view = ConfirmView(interaction.user.id, confirmed, confirm_label=confirm_label)
        sent = await interaction.response.send_message(embed=embed, view=view, ephemeral=True)
        view.shown_on(interaction, sent.message_id)

    async def _offer_purchase(
        self,
        interaction: discord.Interaction,
        actor: Actor,
        shortfall: InsufficientCredit,
        intent: dict[str, Any] | None,
        recheck: Recheck | None = None,
    ) -> None:
        amount = purchase_amount(self.services, shortfall.shortfall_cents)
        buy = self._buy_action(actor, amount, intent, recheck)
        view = BuyView(interaction.user.id, buy, label=buy_label(amount, shortfall.currency))
        text = shortfall_text(shortfall, amount)
        if interaction.response.is_done():
            followup = await interaction.followup.send(text, view=view, ephemeral=True, wait=True)
            view.shown_on(interaction, followup.id)
        elif interaction.type is discord.InteractionType.component and interaction.message:
            await interaction.response.edit_message(content=text, embed=None, view=view)
            view.shown_on(interaction, interaction.message.id)
        else:
            sent = await interaction.response.send_message(text, view=view, ephemeral=True)
            view.shown_on(interaction, sent.message_id)

    def _buy_action(
        self,
        actor: Actor,
        amount: int,
        intent: dict[str, Any] | None,
        recheck: Recheck | None = None,
    ) -> Action:
        """A buy button's action: DM a checkout link for ``amount`` that carries ``intent``,
        unless ``recheck`` finds the request refused since it was offered (another server
        started meanwhile): then the member is told why and buys nothing."""

        async def buy(button: discord.Interaction) -> None:
            if recheck is not None:
                await recheck()
            await send_checkout(button, self.services, actor, amount, intent)

        return buy

    async def _show_booked(
        self, interaction: discord.Interaction, session: SessionState, heading: str
    ) -> None:
        label = await session_label(self.services, session)
        await interaction.response.edit_message(
            content=f"{heading}: {label}.", embed=None, view=None
        )
        stage = None if session.status is SessionStatus.BOOKED else "launching"
        public = await interaction.followup.send(
            content=f"<@{session.booked_by}> {heading.lower()}: {label}.",
            embed=self._embed(session, label, stage),
            wait=True,
        )
        await self.notifier.track(session, public)

    # --- changing a server ----------------------------------------------------------------------

    @server.command(name="extend", description="Add time to a server.")
    @app_commands.describe(duration="How much longer, e.g. 30m or 1h.", server="Which server.")
    async def extend(
        self, interaction: discord.Interaction, duration: str, server: str | None = None
    ) -> None:
        guild_id, actor = await self._manager(interaction)
        minutes = parse_duration(duration)
        target = await self._pick(guild_id, server, _EXTENDABLE, "extend")
        await self._extend(interaction, actor, target.session_id, minutes)

    async def extend_from_button(
        self, interaction: discord.Interaction, session_id: str, minutes: int
    ) -> None:
        guild_id, actor = await self._manager(interaction)
        await self._owned_session(guild_id, session_id)
        await self._extend(interaction, actor, session_id, minutes)

    async def _extend(
        self, interaction: discord.Interaction, actor: Actor, session_id: str, minutes: int
    ) -> None:
        # Extending moves the server's cloud backstop, which may take longer than Discord waits.
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            extended = await self.services.sessions.extend(actor, session_id, minutes)
        except InsufficientCredit as error:
            await self._offer_purchase(interaction, actor, error, None)
            return
        label = await session_label(self.services, extended)
        await interaction.followup.send(
            f"Extended {label} by {counted(minutes, 'minute')}; it now ends "
            f"{discord.utils.format_dt(extended.end_at, 'R')}.",
            ephemeral=True,
        )

    async def keep_running_from_button(
        self, interaction: discord.Interaction, session_id: str
    ) -> None:
        """Keep running, pressed on an idle warning: the booking member or a manager may, as
        for extending, since keeping a server running spends the squadron's credit."""
        guild_id = require_guild(interaction)
        actor = await self._actor(interaction)
        await self._owned_session(guild_id, session_id)
        kept, did = await self.services.sessions.keep_running(actor, session_id)
        label = await session_label(self.services, kept)
        until = kept.idle_postponed_until
        if did and until is not None:
            content = (
                f"<@{actor.user_id}> kept {label} running; rr will not stop it for being "
                f"empty before {discord.utils.format_dt(until, 't')}."
            )
        else:
            content = f"{label} is no longer about to stop for being empty."
        await interaction.response.edit_message(
            content=content,
            view=idle_warning_view(session_id, disabled=True),
            allowed_mentions=discord.AllowedMentions.none(),
        )

    @server.command(name="stop", description="Stop a running server now.")
    @app_commands.describe(server="Which server.")
    async def stop(self, interaction: discord.Interaction, server: str | None = None) -> None:
        guild_id, actor = await self._manager(interaction)
        target = await self._pick(guild_id, server, _STOPPABLE, "stop")
        await self._ask_to_stop(interaction, actor, target)

    async def ask_to_stop(self, interaction: discord.Interaction, session_id: str) -> None:
        guild_id, actor = await self._manager(interaction)
        target = await self._owned_session(guild_id, session_id)
        await self._ask_to_stop(interaction, actor, target)

    async def _ask_to_stop(
        self, interaction: discord.Interaction, actor: Actor, target: SessionState
    ) -> None:
        async def confirmed(button: discord.Interaction) -> None:
            # Recorded before the answer: a stop the member was told about holds (and is billed
            # to this moment) even if the bot dies before the server is terminated.
            stopping = await self.services.sessions.request_stop(actor, target.session_id)
            label = await session_label(self.services, target)
            if stopping.status is not SessionStatus.TERMINATING:
                state = STATUS_LABELS[stopping.status].lower()
                await button.response.edit_message(
                    content=f"{label} is {state} already.", embed=None, view=None
                )
                return
            await button.response.edit_message(content=f"Stopping {label}…", embed=None, view=None)
            ended = await self.services.sessions.stop(actor, target.session_id)
            await button.edit_original_response(content=_stopped(ended, label, self._currency))

        await self._confirm(
            interaction,
            "Stop this server now? Players on it will be disconnected.",
            target,
            "Stop server",
            confirmed,
        )

    @server.command(name="cancel", description="Cancel a booked server before it starts.")
    @app_commands.describe(server="Which booking.")
    async def cancel(self, interaction: discord.Interaction, server: str | None = None) -> None:
        guild_id, actor = await self._manager(interaction)
        target = await self._pick(guild_id, server, {SessionStatus.BOOKED}, "cancel")

        async def confirmed(button: discord.Interaction) -> None:
            await self.services.sessions.cancel(actor, target.session_id)
            label = await session_label(self.services, target)
            await button.response.edit_message(
                content=f"Booking cancelled: {label}; its credit is available again.",
                embed=None,
                view=None,
            )

        await self._confirm(
            interaction, "Cancel this booking?", target, "Cancel booking", confirmed
        )

    async def _confirm(
        self,
        interaction: discord.Interaction,
        question: str,
        target: SessionState,
        confirm_label: str,
        on_confirm: Action,
    ) -> None:
        """Ask privately, with the session shown, before doing something that cannot be undone."""
        label = await session_label(self.services, target)
        view = ConfirmView(interaction.user.id, on_confirm, confirm_label=confirm_label)
        sent = await interaction.response.send_message(
            question, embed=self._embed(target, label), view=view, ephemeral=True
        )
        view.shown_on(interaction, sent.message_id)

    # --- looking ----------------------------------------------------------------------------------

    @server.command(name="status", description="How a server is doing.")
    @app_commands.describe(server="Which server (default: every active one).")
    async def status(self, interaction: discord.Interaction, server: str | None = None) -> None:
        guild_id = require_guild(interaction)
        labels = await session_labels(self.services, guild_id)
        if server:
            target = await self._owned_session(guild_id, server)
            await interaction.response.send_message(
                embed=self._status_embed(target, labels(target))
            )
            return
        active = [m for m in await self.services.sessions.for_guild(guild_id) if m.is_active]
        if len(active) == 1:
            embed = self._status_embed(active[0], labels(active[0]))
            await interaction.response.send_message(embed=embed)
            return
        await interaction.response.send_message(
            embed=sessions_embed(active, title="Active servers", labels=labels)
        )

    def _status_embed(self, session: SessionState, label: str) -> discord.Embed:
        """The session, and for a running server who is on it as its agent last reported."""
        embed = self._embed(session, label)
        if session.status is SessionStatus.RUNNING:
            add_presence(embed, self.services.watch.status(session))
        return embed

    @server.command(name="list", description="The squadron's servers, booked and recent.")
    async def list_servers(self, interaction: discord.Interaction) -> None:
        guild_id = require_guild(interaction)
        sessions = await self.services.sessions.for_guild(guild_id)
        ordered = sorted(sessions, key=lambda m: m.start_at, reverse=True)
        labels = await session_labels(self.services, guild_id)
        await interaction.response.send_message(
            embed=sessions_embed(ordered, title="Servers", labels=labels)
        )

    # --- squadron defaults ----------------------------------------------------------------------

    @server.command(name="settings", description="Show the squadron's server settings.")
    async def settings(self, interaction: discord.Interaction) -> None:
        await self._show_settings(interaction)

    @config.command(name="show", description="Show the squadron's server settings.")
    async def config_show(self, interaction: discord.Interaction) -> None:
        await self._show_settings(interaction)

    async def _show_settings(self, interaction: discord.Interaction) -> None:
        """Managers and Manage Server see the settings, secrets masked."""
        guild_id = require_guild(interaction)
        require_manager(await self._actor(interaction), "see the squadron's settings")
        squadron = await self.services.squadrons.get(guild_id)
        embed = settings_embed(squadron.settings)
        if squadron.secrets_forgotten:
            embed.description = SECRETS_FORGOTTEN
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @config.command(name="set", description="Change one of the squadron's server settings.")
    @app_commands.describe(setting="Which setting.", value="The new value.")
    async def config_set(self, interaction: discord.Interaction, setting: str, value: str) -> None:
        await self._change(interaction, {setting: value})

    @config.command(name="channel", description="Where reminders and ready messages are posted.")
    @app_commands.describe(channel="The reminder channel.")
    async def config_channel(
        self, interaction: discord.Interaction, channel: discord.TextChannel
    ) -> None:
        await self._change(interaction, {"reminder_channel_id": str(channel.id)})

    @config.command(name="role", description="The role allowed to start and stop servers.")
    @app_commands.describe(role="The manager role.")
    async def config_role(self, interaction: discord.Interaction, role: discord.Role) -> None:
        await self._change(interaction, {"manager_role_id": str(role.id)})

    @config.command(name="timezone", description="The squadron's time zone for bookings.")
    @app_commands.describe(timezone="e.g. Europe/London")
    async def config_timezone(self, interaction: discord.Interaction, timezone: str) -> None:
        await self._change(interaction, {"timezone": timezone})

    async def _change(self, interaction: discord.Interaction, changes: dict[str, str]) -> None:
        _, actor = await self._admin(interaction)
        settings = await self.services.squadrons.change_settings(actor, changes)
        lines = [
            f"`{key}` is now {setting_value(setting_spec(key), settings.value(key))}"
            for key in changes
        ]
        await interaction.response.send_message("\n".join(lines), ephemeral=True)

    # --- autocomplete -----------------------------------------------------------------------------

    @config_set.autocomplete("setting")
    async def _setting_keys(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        typed = current.strip().lower()
        keys = [key for key in SETTING_KEYS if typed in key][:25]
        return [
            app_commands.Choice(name=f"{key} — {setting_spec(key).help}"[:100], value=key)
            for key in keys
        ]

    @config_set.autocomplete("value")
    async def _setting_values(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        key = getattr(interaction.namespace, "setting", None)
        if not isinstance(key, str) or key not in SETTING_KEYS:
            return []
        spec = setting_spec(key)
        if spec.kind == "timezone":
            return _choices(timezone_choices(current))
        choices = [choice for choice in spec.choices() if current.lower() in choice.lower()]
        return _choices(choices[:25])

    @schedule.autocomplete("timezone")
    @config_timezone.autocomplete("timezone")
    async def _timezones(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return _choices(timezone_choices(current))

    @start.autocomplete("mission")
    @schedule.autocomplete("mission")
    async def _missions(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        shown = await self.services.missions.library(str(interaction.guild_id))
        names = [m.name for m in shown.missions] + [image_name(p) for p in shown.on_image]
        typed = current.casefold()
        return _choices([name for name in names if typed in name.casefold()][:25])

    @extend.autocomplete("server")
    @stop.autocomplete("server")
    @cancel.autocomplete("server")
    @status.autocomplete("server")
    async def _guild_sessions(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        guild_id = str(interaction.guild_id)
        sessions = await self.services.sessions.for_guild(guild_id)
        labels = await session_labels(self.services, guild_id)
        typed = current.lower()
        named = [(session_choice_label(m, labels(m)), m) for m in sessions if m.is_active]
        found = [
            app_commands.Choice(name=name, value=m.session_id)
            for name, m in named
            if typed in name.lower()
        ]
        return found[:25]

    # --- helpers ----------------------------------------------------------------------------------

    async def _owned_session(self, guild_id: str, session_id: str) -> SessionState:
        typed = session_id.strip().lower()
        sessions = await self.services.sessions.for_guild(guild_id)
        matches = [m for m in sessions if m.session_id.startswith(typed)]
        if len(typed) < 4 or len(matches) != 1:
            raise InputError("I can't find that server in this squadron; pick one from the list.")
        return matches[0]

    async def _pick(
        self, guild_id: str, session: str | None, statuses: set[SessionStatus], verb: str
    ) -> SessionState:
        if session:
            target = await self._owned_session(guild_id, session)
            if target.status not in statuses:
                state = STATUS_LABELS[target.status].lower()
                raise InvalidRequest(f"That server is {state}, so you can't {verb} it.")
            return target
        candidates = [
            m for m in await self.services.sessions.for_guild(guild_id) if m.status in statuses
        ]
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            raise InvalidRequest(f"There is no server to {verb} right now.")
        raise InputError(f"Several servers could be meant; pick the one to {verb} from the list.")


_EXTENDABLE = {SessionStatus.BOOKED, SessionStatus.LAUNCHING, SessionStatus.RUNNING}
_STOPPABLE = {SessionStatus.LAUNCHING, SessionStatus.RUNNING}


def _stopped(ended: SessionState, label: str, currency: str) -> str:
    """The end of a stop's progress message: stopped and billed, or still shutting down."""
    if ended.status is SessionStatus.ENDED:
        cost = billed(ended.billed_minutes or 0, ended.charged_cents or 0, currency)
        return f"{label} has stopped: {cost}."
    if ended.graceful_end_until is not None:
        return (
            f"{label} is ending its mission so that DCS saves its Tacview and tracks; billing "
            "stopped now, and the squadron is told when the server has stopped."
        )
    return f"{label} is shutting down; the squadron is told when it has stopped."


def _choices(values: list[str]) -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=value[:100], value=value[:100]) for value in values]


async def setup(bot: RRBot) -> None:
    await bot.add_cog(ServersCog(bot))
