"""Reading what members type: durations such as ``90m`` or ``2h30m``, start times such as ``19:30``,
``tomorrow 20:00`` or an ISO date, and money such as ``$25`` or ``12.50``.

Each parser returns a typed value or raises ``InputError``, whose text is one plain sentence saying
what was wrong and what to type instead; the cogs show it to the member as it is. Digits are ASCII
digits only. Numbers may have any length here (up to ``MAX_TEXT`` characters of text): whether a
duration or an amount is allowed is the rules' to say, and they name the allowed range.
"""

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.domain.settings import time_zone_name, time_zones


class InputError(ValueError):
    """What a member typed cannot be read; the message says how to write it."""


MAX_TEXT = 40
"""The longest duration or amount read; longer text is refused before any number is made of it."""

_DURATION = re.compile(r"(?:(?P<h>[0-9]+)\s*h)?\s*(?:(?P<m>[0-9]+)\s*(?:m|min)?)?")
_CLOCK = re.compile(r"(?P<h>[01]?[0-9]|2[0-3])[:.h](?P<m>[0-5][0-9])")
_MONEY = re.compile(r"\$?\s*(?P<whole>[0-9]+)(?:[.,](?P<frac>[0-9]{1,2}))?")
_SPACED_OFFSET = re.compile(r"\s+(?=[+-][0-9]{2}:?[0-9]{2}$)")
_DAY_WORDS = {"today": 0, "tonight": 0, "tomorrow": 1}
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DURATION_HINT = "write it like 90m, 2h or 2h30m."
_START_HINT = "write it like 19:30, tomorrow 20:00 or 2026-12-05 19:30."


def parse_duration(text: str) -> int:
    """Minutes in ``text``: ``90``, ``90m``, ``2h``, ``2h30m``, ``2h30``, ``1h 15m``."""
    cleaned = text.strip().lower()
    if len(cleaned) > MAX_TEXT:
        raise InputError(f"That is too long to be a duration; {_DURATION_HINT}")
    match = _DURATION.fullmatch(cleaned)
    if not cleaned or match is None or not (match["h"] or match["m"]):
        raise InputError(f'"{text.strip()}" is not a duration; {_DURATION_HINT}')
    minutes = int(match["h"] or 0) * 60 + int(match["m"] or 0)
    if minutes <= 0:
        raise InputError(f"The duration must be longer than zero; {_DURATION_HINT}")
    return minutes


def format_duration(minutes: int) -> str:
    """``150`` → ``2h30m``; the inverse of ``parse_duration`` for display."""
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return f"{hours}h{rest:02d}m"
    return f"{hours}h" if hours else f"{rest}m"


def zone(name: str) -> ZoneInfo:
    """The IANA time zone called ``name``, by the same rule as the squadron's time zone setting."""
    canonical = time_zone_name(name)
    if canonical is None:
        raise InputError(
            f'"{name.strip()}" is not a time zone I know; pick one from the list, '
            "such as Europe/London or America/New_York."
        )
    return ZoneInfo(canonical)


