"""What rr says in a server's game chat: the notices that concern the pilots flying on it.

DCS shows a chat line from the server to everyone on it. These lines repeat, in a few words,
the Discord notices a pilot should not miss while flying (the end coming, the credit running
out, an extension) and say where to act: in Discord. They are plain ASCII (DCS's chat and
fonts vary), carry no mention markup, and are built from rr's own words and numbers only, so
no member's name or secret ever reaches a game.
"""

from datetime import UTC

from bot.notify import EndWarningNotice, LowCreditNotice, Notice, SessionExtendedNotice

GRACEFUL_END_LINE = "Server stopping: the mission ends now so DCS saves its Tacview and tracks"
"""Posted just before rr asks the server to end its mission cleanly."""


def chat_line(notice: Notice) -> str | None:
    """The line for the game's chat that goes with ``notice``; None for notices pilots in the
    game need not read there."""
    match notice:
        case EndWarningNotice(minutes_left=minutes):
            return f"Server ends in {_minutes(minutes)} - extend with /server extend in Discord"
        case LowCreditNotice(minutes_left=minutes):
            return f"Credit runs out in {_minutes(minutes)} - top up with /credits buy in Discord"
        case SessionExtendedNotice(session=session, minutes=minutes):
            ends = session.end_at.astimezone(UTC)
            return f"Extended by {_minutes(minutes)}: the server now ends at {ends:%H:%M} UTC"
    return None


def _minutes(minutes: int) -> str:
    return f"{minutes} min"
