"""Embeds and one-line texts for what rr shows in Discord: sessions, quotes, balances, settings.

Times are Discord timestamps (``<t:…:R>``), so every member sees them in their own zone. Nothing
rendered here contains a password: the ready message's password goes out by DM only.
"""

import math
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta

import discord

from bot.domain.money import format_cents
from bot.domain.presence import SIDES, ServerStatus
from bot.domain.pricing import cost_at_rate
from bot.domain.session import SessionState, SessionStatus, describe_minutes
from bot.domain.settings import SETTINGS_CATALOGUE, SettingSpec, SquadronSettings
from bot.domain.words import counted
from bot.notify import DebriefNotice
from bot.services import Quote
from cogs.utils.parsing import format_duration

STATUS_LABELS = {
    SessionStatus.BOOKED: "Booked",
    SessionStatus.LAUNCHING: "Launching",
    SessionStatus.RUNNING: "Running",
    SessionStatus.TERMINATING: "Shutting down",
    SessionStatus.ENDED: "Ended",
    SessionStatus.CANCELLED: "Cancelled",
}
STATUS_COLOURS = {
    SessionStatus.BOOKED: discord.Colour.blurple(),
    SessionStatus.LAUNCHING: discord.Colour.gold(),
    SessionStatus.RUNNING: discord.Colour.green(),
    SessionStatus.TERMINATING: discord.Colour.orange(),
    SessionStatus.ENDED: discord.Colour.dark_grey(),
    SessionStatus.CANCELLED: discord.Colour.dark_grey(),
}
STAGE_LABELS = {
    "launching": "Launching the cloud machine",
    "booting": "Machine booting",
    "starting_dcs": "Starting DCS",
    "ready": "Ready",
}
REASON_LABELS = {
    "stopped_by_user": "stopped by a member",
    "booked_time_over": "booked time over",
    "out_of_credit": "out of credit",
    "admin": "stopped by an operator",
    "instance_lost": "the server was lost",
    "launch_failed": "the launch failed",
    "not_ready": "the server did not become ready in time",
    "cancelled": "cancelled",
    "idle": "nobody was on the server",
}
DCS_STATE_LABELS = {
    "starting": "DCS starting",
    "loading": "Mission loading",
    "running": "Mission running",
    "stopped": "Mission stopped",
    "unresponsive": "DCS not responding",
}
MAX_NAME_LENGTH = 32
"""Characters of a pilot's or mission's reported name shown; names come from strangers."""
MAX_PILOTS_PER_SIDE = 15


SECRET_WORDS = ("password", "secret", "token")


