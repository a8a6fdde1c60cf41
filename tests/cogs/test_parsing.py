from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from cogs.parsing import (
    InputError,
    format_duration,
    parse_duration,
    parse_money,
    parse_start,
    timezone_choices,
    zone,
)

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 11, 28, 18, 0, tzinfo=UTC)  # a Saturday, 18:00 in London


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("90", 90),
        ("90m", 90),
        ("2h", 120),
        ("2h30m", 150),
        ("2h30", 150),
        ("1h 15m", 75),
        ("45min", 45),
    ],
)
def test_durations_are_read_in_minutes(text: str, minutes: int) -> None:
    assert parse_duration(text) == minutes


@pytest.mark.parametrize("text", ["", "abc", "2x", "h", "0m", "-5m", "1.5h", "30m2h"])
def test_bad_durations_say_how_to_write_one(text: str) -> None:
    with pytest.raises(InputError, match="90m, 2h or 2h30m"):
        parse_duration(text)


def test_durations_format_back_to_what_was_typed() -> None:
    assert [format_duration(m) for m in (150, 120, 45)] == ["2h30m", "2h", "45m"]


def test_a_clock_time_later_today_is_today() -> None:
    assert parse_start("19:30", now=NOW, tz=LONDON) == datetime(2026, 11, 28, 19, 30, tzinfo=UTC)


def test_a_clock_time_already_past_is_tomorrow() -> None:
    assert parse_start("17:00", now=NOW, tz=LONDON) == datetime(2026, 11, 29, 17, 0, tzinfo=UTC)


def test_tomorrow_and_weekdays_are_read_in_the_squadrons_zone() -> None:
    new_york = ZoneInfo("America/New_York")
    assert parse_start("tomorrow 20:00", now=NOW, tz=new_york) == datetime(
        2026, 11, 30, 1, 0, tzinfo=UTC
    )
    assert parse_start("wed 20:00", now=NOW, tz=LONDON) == datetime(2026, 12, 2, 20, 0, tzinfo=UTC)
    assert parse_start("saturday 20:00", now=NOW, tz=LONDON) == datetime(
        2026, 12, 5, 20, 0, tzinfo=UTC
    )


def test_iso_dates_use_their_own_offset_or_the_squadrons_zone() -> None:
    assert parse_start("2026-12-05 19:30", now=NOW, tz=LONDON) == datetime(
        2026, 12, 5, 19, 30, tzinfo=UTC
    )
    assert parse_start("2026-07-05 19:30", now=NOW, tz=LONDON) == datetime(
        2026, 7, 5, 18, 30, tzinfo=UTC
    )
    assert parse_start("2026-12-05T19:30:00+01:00", now=NOW, tz=LONDON) == datetime(
        2026, 12, 5, 18, 30, tzinfo=UTC
    )


@pytest.mark.parametrize("text", ["", "soon", "25:00", "tomorrow", "blursday 20:00", "19:75"])
def test_unreadable_times_say_how_to_write_one(text: str) -> None:
    with pytest.raises(InputError, match="19:30"):
        parse_start(text, now=NOW, tz=LONDON)


@pytest.mark.parametrize(
    ("text", "cents"), [("25", 2500), ("$25", 2500), ("12.50", 1250), ("12,5", 1250)]
)
def test_amounts_are_read_in_cents(text: str, cents: int) -> None:
    assert parse_money(text) == cents


@pytest.mark.parametrize("text", ["", "0", "abc", "12.345", "-5"])
def test_bad_amounts_say_how_to_write_one(text: str) -> None:
    with pytest.raises(InputError):
        parse_money(text)


def test_unknown_zones_are_refused_plainly() -> None:
    with pytest.raises(InputError, match="not a time zone"):
        zone("Mars/Olympus")
    assert zone("Europe/Berlin") == ZoneInfo("Europe/Berlin")


def test_timezone_choices_put_prefix_matches_first_and_stay_within_discords_limit() -> None:
    choices = timezone_choices("europe/l")
    assert choices[0].startswith("Europe/L")
    assert "Europe/London" in choices
    assert len(timezone_choices("")) == 25
    assert "America/New_York" in timezone_choices("new york")
