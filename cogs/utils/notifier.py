"""Carrying notices out in Discord: progress, reminders, ready messages, DMs and receipts.

Where things go:
- Reminders, ready messages, end warnings (with extend / end buttons), extensions, and every end
  and launch failure go to the squadron's reminder channel, mentioning the booker. Without one
  they go to the channel the session was started or booked from (while this process remembers
  it), else to the guild's system channel; only when none of these exists is the guild's owner
  told there is nowhere to post.
- The public messages that show a session (the one posted when it was started or booked, the
  ready message, reminders) are edited as it changes: launch progress, a new end after an
  extension, its end or cancellation. The message posted at the start is edited through its
  interaction while that is fresh (Discord allows 15 minutes), later as the bot's own message.
  End warnings whose time no longer applies (after an extension or the end) lose their buttons.
  What is edited is remembered by this process only; after a restart new messages still follow.
- A running server's live status (the mission, the pilots by side) is one message in the same
  channel, posted with the first report and edited as it changes (the watch sends it at most
  every 30 s), then edited to say when it ended and how many pilots flew. Idle warnings carry a
  Keep running button, taken off once a pilot joins, a member presses it, or the session ends.
- The server password goes only by DM to the booker; receipts and payment outcomes by DM to the
  buyer.
- A Discord failure (missing permission, deleted channel, closed DMs) is logged and reported to the
  guild's owner once per problem: once per session for a notice about a session, else once while
  the bot runs (among the latest `REMEMBERED_REPORTS`). A reminder, ready message or warning whose
  channel post failed raises ``DeliveryFailed``: the services send it again after a back-off,
  for a while (the owner may have fixed the channel meanwhile).

What the notifier keeps of a session (the messages that show it, the channel it was started
from, the problems reported about it) is dropped once a notice finds the session ended, or when
starting or booking it was refused, so a bot running for months holds only what belongs to
sessions still going.
"""

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import discord
from cachetools import LRUCache

from bot.domain.money import format_cents
from bot.domain.presence import ServerStatus
from bot.domain.session import SessionState, SessionStatus
from bot.domain.words import counted
from bot.notify import (
    AdminAlertNotice,
    BookingConfirmedNotice,
    CreditsLandedNotice,
    DebriefNotice,
    DeliveryFailed,
    EndWarningNotice,
    IdleWarningNotice,
    IdleWarningWithdrawnNotice,
    IntentFailedNotice,
    LaunchFailedNotice,
    LiveStatusNotice,
    LowCreditNotice,
    Notice,
    ProgressNotice,
    PurchaseClosedNotice,
    ReadyNotice,
    ReminderNotice,
    SessionEndedNotice,
    SessionExtendedNotice,
    must_arrive,
)
from cogs.utils.labels import session_label
from cogs.utils.render import (
    REASON_LABELS,
    billed,
    debrief_embed,
    ended_status_embed,
    idle_saving,
    live_status_embed,
    reported_text,
    session_embed,
    when,
)
from cogs.utils.views import end_warning_view, idle_warning_view

if TYPE_CHECKING:
    from cogs.utils.client import RRBot

log = logging.getLogger("rr.discord.notify")

TOKEN_FRESH_SECONDS = 14 * 60
"""Interaction tokens last 15 minutes; stop editing through one a minute before that."""

GRACEFUL_END_TOLD = (
    "rr ended the mission cleanly first to save your Tacview and tracks; those minutes are "
    "not billed."
)

REMEMBERED_REPORTS = 4096
"""Problems outside any session remembered as reported; the oldest beyond are forgotten."""


@dataclass
class _Shown:
    """A message in a channel that shows a session; ``interaction`` while its token is fresh."""

    channel_id: int
    message_id: int
    interaction: discord.WebhookMessage | None = None
    since: float = field(default_factory=time.monotonic)


@dataclass
class _Messages:
    started: _Shown | None = None
    """The public message posted when the session was started or booked."""
    shown: list[_Shown] = field(default_factory=list)
    """Other messages carrying the session's embed (ready message, reminders)."""
    warnings: list[_Shown] = field(default_factory=list)
    """End warnings whose buttons still apply."""
    idle_warnings: list[_Shown] = field(default_factory=list)
    """Idle warnings whose Keep running button still applies."""
    live: _Shown | None = None
    """The live status message: who is on the server, edited as that changes."""
    flown: int = 0
    """Pilots seen on the server, as the latest live status counted them."""


