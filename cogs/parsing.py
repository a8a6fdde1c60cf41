"""Reading what members type: durations such as ``90m`` or ``2h30m``, start times such as ``19:30``,
``tomorrow 20:00`` or an ISO date, and money such as ``$25`` or ``12.50``.

Each parser returns a typed value or raises ``InputError``, whose text is one plain sentence saying
what was wrong and what to type instead; the cogs show it to the member as it is.
"""

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones


class InputError(ValueError):
    """What a member typed cannot be read; the message says how to write it."""


_DURATION = re.compile(r"^(?:(?P<h>\d{1,3})\s*h)?\s*(?:(?P<m>\d{1,4})\s*(?:m|min)?)?$")
_CLOCK = re.compile(r"^(?P<h>[01]?\d|2[0-3])[:.h](?P<m>[0-5]\d)$")
_MONEY = re.compile(r"^\$?\s*(?P<whole>\d{1,6})(?:[.,](?P<frac>\d{1,2}))?$")
_DAY_WORDS = {"today": 0, "tonight": 0, "tomorrow": 1}
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def parse_duration(text: str) -> int:
    """Minutes in ``text``: ``90``, ``90m``, ``2h``, ``2h30m``, ``2h30``, ``1h 15m``."""
    cleaned = text.strip().lower()
    if cleaned.isdigit():
        minutes = int(cleaned)
    else:
        match = _DURATION.match(cleaned)
        if not cleaned or match is None or not (match["h"] or match["m"]):
            raise InputError(f'"{text.strip()}" is not a duration; write it like 90m, 2h or 2h30m.')
        minutes = int(match["h"] or 0) * 60 + int(match["m"] or 0)
    if minutes <= 0:
        raise InputError("The duration must be longer than zero; write it like 90m, 2h or 2h30m.")
    return minutes


def format_duration(minutes: int) -> str:
    """``150`` → ``2h30m``; the inverse of ``parse_duration`` for display."""
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return f"{hours}h{rest:02d}m"
    return f"{hours}h" if hours else f"{rest}m"


def zone(name: str) -> ZoneInfo:
    """The IANA time zone called ``name``."""
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(
            f'"{name.strip()}" is not a time zone I know; pick one from the list, '
            "such as Europe/London or America/New_York."
        ) from None


def parse_start(text: str, *, now: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant meant by ``text`` in the squadron's zone ``tz``.

    Accepts ``19:30`` (today, or tomorrow when that time has already passed), ``tomorrow 20:00``,
    ``today 18:00``, a weekday such as ``sat 20:00``, ``2026-12-05 19:30`` and full ISO-8601 with an
    offset (which then wins over ``tz``).
    """
    cleaned = " ".join(text.strip().lower().split())
    if not cleaned:
        raise InputError("Give a start time such as 19:30, tomorrow 20:00 or 2026-12-05 19:30.")
    local_now = now.astimezone(tz)
    parsed = _parse_words(cleaned, local_now, tz) or _parse_iso(cleaned, tz)
    if parsed is None:
        raise InputError(
            f'"{text.strip()}" is not a time I can read; write it like 19:30, tomorrow 20:00 '
            "or 2026-12-05 19:30."
        )
    return parsed.astimezone(ZoneInfo("UTC"))


def _parse_words(cleaned: str, local_now: datetime, tz: ZoneInfo) -> datetime | None:
    parts = cleaned.split(" ")
    if len(parts) == 1 and (clock := _clock(parts[0])) is not None:
        candidate = _at(local_now.date(), clock, tz)
        return (
            candidate if candidate > local_now else _at(local_now.date() + timedelta(1), clock, tz)
        )
    if len(parts) != 2 or (clock := _clock(parts[1])) is None:
        return None
    day = _day(parts[0], local_now.date())
    return None if day is None else _at(day, clock, tz)


def _day(word: str, today: date) -> date | None:
    if word in _DAY_WORDS:
        return today + timedelta(days=_DAY_WORDS[word])
    for index, name in enumerate(_WEEKDAYS):
        if len(word) >= 3 and name.startswith(word):
            return today + timedelta(days=(index - today.weekday()) % 7 or 7)
    try:
        return date.fromisoformat(word)
    except ValueError:
        return None


def _clock(word: str) -> time | None:
    match = _CLOCK.match(word)
    return None if match is None else time(int(match["h"]), int(match["m"]))


def _at(day: date, clock: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, clock, tzinfo=tz)


def _parse_iso(cleaned: str, tz: ZoneInfo) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(cleaned.upper().replace(" ", "T", 1))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tz)


def parse_money(text: str) -> int:
    """Cents in ``text``: ``25``, ``$25``, ``12.50``, ``12,5``."""
    match = _MONEY.match(text.strip())
    if match is None:
        raise InputError(f'"{text.strip()}" is not an amount; write it like 25 or 12.50.')
    cents = int(match["whole"]) * 100 + int((match["frac"] or "0").ljust(2, "0"))
    if cents <= 0:
        raise InputError("The amount must be more than zero; write it like 25 or 12.50.")
    return cents


def timezone_choices(typed: str, *, limit: int = 25) -> list[str]:
    """Time zone names containing what the member typed, best matches first, for autocomplete."""
    needle = typed.strip().lower().replace(" ", "_")
    names = sorted(available_timezones())
    starts = [name for name in names if name.lower().startswith(needle)]
    contains = [name for name in names if needle in name.lower() and name not in starts]
    return (starts + contains)[:limit]
