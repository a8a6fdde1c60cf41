"""Carrying notices out in Discord: progress, reminders, ready messages, DMs and receipts.

Where things go:
- Progress edits the public message posted when the server was started, while its interaction token
  is fresh (Discord allows 15 minutes); later stages are posted as new messages.
- Reminders, ready messages, end warnings (with extend / end buttons) and end notices go to the
  squadron's reminder channel (else the channel the server was started from), mentioning the
  booker.
- The server password goes only by DM to the booker; receipts and payment outcomes by DM to the
  buyer.
- A Discord failure (missing permission, deleted channel, closed DMs) is logged and reported to the
  guild's owner once per problem while the bot runs, never retried in a loop.
"""

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord

from bot.domain.mission import MissionState
from bot.domain.money import format_cents
from bot.notify import (
    AdminAlertNotice,
    BookingConfirmedNotice,
    CreditsLandedNotice,
    EndWarningNotice,
    IntentFailedNotice,
    LaunchFailedNotice,
    LowCreditNotice,
    MissionEndedNotice,
    Notice,
    ProgressNotice,
    PurchaseClosedNotice,
    ReadyNotice,
    ReminderNotice,
)
from cogs.render import REASON_LABELS, mission_embed, when
from cogs.views import end_warning_view

if TYPE_CHECKING:
    from cogs.client import RRBot

log = logging.getLogger("rr.discord.notify")

TOKEN_FRESH_SECONDS = 14 * 60
"""Interaction tokens last 15 minutes; stop editing through one a minute before that."""


@dataclass
class _Tracked:
    message: discord.WebhookMessage
    channel_id: int | None
    since: float


