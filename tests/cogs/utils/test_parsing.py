from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain import settings as squadron_settings
from bot.domain.settings import SettingsError, parse_setting, time_zones
from cogs.utils import parsing
from cogs.utils.parsing import (
    MAX_TEXT,
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


@pytest.mark.parametrize(
    "text",
    ["", "abc", "2x", "h", "0m", "-5m", "1.5h", "30m2h", "²", "2h³", "١٢m", "２h", "1" * 41],
)
def test_bad_durations_say_how_to_write_one(text: str) -> None:
    with pytest.raises(InputError, match="90m, 2h or 2h30m"):
        parse_duration(text)


def test_long_durations_are_read_so_the_booking_rules_can_name_the_allowed_range() -> None:
    assert parse_duration("99999h") == 99999 * 60
    assert parse_duration("1000000") == 1_000_000


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_typed_duration_is_minutes_or_a_plain_refusal(text: str) -> None:
    try:
        assert parse_duration(text) > 0
    except InputError as refused:
        assert "90m, 2h or 2h30m" in str(refused)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=10**9))
def test_formatted_durations_read_back_as_the_same_minutes(minutes: int) -> None:
    assert parse_duration(format_duration(minutes)) == minutes


def test_durations_format_back_to_what_was_typed() -> None:
    assert [format_duration(m) for m in (150, 120, 45)] == ["2h30m", "2h", "45m"]


def test_a_clock_time_later_today_is_today() -> None:
    assert parse_start("19:30", now=NOW, tz=LONDON) == datetime(2026, 11, 28, 19, 30, tzinfo=UTC)


def test_a_clock_time_already_past_is_tomorrow() -> None:
    assert parse_start("17:00", now=NOW, tz=LONDON) == datetime(2026, 11, 29, 17, 0, tzinfo=UTC)


def test_todays_weekday_before_its_time_is_today() -> None:
    assert parse_start("sat 20:00", now=NOW, tz=LONDON) == datetime(2026, 11, 28, 20, 0, tzinfo=UTC)


@pytest.mark.parametrize("clock", ["18:00", "17:59"])
def test_todays_weekday_at_or_after_its_time_is_a_week_on(clock: str) -> None:
    hour, minute = map(int, clock.split(":"))
    assert parse_start(f"sat {clock}", now=NOW, tz=LONDON) == datetime(
        2026, 12, 5, hour, minute, tzinfo=UTC
    )


def test_tomorrow_and_weekdays_are_read_in_the_squadrons_zone() -> None:
    new_york = ZoneInfo("America/New_York")
    assert parse_start("tomorrow 20:00", now=NOW, tz=new_york) == datetime(
        2026, 11, 30, 1, 0, tzinfo=UTC
    )
    assert parse_start("wed 20:00", now=NOW, tz=LONDON) == datetime(2026, 12, 2, 20, 0, tzinfo=UTC)


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


def test_an_explicit_offset_may_be_written_after_a_space() -> None:
    assert parse_start("2026-12-05 19:30 -05:00", now=NOW, tz=LONDON) == datetime(
        2026, 12, 6, 0, 30, tzinfo=UTC
    )


@pytest.mark.parametrize(
    "text",
    ["", "soon", "25:00", "tomorrow", "blursday 20:00", "19:75", "١٩:٣٠", "2026-12-05 ١٩:٣٠"],
)
def test_unreadable_times_say_how_to_write_one(text: str) -> None:
    with pytest.raises(InputError, match="19:30"):
        parse_start(text, now=NOW, tz=LONDON)


SPRING = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)  # the day before London's clocks go forward


@pytest.mark.parametrize("text", ["sun 01:30", "2026-03-29 01:00", "tomorrow 01:59"])
def test_a_time_the_clocks_skip_is_refused_naming_the_gap(text: str) -> None:
    with pytest.raises(InputError) as refused:
        parse_start(text, now=SPRING, tz=LONDON)
    assert str(refused.value).endswith(
        "does not exist on Sunday 29 March 2026 in Europe/London: the clocks jump from "
        "01:00 to 02:00; pick a time outside that gap."
    )


def test_a_skipped_whole_day_is_named_with_its_dates() -> None:
    apia = ZoneInfo("Pacific/Apia")
    with pytest.raises(InputError, match="from 00:00 on Friday 30 December 2011 to 00:00 on "):
        parse_start("2011-12-30 10:00", now=datetime(2011, 12, 1, tzinfo=UTC), tz=apia)


def test_the_times_either_side_of_a_gap_are_accepted() -> None:
    assert parse_start("sun 00:59", now=SPRING, tz=LONDON) == datetime(
        2026, 3, 29, 0, 59, tzinfo=UTC
    )
    assert parse_start("sun 02:00", now=SPRING, tz=LONDON) == datetime(
        2026, 3, 29, 1, 0, tzinfo=UTC
    )