def redacted(data: object) -> object:
    """``data`` with every value under a password-, secret- or token-named key masked, so that
    event history can be shown without the secrets some events carry (settings hold passwords)."""
    if isinstance(data, Mapping):
        return {
            key: "********"
            if any(word in str(key).lower() for word in SECRET_WORDS) and value
            else redacted(value)
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [redacted(item) for item in data]
    return data


def when(moment: datetime) -> str:
    """``<t:…:f> (<t:…:R>)``: the full date and how far away it is, in each reader's zone."""
    return f"{discord.utils.format_dt(moment, 'f')} ({discord.utils.format_dt(moment, 'R')})"


def short_id(session_id: str) -> str:
    return session_id[:8]


def billed(minutes: int, cents: int, currency: str) -> str:
    """ "90 minutes billed, $3.00"."""
    return f"{counted(minutes, 'minute')} billed, {format_cents(cents, currency)}"


def session_choice_label(session: SessionState, label: str) -> str:
    """One line naming a session for autocomplete (plain text: no markdown), led by its
    ``label``."""
    name = f" · {session.mission_name}" if session.mission_name else ""
    return (
        f"{label} · {STATUS_LABELS[session.status]} · {session.size} · "
        f"{format_duration(session.duration_minutes)}{name}"
    )[:100]


def session_embed(
    session: SessionState, *, label: str, currency: str, stage: str | None = None
) -> discord.Embed:
    """A session's status as anyone in the guild may see it (no password), titled ``label``."""
    title = f"{label} · {STATUS_LABELS[session.status]}"
    embed = discord.Embed(title=title, colour=STATUS_COLOURS[session.status])
    if stage and session.status in (SessionStatus.LAUNCHING, SessionStatus.RUNNING):
        embed.description = f"**{STAGE_LABELS.get(stage, stage)}**"
    embed.add_field(name="Booked by", value=f"<@{session.booked_by}>")
    embed.add_field(name="Size", value=f"{session.size} in {session.region}")
    if session.mission_name:
        embed.add_field(name="Mission", value=session.mission_name, inline=False)
    embed.add_field(name="Starts", value=when(session.start_at), inline=False)
    embed.add_field(name="Ends", value=when(session.end_at), inline=False)
    if session.address and session.status is SessionStatus.RUNNING:
        embed.add_field(name="Address", value=f"`{session.address}:{session.port}`", inline=False)
    if session.status is SessionStatus.ENDED:
        reason = REASON_LABELS.get(session.termination_reason or "", "ended")
        cost = billed(session.billed_minutes or 0, session.charged_cents or 0, currency)
        embed.add_field(name="Ended", value=f"{reason}; {cost}", inline=False)
    return embed


def reported_text(text: str, limit: int = MAX_NAME_LENGTH) -> str:
    """A name a server reported (a pilot's, a mission's), safe to show: one line, no markdown,
    no mentions, at most ``limit`` characters (an ellipsis marks a cut)."""
    line = "".join(ch if ch.isprintable() else " " for ch in text).strip() or "?"
    if len(line) > limit:
        line = line[: limit - 1] + "…"
    return discord.utils.escape_mentions(discord.utils.escape_markdown(line))


def pilots_by_side(status: ServerStatus) -> list[tuple[str, str]]:
    """(field name, names) per side with pilots on it, blue first."""
    found = []
    for side in (2, 1, 0):
        names = [reported_text(p.name) for p in status.pilots if p.side == side]
        if not names:
            continue
        shown = names[:MAX_PILOTS_PER_SIDE]
        if len(names) > len(shown):
            shown.append(f"and {len(names) - len(shown)} more")
        found.append((f"{SIDES[side]} ({len(names)})", "\n".join(shown)))
    return found


def add_presence(embed: discord.Embed, status: ServerStatus | None) -> None:
    """The server as its agent last reported it: DCS's state, the mission, the pilots by
    side, and how old the report is ("no report yet" before the first)."""
    if status is None:
        embed.add_field(name="Pilots online", value="no report yet", inline=False)
        return
    state = DCS_STATE_LABELS.get(status.state, status.state)
    reported = discord.utils.format_dt(status.reported_at, "R")
    embed.add_field(
        name="On the server",
        value=f"{state}: {reported_text(status.mission, 100)} (last report {reported})",
        inline=False,
    )
    sides = pilots_by_side(status)
    if not sides:
        embed.add_field(name="Pilots online", value="nobody", inline=False)
    for name, names in sides:
        embed.add_field(name=name, value=names[:1024])


def live_status_embed(label: str, status: ServerStatus) -> discord.Embed:
    """The live status message of a running server."""
    count = counted(len(status.pilots), "pilot")
    embed = discord.Embed(title=f"{label} · {count} online", colour=discord.Colour.green())
    add_presence(embed, status)
    return embed


def ended_status_embed(label: str, ended_at: datetime | None, flown: int) -> discord.Embed:
    """The live status message once its session ended: when, and how many flew."""
    embed = discord.Embed(title=f"{label} · Ended", colour=discord.Colour.dark_grey())
    at = discord.utils.format_dt(ended_at, "t") if ended_at else "its end"
    embed.description = f"Ended at {at} — {counted(flown, 'pilot')} flew."
    return embed


def idle_saving(session: SessionState, currency: str) -> str:
    """What stopping an idle server early saved, as the end message says it: "Stopped after
    20 minutes with nobody on the server; the 1 hour 40 minutes left unused was not charged:
    $3.33 saved." Empty when the session was not stopped for being idle."""
    warning, stop = session.idle_warning, session.stop_at
    start = session.launched_at and max(session.launched_at, session.start_at)
    if session.termination_reason != "idle" or warning is None or stop is None or start is None:
        return ""
    idle = describe_minutes(max(0, round((stop - warning.idle_since).total_seconds() / 60)))
    unused_minutes = max(0, int((session.end_at - stop).total_seconds() // 60))
    booked_minutes = -(-(session.end_at - start) // timedelta(minutes=1))
    saved = max(
        0, cost_at_rate(session.rate_cents_per_hour, booked_minutes) - (session.charged_cents or 0)
    )
    who = "nobody joining" if warning.cause == "unjoined" else "nobody on the server"
    return (
        f"Stopped after {idle} with {who}; the {describe_minutes(unused_minutes)} left unused "
        f"was not charged: {format_cents(saved, currency)} saved."
    )


def sessions_embed(
    sessions: Iterable[SessionState], *, title: str, labels: Callable[[SessionState], str]
) -> discord.Embed:
    lines = [f"**{labels(m)}** {session_line(m)}" for m in sessions]
    embed = discord.Embed(title=title, colour=discord.Colour.blurple())
    embed.description = "\n".join(lines[:20]) or "No servers."
    if len(lines) > 20:
        embed.set_footer(text=f"and {len(lines) - 20} more")
    return embed


def session_line(session: SessionState) -> str:
    size = f"{session.size}, {format_duration(session.duration_minutes)}"
    return f"{STATUS_LABELS[session.status]}, {size}, {when(session.start_at)}"


def quote_embed(*, title: str, quote: Quote, size: str) -> discord.Embed:
    """What a start or booking will cost, shown before the member confirms it; for a start the
    credit only partly covers, how long it runs unless more is bought."""
    currency = quote.currency
    embed = discord.Embed(title=title, colour=discord.Colour.blurple())
    embed.add_field(name="Size", value=size)
    embed.add_field(name="Cost", value=format_cents(quote.cost_cents, currency))
    embed.add_field(name="Credit available", value=format_cents(quote.available_cents, currency))
    embed.add_field(name="Starts", value=when(quote.start_at), inline=False)
    embed.add_field(name="Ends", value=when(quote.end_at), inline=False)
    if quote.boot_lead_minutes:
        embed.description = (
            f"Boot time is free: rr starts the server {describe_minutes(quote.boot_lead_minutes)} "
            f"early so it is ready at {discord.utils.format_dt(quote.start_at, 't')}, and bills "
            "from then."
        )
        if quote.boot is not None and quote.boot.measured is not None:
            took = math.ceil(quote.boot.measured / timedelta(minutes=1))
            embed.description += (
                f" {size.capitalize()} servers in {quote.region} were ready within "
                f"{describe_minutes(took)} in {quote.boot.within} of their last "
                f"{quote.boot.boots} boots."
            )
    if quote.partly_funded:
        embed.colour = discord.Colour.gold()
        embed.description = (
            f"Credit covers {describe_minutes(quote.covered_minutes)}: the server runs until "
            f"{discord.utils.format_dt(quote.covered_until, 't')} unless you buy more."
        )
        embed.set_footer(
            text="Credit bought before then keeps it running to the end. "
            "Unused minutes are returned."
        )
        return embed
    after = format_cents(quote.available_cents - quote.cost_cents, currency)
    embed.set_footer(text=f"Credit left after reserving: {after}. Unused minutes are returned.")
    return embed


_GROUP_TITLES = {
    "server": "Server",
    "discord": "In Discord",
    "idle": "Idle stop",
    "missions": "Missions",
    "clients": "Client checks",
    "advanced": "Advanced",
    "lotatc": "LotAtc",
    "srs": "SRS",
    "tacview": "Tacview",
}
_TOP_GROUPS = {
    "timezone": "discord",
    "reminder_channel_id": "discord",
    "manager_role_id": "discord",
    "idle_stop_unjoined_minutes": "idle",
    "idle_stop_empty_minutes": "idle",
    "missions": "missions",
    "loop_missions": "missions",
    "shuffle_missions": "missions",
}
_ADD_ONS = {
    spec.key[: -len(".enabled")] for spec in SETTINGS_CATALOGUE if spec.key.endswith(".enabled")
}
"""Groups an add-on's ``enabled`` switches on; when it is off, the rest of the group is moot."""
_LABELS = {
    "is_public": "Listed publicly",
    "reminder_channel_id": "Reminder channel",
    "manager_role_id": "Manager role",
    "loop_missions": "Loop the list",
    "shuffle_missions": "Shuffle the list",
    "eam_enabled": "External AWACS mode",
    "los_enabled": "Line of sight",
    "irl_radio_tx": "One transmitter at a time",
    "irl_radio_rx_interference": "Transmissions interfere",
    "allow_change_tailno": "Allow changing tail number",
    "max_ping": "Max ping (ms)",
    "playback_delay": "Playback delay (s)",
    "idle_stop_unjoined_minutes": "Nobody joined since ready",
    "idle_stop_empty_minutes": "Last pilot left",
}


def setting_label(key: str) -> str:
    """ "srs.max_players" → "Max players"."""
    name = key.rpartition(".")[2]
    return _LABELS.get(name, name.replace("_", " ").capitalize())


def setting_value(spec: SettingSpec, value: object) -> str:
    """A setting's value as people read it: on/off, mentions, a masked secret, a dash when
    unset."""
    if spec.secret:
        return "set (hidden)" if value else "not set"
    if spec.kind == "flag":
        return "on" if value else "off"
    if spec.kind == "minutes_or_off":
        return f"after {value} min" if value else "off"
    if value in (None, "", [], ()):
        return "—"
    if spec.kind == "discord_id":
        return f"<@&{value}>" if spec.key == "manager_role_id" else f"<#{value}>"
    if isinstance(value, tuple | list):
        return ", ".join(str(item) for item in value)
    return str(value)


def settings_embed(settings: SquadronSettings) -> discord.Embed:
    """The squadron's settings grouped and labelled as people read them, secrets masked; an
    add-on that is off shows only that."""
    embed = discord.Embed(title="Squadron settings", colour=discord.Colour.blurple())
    groups: dict[str, list[str]] = {}
    for spec in SETTINGS_CATALOGUE:
        prefix, _, name = spec.key.rpartition(".")
        group = prefix or _TOP_GROUPS.get(name, "clients" if "require_pure" in name else "server")
        if prefix in _ADD_ONS and name != "enabled" and not settings.value(f"{prefix}.enabled"):
            continue
        value = setting_value(spec, settings.value(spec.key))
        groups.setdefault(group, []).append(f"{setting_label(spec.key)}: **{value}**")
    for group, lines in groups.items():
        embed.add_field(name=_GROUP_TITLES[group], value="\n".join(lines)[:1024], inline=False)
    return embed


DEBRIEF_KINDS = {"tacview": "Tacview", "track": "Track", "log": "Log", "save": "Campaign save"}
MAX_FIELD = 1024
MAX_DESCRIPTION = 4000
TOO_LONG_LINK = "The link is too long for Discord; an operator can fetch the file."


def debrief_embed(notice: DebriefNotice, *, label: str, currency: str) -> discord.Embed:
    """The debrief of an ended session: when, how long, who flew, the cost, the files' links.
    Pilots' names are the players' own: escaped, and cut to fit."""
    session = notice.session
    began = session.ready_at or session.start_at
    ended = session.ended_at or session.end_at
    cost = billed(session.billed_minutes or 0, session.charged_cents or 0, currency)
    names = ", ".join(
        discord.utils.escape_mentions(discord.utils.escape_markdown(name)) for name in notice.pilots
    )
    pilots = f"Pilots: {names}." if names else "No pilot took a slot."
    if len(pilots) > MAX_FIELD:
        pilots = pilots[: MAX_FIELD - 1] + "…"
    lines = [
        f"Flown from {discord.utils.format_dt(began, 'f')} to "
        f"{discord.utils.format_dt(ended, 't')} ({describe_minutes(session.billed_minutes or 0)}).",
        pilots,
        f"Cost: {cost}.",
    ]
    if notice.files:
        lines.append(
            f"Links expire on {discord.utils.format_dt(notice.expires_at, 'D')}; "
            "files are deleted then."
        )
    else:
        lines.append("The server sent no file back.")
    embed = discord.Embed(
        title=f"Debrief · {label}",
        description="\n".join(lines)[:MAX_DESCRIPTION],
        colour=STATUS_COLOURS[SessionStatus.ENDED],
    )
    for file in notice.files[:20]:
        link = f"[Download]({file.url})"
        embed.add_field(
            name=f"{DEBRIEF_KINDS.get(file.kind, file.kind)}: {file.name} ({_size(file.size)})"[
                :256
            ],
            value=link if len(link) <= MAX_FIELD else TOO_LONG_LINK,
            inline=False,
        )
    return embed


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / 1024 / 1024:.1f} MB"