def parse_start(text: str, *, now: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant meant by ``text`` in the squadron's zone ``tz``.

    Accepts ``19:30`` (today, or tomorrow when that time has already passed), ``tomorrow 20:00``,
    ``today 18:00``, a weekday such as ``sat 20:00`` (today when typed on a Saturday before 20:00,
    otherwise the coming Saturday, so at or after 20:00 one week on), ``2026-12-05 19:30`` and
    full ISO-8601 with an offset (which then wins over ``tz``). A local time that the clocks skip
    or pass twice at a daylight-saving change is refused; the second kind is accepted with its
    UTC offset.
    """
    cleaned = " ".join(text.strip().lower().split())
    if not cleaned:
        raise InputError(f"Give a start time; {_START_HINT}")
    local = _parse_words(cleaned, now.astimezone(tz).replace(tzinfo=None)) or _parse_iso(cleaned)
    if local is None:
        raise InputError(f'"{text.strip()}" is not a time I can read; {_START_HINT}')
    if local.tzinfo is not None:
        return local.astimezone(UTC)
    return _instant(local, tz)


def _parse_words(cleaned: str, wall_now: datetime) -> datetime | None:
    """The local wall time ``cleaned`` names, read against the local wall time ``wall_now``."""
    parts = cleaned.split(" ")
    if len(parts) == 1 and (clock := _clock(parts[0])) is not None:
        today = datetime.combine(wall_now.date(), clock)
        return today if today > wall_now else today + timedelta(days=1)
    if len(parts) != 2 or (clock := _clock(parts[1])) is None:
        return None
    day = _day(parts[0], wall_now, clock)
    return None if day is None else datetime.combine(day, clock)


def _day(word: str, wall_now: datetime, clock: time) -> date | None:
    today = wall_now.date()
    if word in _DAY_WORDS:
        return today + timedelta(days=_DAY_WORDS[word])
    for index, name in enumerate(_WEEKDAYS):
        if len(word) >= 3 and name.startswith(word):
            ahead = (index - today.weekday()) % 7
            if ahead == 0 and datetime.combine(today, clock) <= wall_now:
                ahead = 7
            return today + timedelta(days=ahead)
    try:
        return date.fromisoformat(word)
    except ValueError:
        return None


def _clock(word: str) -> time | None:
    match = _CLOCK.fullmatch(word)
    return None if match is None else time(int(match["h"]), int(match["m"]))


def _parse_iso(cleaned: str) -> datetime | None:
    """``2026-12-05 19:30``, with or without seconds and an offset (``+01:00``, ``Z``)."""
    joined = _SPACED_OFFSET.sub("", cleaned).upper().replace(" ", "T", 1)
    if not joined.isascii():
        return None
    try:
        return datetime.fromisoformat(joined)
    except ValueError:
        return None


def _instant(local: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant of the wall time ``local`` in ``tz``; refused where a daylight-saving
    change skips it or makes it happen twice."""
    first, second = local.replace(tzinfo=tz, fold=0), local.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first.astimezone(UTC)
    day = _day_name(local)
    if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == local:
        written = f"{local:%Y-%m-%d %H:%M}"
        raise InputError(
            f"{local:%H:%M} happens twice on {day} in {tz.key}, because the clocks go back then; "
            f"add the UTC offset to say which, e.g. {written}{_offset(first)} for the first "
            f"or {written}{_offset(second)} for the second."
        )
    starts, ends = _gap(first, second)
    jump = f"{starts:%H:%M} to {ends:%H:%M}"
    if starts.date() != ends.date():
        jump = f"{starts:%H:%M} on {_day_name(starts)} to {ends:%H:%M} on {_day_name(ends)}"
    raise InputError(
        f"{local:%H:%M} does not exist on {day} in {tz.key}: the clocks jump from {jump}; "
        "pick a time outside that gap."
    )


def _day_name(moment: datetime) -> str:
    return f"{moment:%A} {moment.day} {moment:%B %Y}"


def _gap(first: datetime, second: datetime) -> tuple[datetime, datetime]:
    """The wall times a spring-forward change skips, around the skipped ``first`` (read with the
    offset before the change) and ``second`` (read with the offset after it)."""
    before, after = first.utcoffset(), second.utcoffset()
    assert before is not None and after is not None
    low, high = second.astimezone(UTC), first.astimezone(UTC)  # the change lies in [low, high]
    tz = first.tzinfo
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(tz).utcoffset() == before:
            low = middle
        else:
            high = middle
    change = high.replace(microsecond=0, tzinfo=None)
    return change + before, change + after


def _offset(moment: datetime) -> str:
    offset = moment.utcoffset()
    assert offset is not None
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{rest:02d}"


def parse_money(text: str) -> int:
    """Cents in ``text``: ``25``, ``$25``, ``12.50``, ``12,5``."""
    cleaned = text.strip()
    if len(cleaned) > MAX_TEXT:
        raise InputError("That is too long to be an amount; write it like 25 or 12.50.")
    match = _MONEY.fullmatch(cleaned)
    if match is None:
        raise InputError(f'"{cleaned}" is not an amount; write it like 25 or 12.50.')
    cents = int(match["whole"]) * 100 + int((match["frac"] or "0").ljust(2, "0"))
    if cents <= 0:
        raise InputError("The amount must be more than zero; write it like 25 or 12.50.")
    return cents


def timezone_choices(typed: str, *, limit: int = 25) -> list[str]:
    """Time zone names containing what the member typed, best matches first, for autocomplete."""
    needle = typed.strip().lower().replace(" ", "_")
    names = time_zones().items()
    starts = [name for lower, name in names if lower.startswith(needle)]
    if len(starts) >= limit:
        return starts[:limit]
    contains = [name for lower, name in names if needle in lower and not lower.startswith(needle)]
    return (starts + contains)[:limit]