def test_a_time_that_happens_twice_asks_for_its_offset_and_either_offset_is_accepted() -> None:
    new_york = ZoneInfo("America/New_York")
    with pytest.raises(InputError) as refused:
        parse_start("2026-11-01 01:30", now=NOW, tz=new_york)
    message = str(refused.value)
    assert message.startswith(
        "01:30 happens twice on Sunday 1 November 2026 in America/New_York, because the clocks "
        "go back then; add the UTC offset to say which, e.g. 2026-11-01 01:30-04:00 for the first"
    )
    first = parse_start("2026-11-01 01:30-04:00", now=NOW, tz=new_york)
    second = parse_start("2026-11-01 01:30 -05:00", now=NOW, tz=new_york)
    assert (first, second) == (
        datetime(2026, 11, 1, 5, 30, tzinfo=UTC),
        datetime(2026, 11, 1, 6, 30, tzinfo=UTC),
    )


ZONES = st.sampled_from(sorted(time_zones().values())).map(ZoneInfo)
INSTANTS = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
)
CLOCKS = st.times().map(lambda t: time(t.hour, t.minute))


def _at_or_refused(text: str, now: datetime, tz: ZoneInfo) -> datetime | None:
    """The parsed instant, or None where a daylight-saving change made the time refused."""
    try:
        return parse_start(text, now=now, tz=tz)
    except InputError as refused:
        assert "clocks" in str(refused)
        return None


@settings(max_examples=300, deadline=None)
@given(now=INSTANTS, tz=ZONES, clock=CLOCKS)
def test_a_bare_clock_time_is_its_next_occurrence(now: datetime, tz: ZoneInfo, clock: time) -> None:
    start = _at_or_refused(f"{clock:%H:%M}", now, tz)
    if start is not None:
        local = start.astimezone(tz)
        assert local.time() == clock
        assert now < start <= now + timedelta(hours=27)
        assert local.date() - now.astimezone(tz).date() in (timedelta(0), timedelta(days=1))


@settings(max_examples=300, deadline=None)
@given(now=INSTANTS, tz=ZONES, clock=CLOCKS, weekday=st.integers(0, 6), length=st.integers(3, 9))
def test_a_weekday_is_the_next_such_day_still_ahead_within_a_week(
    now: datetime, tz: ZoneInfo, clock: time, weekday: int, length: int
) -> None:
    word = parsing._WEEKDAYS[weekday][:length]
    start = _at_or_refused(f"{word} {clock:%H:%M}", now, tz)
    if start is not None:
        local, local_now = start.astimezone(tz), now.astimezone(tz)
        assert (local.weekday(), local.time()) == (weekday, clock)
        days = (local.date() - local_now.date()).days
        assert 0 <= days <= 7
        assert days < 7 or local.time() <= local_now.time()
        assert days > 0 or local.time() > local_now.time()


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=40), now=INSTANTS)
def test_any_typed_start_is_an_instant_or_a_plain_refusal(text: str, now: datetime) -> None:
    try:
        assert parse_start(text, now=now, tz=LONDON).tzinfo is UTC
    except InputError as refused:
        assert str(refused).endswith(".")


@pytest.mark.parametrize(
    ("text", "cents"), [("25", 2500), ("$25", 2500), ("12.50", 1250), ("12,5", 1250)]
)
def test_amounts_are_read_in_cents(text: str, cents: int) -> None:
    assert parse_money(text) == cents


@pytest.mark.parametrize(
    "text", ["", "0", "abc", "12.345", "-5", "²", "１２", "1" * (MAX_TEXT + 1)]
)
def test_bad_amounts_say_how_to_write_one(text: str) -> None:
    with pytest.raises(InputError, match=r"25 or 12\.50"):
        parse_money(text)


def test_large_amounts_are_read_so_the_purchase_limits_can_name_the_largest() -> None:
    assert parse_money("1000000") == 100_000_000


def test_unknown_zones_are_refused_plainly() -> None:
    with pytest.raises(InputError, match="not a time zone"):
        zone("Mars/Olympus")
    assert zone("Europe/Berlin") == ZoneInfo("Europe/Berlin")
    assert zone(" europe/berlin ") == ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize("name", ["localtime", "Factory", "posixrules", "Europe/London/"])
def test_zones_the_settings_refuse_are_refused_for_bookings_too(name: str) -> None:
    with pytest.raises(SettingsError):
        parse_setting("timezone", name)
    with pytest.raises(InputError, match="not a time zone"):
        zone(name)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.sampled_from(sorted(time_zones().values())).flatmap(
            lambda name: st.sampled_from([name, name.lower(), name.upper(), f" {name} "])
        ),
        st.text(max_size=30),
    )
)
def test_a_zone_is_accepted_for_a_booking_exactly_when_the_settings_accept_it(name: str) -> None:
    try:
        setting = parse_setting("timezone", name)
    except SettingsError:
        with pytest.raises(InputError):
            zone(name)
    else:
        assert zone(name) == ZoneInfo(str(setting))


def test_timezone_choices_put_prefix_matches_first_and_stay_within_discords_limit() -> None:
    choices = timezone_choices("europe/l")
    assert choices[0].startswith("Europe/L")
    assert "Europe/London" in choices
    assert len(timezone_choices("")) == 25
    assert "America/New_York" in timezone_choices("new york")


def test_timezone_choices_do_not_read_the_time_zone_database_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    timezone_choices("")

    def unreadable() -> set[str]:
        raise AssertionError("the time zone database was read again")

    monkeypatch.setattr(squadron_settings, "available_timezones", unreadable)
    monkeypatch.setattr(parsing, "available_timezones", unreadable, raising=False)
    assert timezone_choices("europe/lon") == ["Europe/London"]