class DiscordNotifier:
    def __init__(self, bot: "RRBot") -> None:
        self.bot = bot
        self._messages: dict[str, _Messages] = {}
        self._origins: dict[str, int] = {}
        """The channel each session was started or booked from, until its end is told."""
        self._session_reports: dict[str, set[tuple[str, str]]] = {}
        """Problems reported while telling of each session, until its end is told."""
        self._reported: LRUCache[tuple[str, str], None] = LRUCache(maxsize=REMEMBERED_REPORTS)

    @property
    def sessions_remembered(self) -> int:
        """Sessions the notifier keeps anything of (messages, channel, reported problems)."""
        return len(self._messages.keys() | self._origins.keys() | self._session_reports.keys())

    def forget(self, session_id: str) -> None:
        """Drop all the notifier keeps of a session: it ended, or was never started or booked."""
        self._messages.pop(session_id, None)
        self._origins.pop(session_id, None)
        for reported in self._session_reports.pop(session_id, set()):
            # Still known once the session ended: its debrief does not report it again.
            self._reported[reported] = None

    def expect(self, session_id: str, channel_id: int | None) -> None:
        """Post the news of the session about to be started or booked from ``channel_id`` there
        when the squadron has no reminder channel (a launch may fail before ``track``)."""
        if channel_id is not None:
            self._origins[session_id] = channel_id

    async def track(self, session: SessionState, message: discord.WebhookMessage) -> None:
        """Keep ``message`` (posted when the session was started or booked, showing ``session``)
        up to date; if the session is over already, show how it ended now."""
        self._messages_of(session).started = _Shown(message.channel.id, message.id, message)
        current = await self.bot.services.sessions.get(session.session_id)
        if not current.is_active:
            await self._refresh(current, self._messages.pop(session.session_id, None))

    async def notify(self, notice: Notice) -> None:
        try:
            delivered = await self._deliver(notice)
        except discord.HTTPException as error:
            log.warning(
                "discord delivery failed notice=%s guild=%s status=%s code=%s",
                type(notice).__name__,
                notice.guild_id,
                error.status,
                error.code,
            )
            delivered = False
        finally:
            session = getattr(notice, "session", None)
            if isinstance(session, SessionState) and not session.is_active:
                self.forget(session.session_id)
        if not delivered and must_arrive(notice):
            raise DeliveryFailed(f"{type(notice).__name__} was not posted")

    async def _deliver(self, notice: Notice) -> bool:
        """Carry ``notice`` out; False when its channel post could not be made."""
        match notice:
            case ProgressNotice(session=session, stage=stage):
                await self._show_progress(session, stage)
            case ReminderNotice(session=session):
                label = await session_label(self.bot.services, session)
                posted = await self._post(
                    session.guild_id,
                    f"<@{session.booked_by}> {label} starts {when(session.start_at)}.",
                    embed=self._embed(session, label),
                    session=session,
                    shows=True,
                )
                return posted is not None
            case ReadyNotice(session=session, address=address, port=port, password=password):
                await self._show_progress(session, "ready")
                label = await session_label(self.bot.services, session)
                srs = f" SRS: port `{notice.srs_port}`." if notice.srs_port else ""
                mission = (
                    f" Mission: {reported_text(notice.mission, 100)}." if notice.mission else ""
                )
                posted = await self._post(
                    session.guild_id,
                    f"<@{session.booked_by}> {label} is ready at `{address}:{port}`.{srs}{mission}",
                    embed=self._embed(session, label),
                    session=session,
                    shows=True,
                )
                if password:
                    await self._dm(
                        session.guild_id,
                        session.booked_by,
                        f"{label} is ready at `{address}:{port}`. "
                        f"Password: ||{password}|| (share it only with your squadron).",
                        session,
                    )
                return posted is not None
            case EndWarningNotice(session=session, minutes_left=minutes):
                label = await session_label(self.bot.services, session)
                posted = await self._post(
                    session.guild_id,
                    f"<@{session.booked_by}> {label} ends in {counted(minutes, 'minute')} "
                    f"({discord.utils.format_dt(session.end_at, 'R')}). Extend it or end it now:",
                    view=end_warning_view(session.session_id),
                    session=session,
                )
                if posted is not None:
                    self._messages_of(session).warnings.append(_Shown(posted.channel.id, posted.id))
                return posted is not None
            case SessionExtendedNotice(session=session, minutes=minutes, extended_by=by):
                label = await self._refresh(session, self._messages.get(session.session_id))
                await self._post(
                    session.guild_id,
                    f"<@{by}> extended {label} by {counted(minutes, 'minute')}; it now ends "
                    f"{when(session.end_at)}.",
                    session=session,
                )
            case LowCreditNotice(session=session, minutes_left=minutes):
                label = await session_label(self.bot.services, session)
                posted = await self._post(
                    session.guild_id,
                    f"<@{session.booked_by}> the squadron's credit runs out in "
                    f"{counted(minutes, 'minute')} and {label} will then stop; buy more with "
                    "/credits buy to keep it running.",
                    session=session,
                )
                return posted is not None
            case LiveStatusNotice(session=session, status=status):
                await self._show_live(session, status)
            case IdleWarningNotice(session=session):
                return await self._warn_idle(session)
            case IdleWarningWithdrawnNotice(session=session):
                label = await session_label(self.bot.services, session)
                await self._spend_idle_warnings(
                    session.session_id,
                    self._messages.get(session.session_id),
                    f"A pilot joined {label}, so it keeps running.",
                )
            case SessionEndedNotice(
                session=session, reason=reason, billed_minutes=minutes, amount_cents=cents
            ):
                label = await self._refresh(session, self._messages.pop(session.session_id, None))
                if session.status is SessionStatus.CANCELLED:
                    text = f"{label} was cancelled before it started; nothing was charged."
                else:
                    currency = self.bot.services.pricing.currency
                    cost = billed(minutes, cents, currency)
                    text = f"{label} has stopped ({REASON_LABELS.get(reason, reason)}): {cost}."
                    if saving := idle_saving(session, currency):
                        text = f"{text} {saving}"
                    if session.graceful_end_until is not None:
                        text += f" {GRACEFUL_END_TOLD}"
                text = f"<@{session.booked_by}> {text}"
                await self._post(session.guild_id, text, session=session)
                self._origins.pop(session.session_id, None)
            case DebriefNotice(session=session):
                label = await session_label(self.bot.services, session)
                currency = self.bot.services.pricing.currency
                posted = await self._post(
                    session.guild_id,
                    f"<@{session.booked_by}> the debrief of {label}:",
                    embed=debrief_embed(notice, label=label, currency=currency),
                )
                return posted is not None
            case LaunchFailedNotice(session=session, message=message):
                label = await self._refresh(session, self._messages.pop(session.session_id, None))
                await self._post(
                    session.guild_id,
                    f"<@{session.booked_by}> {label} could not be started: {message} "
                    "Its credit is available again.",
                    session=session,
                )
                self._origins.pop(session.session_id, None)
            case BookingConfirmedNotice(session=session):
                label = await session_label(self.bot.services, session)
                text = f"Your payment landed and {label} is booked for {when(session.start_at)}."
                await self._dm(session.guild_id, session.booked_by, text, session)
                await self._post(
                    session.guild_id,
                    f"<@{session.booked_by}> booked {label}.",
                    embed=self._embed(session, label),
                    session=session,
                    shows=True,
                )
            case IntentFailedNotice(guild_id=guild_id, buyer_id=buyer, message=message):
                text = f"Your payment landed, but the server could not be booked: {message}"
                await self._dm(guild_id, buyer, text)
            case CreditsLandedNotice(guild_id=guild_id, buyer_id=buyer, amount_cents=cents):
                currency = self.bot.services.pricing.currency
                amount = format_cents(cents, currency)
                available = format_cents(notice.balance.available_cents, currency)
                await self._dm(
                    guild_id,
                    buyer,
                    f"Receipt: {amount} of server credit added. Available now: {available}.",
                )
                await self._post(guild_id, f"<@{buyer}> added {amount} of server credit.")
            case PurchaseClosedNotice(guild_id=guild_id, buyer_id=buyer, amount_cents=cents):
                currency = self.bot.services.pricing.currency
                await self._dm(
                    guild_id,
                    buyer,
                    f"Your payment of {format_cents(cents, currency)} did not go through; "
                    "nothing was charged. Try again with /credits buy.",
                )
            case AdminAlertNotice(guild_id=guild_id, message=message):
                await self._alert(guild_id, message)
        return True

    # --- the messages that show a session -------------------------------------------------------

    def _messages_of(self, session: SessionState) -> _Messages:
        return self._messages.setdefault(session.session_id, _Messages())

    def _embed(self, session: SessionState, label: str, stage: str | None = None) -> discord.Embed:
        currency = self.bot.services.pricing.currency
        return session_embed(session, label=label, currency=currency, stage=stage)

    async def _show_progress(self, session: SessionState, stage: str) -> None:
        messages = self._messages.get(session.session_id)
        if messages is None or messages.started is None:
            return
        label = await session_label(self.bot.services, session)
        await self._edit(messages.started, embed=self._embed(session, label, stage))

    async def _show_live(self, session: SessionState, status: ServerStatus) -> None:
        """Post the session's live status message, or edit the one posted."""
        messages = self._messages_of(session)
        messages.flown = status.flown
        label = await session_label(self.bot.services, session)
        embed = live_status_embed(label, status)
        if messages.live is not None:
            await self._edit(messages.live, embed=embed)
            return
        posted = await self._post(session.guild_id, "", embed=embed, session=session)
        if posted is not None:
            messages.live = _Shown(posted.channel.id, posted.id)

    async def _warn_idle(self, session: SessionState) -> bool:
        warning = session.idle_warning
        if warning is None:
            return True
        label = await session_label(self.bot.services, session)
        since = discord.utils.format_dt(warning.idle_since, "R")
        why = "Nobody has joined" if warning.cause == "unjoined" else "Nobody has been on"
        posted = await self._post(
            session.guild_id,
            f"<@{session.booked_by}> {why} {label} since {since}, so it stops "
            f"{discord.utils.format_dt(warning.stop_at, 'R')} to save credit. Join it, or keep "
            "it running:",
            view=idle_warning_view(session.session_id),
            session=session,
        )
        if posted is not None:
            self._messages_of(session).idle_warnings.append(_Shown(posted.channel.id, posted.id))
        return posted is not None

    async def _spend_idle_warnings(
        self, session_id: str, messages: _Messages | None, content: str | None = None
    ) -> None:
        """Take the Keep running button off the session's idle warnings (saying why, if
        ``content``)."""
        if messages is None:
            return
        view = idle_warning_view(session_id, disabled=True)
        for warning in messages.idle_warnings:
            await self._edit(warning, content=content, view=view)
        messages.idle_warnings.clear()

    async def _refresh(self, session: SessionState, messages: _Messages | None) -> str:
        """Show the session as it is now on every message of ``messages`` that shows it, and
        take the buttons off its end warnings; returns its label."""
        label = await session_label(self.bot.services, session)
        if messages is None:
            return label
        embed = self._embed(session, label)
        started = [messages.started] if messages.started else []
        for shown in started + messages.shown:
            await self._edit(shown, embed=embed)
        spent = end_warning_view(session.session_id, disabled=True)
        for warning in messages.warnings:
            await self._edit(warning, view=spent)
        messages.warnings.clear()
        if not session.is_active:
            await self._spend_idle_warnings(session.session_id, messages)
            if messages.live is not None:
                ended = ended_status_embed(label, session.ended_at, messages.flown)
                await self._edit(messages.live, embed=ended)
        return label

    async def _edit(
        self,
        shown: _Shown,
        *,
        embed: discord.Embed | None = None,
        view: discord.ui.View | None = None,
        content: str | None = None,
    ) -> None:
        """Edit a message that shows a session; one that is gone or out of reach is left."""
        fields: dict[str, object] = {}
        if content is not None:
            fields["content"] = content
        if embed is not None:
            fields["embed"] = embed
        if view is not None:
            fields["view"] = view
        try:
            if shown.interaction and time.monotonic() - shown.since <= TOKEN_FRESH_SECONDS:
                await shown.interaction.edit(**fields)  # type: ignore[arg-type]
                return
            channel = self.bot.get_partial_messageable(shown.channel_id)
            await channel.get_partial_message(shown.message_id).edit(**fields)  # type: ignore[arg-type]
        except discord.HTTPException as error:
            log.info(
                "session message not edited channel=%s message=%s status=%s",
                shown.channel_id,
                shown.message_id,
                error.status,
            )

    # --- posting --------------------------------------------------------------------------------

    async def _post(
        self,
        guild_id: str,
        content: str,
        *,
        embed: discord.Embed | None = None,
        view: discord.ui.View | None = None,
        session: SessionState | None = None,
        shows: bool = False,
    ) -> discord.Message | None:
        """Post where the squadron reads rr's news; ``shows``: the message shows ``session``
        and is kept up to date with it."""
        channel_id = await self._news_channel(guild_id, session)
        if channel_id is None:
            await self._report(
                guild_id,
                session,
                "no-channel",
                "rr has no channel to post in; set one with /config channel.",
            )
            return None
        missing = (
            f"missing-{channel_id}",
            "rr's reminder channel no longer exists; choose another with /config channel.",
        )
        try:
            channel = self.bot.get_channel(channel_id) or await self.bot.fetch_channel(channel_id)
        except discord.NotFound:
            channel = None
        if not isinstance(channel, discord.abc.Messageable):
            await self._report(guild_id, session, *missing)
            return None
        try:
            posted = await channel.send(content, embed=embed, view=view)  # type: ignore[arg-type]
        except discord.Forbidden:
            await self._report(
                guild_id,
                session,
                f"forbidden-{channel_id}",
                f"rr is not allowed to post in <#{channel_id}>; give it Send Messages and "
                "Embed Links there, or choose another channel with /config channel.",
            )
            return None
        except discord.NotFound:
            await self._report(guild_id, session, *missing)
            return None
        if shows and session is not None and session.is_active:
            self._messages_of(session).shown.append(_Shown(posted.channel.id, posted.id))
        return posted

    async def _news_channel(self, guild_id: str, session: SessionState | None) -> int | None:
        """The reminder channel; else the channel the session was started from; else the
        guild's system channel."""
        squadron = await self.bot.services.squadrons.get(guild_id)
        if squadron.settings.reminder_channel_id:
            return int(squadron.settings.reminder_channel_id)
        origin = self._origins.get(session.session_id) if session else None
        if origin is not None:
            return origin
        guild = self.bot.get_guild(int(guild_id))
        system = guild.system_channel if guild else None
        return system.id if system else None

    async def _dm(
        self, guild_id: str, user_id: str, content: str, session: SessionState | None = None
    ) -> None:
        try:
            await self._send_to_user(user_id, content)
        except discord.Forbidden:
            await self._report(
                guild_id,
                session,
                f"dm-{user_id}",
                f"rr could not DM <@{user_id}> (their DMs are closed), so a private message "
                "did not reach them; ask them to allow DMs from server members.",
            )
        except discord.NotFound:
            log.warning("dm target unknown guild=%s user=%s", guild_id, user_id)

    async def _send_to_user(self, user_id: str, content: str) -> None:
        user = self.bot.get_user(int(user_id)) or await self.bot.fetch_user(int(user_id))
        await user.send(content)

    async def _report(
        self, guild_id: str, session: SessionState | None, problem: str, message: str
    ) -> None:
        """Tell the guild's owner about a delivery problem, once per problem: per session for a
        notice about one, else among the latest reports."""
        key = (guild_id, problem)
        if session is None:
            if key in self._reported:
                return
            self._reported[key] = None
        else:
            reported = self._session_reports.setdefault(session.session_id, set())
            if key in reported:
                return
            reported.add(key)
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