class DiscordNotifier:
    def __init__(self, bot: "RRBot") -> None:
        self.bot = bot
        self._tracked: dict[str, _Tracked] = {}
        self._reported: set[tuple[str, str]] = set()

    def track(
        self, mission_id: str, message: discord.WebhookMessage, channel_id: int | None
    ) -> None:
        """Edit ``message`` as the mission's launch progresses."""
        self._tracked[mission_id] = _Tracked(message, channel_id, time.monotonic())

    async def notify(self, notice: Notice) -> None:
        try:
            await self._deliver(notice)
        except discord.HTTPException as error:
            log.warning(
                "discord delivery failed notice=%s guild=%s status=%s code=%s",
                type(notice).__name__,
                notice.guild_id,
                error.status,
                error.code,
            )

    async def _deliver(self, notice: Notice) -> None:
        currency = self.bot.services.pricing.currency
        match notice:
            case ProgressNotice(mission=mission, stage=stage):
                await self._edit_progress(
                    mission, mission_embed(mission, currency=currency, stage=stage)
                )
            case ReminderNotice(mission=mission):
                await self._post(
                    mission.guild_id,
                    f"<@{mission.booked_by}> your server starts {when(mission.start_at)}.",
                    embed=mission_embed(mission, currency=currency),
                    mission=mission,
                )
            case ReadyNotice(mission=mission, address=address, port=port, password=password):
                await self._edit_progress(
                    mission, mission_embed(mission, currency=currency, stage="ready")
                )
                await self._post(
                    mission.guild_id,
                    f"<@{mission.booked_by}> your DCS server is ready at `{address}:{port}`.",
                    embed=mission_embed(mission, currency=currency),
                    mission=mission,
                )
                if password:
                    await self._dm(
                        mission.guild_id,
                        mission.booked_by,
                        f"Your DCS server is ready at `{address}:{port}`. "
                        f"Password: ||{password}|| (share it only with your squadron).",
                    )
            case EndWarningNotice(mission=mission, minutes_left=minutes):
                await self._post(
                    mission.guild_id,
                    f"<@{mission.booked_by}> your server ends in {minutes} minutes "
                    f"({discord.utils.format_dt(mission.end_at, 'R')}). Extend it or end it now:",
                    view=end_warning_view(mission.mission_id),
                    mission=mission,
                )
            case LowCreditNotice(mission=mission, minutes_left=minutes):
                await self._post(
                    mission.guild_id,
                    f"<@{mission.booked_by}> the squadron's credit runs out in {minutes} minutes "
                    "and the server will then stop; buy more with /credits buy to keep it running.",
                    mission=mission,
                )
            case MissionEndedNotice(
                mission=mission, reason=reason, billed_minutes=minutes, amount_cents=cents
            ):
                text = (
                    f"<@{mission.booked_by}> your server has stopped "
                    f"({REASON_LABELS.get(reason, reason)}): {minutes} minutes billed, "
                    f"{format_cents(cents, currency)}."
                )
                await self._edit_progress(mission, mission_embed(mission, currency=currency))
                await self._post(mission.guild_id, text, mission=mission)
            case LaunchFailedNotice(mission=mission, message=message):
                await self._edit_progress(mission, mission_embed(mission, currency=currency))
                await self._post(
                    mission.guild_id,
                    f"<@{mission.booked_by}> the server could not be started: {message} "
                    "Its credit is available again.",
                    mission=mission,
                )
            case BookingConfirmedNotice(mission=mission):
                text = (
                    f"Your payment landed and your server is booked for {when(mission.start_at)}."
                )
                await self._dm(mission.guild_id, mission.booked_by, text)
                await self._post(
                    mission.guild_id,
                    f"<@{mission.booked_by}> booked a server.",
                    embed=mission_embed(mission, currency=currency),
                    mission=mission,
                )
            case IntentFailedNotice(guild_id=guild_id, buyer_id=buyer, message=message):
                text = f"Your payment landed, but the server could not be booked: {message}"
                await self._dm(guild_id, buyer, text)
            case CreditsLandedNotice(guild_id=guild_id, buyer_id=buyer, amount_cents=cents):
                amount = format_cents(cents, currency)
                available = format_cents(notice.balance.available_cents, currency)
                await self._dm(
                    guild_id,
                    buyer,
                    f"Receipt: {amount} of server credit added. Available now: {available}.",
                )
                await self._post(guild_id, f"<@{buyer}> added {amount} of server credit.")
            case PurchaseClosedNotice(guild_id=guild_id, buyer_id=buyer, amount_cents=cents):
                await self._dm(
                    guild_id,
                    buyer,
                    f"Your payment of {format_cents(cents, currency)} did not go through; "
                    "nothing was charged. Try again with /credits buy.",
                )
            case AdminAlertNotice(guild_id=guild_id, message=message):
                await self._alert(guild_id, message)

    async def _edit_progress(self, mission: MissionState, embed: discord.Embed) -> None:
        tracked = self._tracked.get(mission.mission_id)
        if tracked is None:
            return
        fresh = time.monotonic() - tracked.since <= TOKEN_FRESH_SECONDS
        if not fresh or not mission.is_active:
            del self._tracked[mission.mission_id]
        if fresh:
            await tracked.message.edit(embed=embed)

    async def _post(
        self,
        guild_id: str,
        content: str,
        *,
        embed: discord.Embed | None = None,
        view: discord.ui.View | None = None,
        mission: MissionState | None = None,
    ) -> None:
        channel_id = await self._reminder_channel(guild_id, mission)
        if channel_id is None:
            await self._report(
                guild_id,
                "no-channel",
                "rr has no reminder channel to post in; set one with /server config channel.",
            )
            return
        missing = (
            f"missing-{channel_id}",
            "rr's reminder channel no longer exists; choose another with /server config channel.",
        )
        try:
            channel = self.bot.get_channel(channel_id) or await self.bot.fetch_channel(channel_id)
        except discord.NotFound:
            channel = None
        if not isinstance(channel, discord.abc.Messageable):
            await self._report(guild_id, *missing)
            return
        try:
            await channel.send(content, embed=embed, view=view)  # type: ignore[arg-type]
        except discord.Forbidden:
            await self._report(
                guild_id,
                f"forbidden-{channel_id}",
                f"rr is not allowed to post in <#{channel_id}>; give it Send Messages and "
                "Embed Links there, or choose another channel with /server config channel.",
            )
        except discord.NotFound:
            await self._report(guild_id, *missing)

    async def _reminder_channel(self, guild_id: str, mission: MissionState | None) -> int | None:
        squadron = await self.bot.services.squadrons.get(guild_id)
        if squadron.settings.reminder_channel_id:
            return int(squadron.settings.reminder_channel_id)
        tracked = self._tracked.get(mission.mission_id) if mission else None
        return tracked.channel_id if tracked else None

    async def _dm(self, guild_id: str, user_id: str, content: str) -> None:
        try:
            await self._send_to_user(user_id, content)
        except discord.Forbidden:
            await self._report(
                guild_id,
                f"dm-{user_id}",
                f"rr could not DM <@{user_id}> (their DMs are closed), so a private message "
                "did not reach them; ask them to allow DMs from server members.",
            )
        except discord.NotFound:
            log.warning("dm target unknown guild=%s user=%s", guild_id, user_id)

    async def _send_to_user(self, user_id: str, content: str) -> None:
        user = self.bot.get_user(int(user_id)) or await self.bot.fetch_user(int(user_id))
        await user.send(content)

    async def _report(self, guild_id: str, problem: str, message: str) -> None:
        """Tell the guild's owner about a delivery problem, once per problem."""
        if (guild_id, problem) in self._reported:
            return
        self._reported.add((guild_id, problem))
        log.warning("delivery problem guild=%s problem=%s", guild_id, problem)
        await self._alert(guild_id, message)

    async def _alert(self, guild_id: str | None, message: str) -> None:
        if guild_id is None:
            recipients = sorted(self.bot.options.operator_ids)
        else:
            guild = self.bot.get_guild(int(guild_id))
            recipients = [str(guild.owner_id)] if guild and guild.owner_id else []
        for user_id in recipients:
            try:
                await self._send_to_user(user_id, message)
            except discord.HTTPException:
                log.warning("admin alert undeliverable guild=%s user=%s", guild_id, user_id)
