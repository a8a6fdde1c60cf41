import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.billing import Bill, bill, billable_start, credit_runs_out
from bot.domain.events import TerminationReason
from bot.domain.session import SessionState, SessionStatus

START = datetime(2026, 11, 28, 20, tzinfo=UTC)
"""The start the squadron asked for."""
LAUNCHED_AT = START - timedelta(minutes=30)
"""A booked server is launched the boot lead before its start."""
END = START + timedelta(hours=2)


def session(
    *,
    stop_at: datetime | None = None,
    reason: TerminationReason = "stopped_by_user",
    launched_at: datetime | None = LAUNCHED_AT,
    start_at: datetime = START,
    rate: int = 250,
    immediate: bool = False,
) -> SessionState:
    """A session ending: its stop requested at ``stop_at`` for ``reason``."""
    return SessionState(
        session_id="m1",
        guild_id="7",
        booked_by="42",
        status=SessionStatus.TERMINATING,
        size="medium",
        region="eu-central-1",
        start_at=start_at,
        end_at=start_at + timedelta(hours=2),
        duration_minutes=120,
        rate_cents_per_hour=rate,
        immediate=immediate,
        mission_name=None,
        attempt=1,
        instance_id=None if launched_at is None else "i-1",
        launched_at=launched_at,
        termination_reason=reason,
        stop_at=stop_at,
    )


@pytest.mark.parametrize(
    ("ran", "minutes", "cents"),
    [
        (timedelta(0), 0, 0),
        (timedelta(seconds=1), 1, 5),
        (timedelta(seconds=59), 1, 5),
        (timedelta(seconds=60), 1, 5),
        (timedelta(seconds=61), 2, 9),
        (timedelta(minutes=60), 60, 250),
        (timedelta(minutes=60, microseconds=1), 61, 255),
        (timedelta(hours=2), 120, 500),
    ],
)
def test_minutes_from_the_start_to_the_stop_are_rounded_up_and_priced_at_the_booked_rate(
    ran: timedelta, minutes: int, cents: int
) -> None:
    charged = bill(session(stop_at=START + ran), START + timedelta(hours=9))
    assert (charged.minutes, charged.cents) == (minutes, cents)


def test_boot_time_before_a_booked_start_is_not_billed() -> None:
    assert billable_start(session()) == START
    assert bill(session(stop_at=START - timedelta(minutes=5)), END) == Bill(0, 0, START - 5 * MIN)


def test_a_session_launched_after_its_start_is_billed_from_its_launch() -> None:
    late = START + timedelta(minutes=7, seconds=30)
    charged = bill(session(stop_at=START + timedelta(minutes=60), launched_at=late), END)
    assert charged.minutes == 53


def test_an_ec2_launch_time_in_whole_seconds_adds_no_minute_to_a_start_now() -> None:
    pressed = START + timedelta(milliseconds=700)
    launched = START  # EC2's LaunchTime, cut to the second, before the press of the button
    ran_to_end = session(
        start_at=pressed, launched_at=launched, stop_at=END + timedelta(hours=1), immediate=True
    )
    assert bill(ran_to_end, END + timedelta(hours=1)).minutes == 120


@pytest.mark.parametrize("late", [timedelta(0), timedelta(seconds=1), timedelta(hours=5)])
def test_nothing_is_billed_past_the_booked_end_however_late_the_stop(late: timedelta) -> None:
    charged = bill(session(stop_at=END + late, reason="booked_time_over"), END + late)
    assert charged == Bill(120, 500, END)


def test_the_bill_comes_from_the_recorded_stop_not_from_when_the_end_is_recorded() -> None:
    stopped = session(stop_at=START + timedelta(minutes=10))
    at_once = bill(stopped, START + timedelta(minutes=10, seconds=2))
    five_hours_later = bill(stopped, START + timedelta(hours=5, minutes=10))
    assert at_once == five_hours_later == Bill(10, 42, START + timedelta(minutes=10))


def test_an_extension_moves_the_cap_with_the_end() -> None:
    extended = replace(
        session(stop_at=END + timedelta(hours=3)), end_at=END + timedelta(minutes=30)
    )
    assert bill(extended, END + timedelta(hours=3)).minutes == 150


def test_a_session_that_never_launched_bills_nothing() -> None:
    charged = bill(session(launched_at=None, stop_at=START + timedelta(hours=1)), END)
    assert (charged.minutes, charged.cents) == (0, 0)


@pytest.mark.parametrize("reason", ["not_ready", "launch_failed"])
def test_a_server_that_never_served_a_game_bills_nothing(reason: TerminationReason) -> None:
    charged = bill(session(stop_at=START + timedelta(minutes=40), reason=reason), END)
    assert (charged.minutes, charged.cents) == (0, 0)


def test_an_end_is_never_dated_before_its_launch() -> None:
    raced = session(launched_at=START + timedelta(minutes=2), stop_at=START + timedelta(minutes=1))
    assert bill(raced, END) == Bill(0, 0, START + timedelta(minutes=2))


def test_a_lost_server_bills_to_the_last_time_it_was_known_running() -> None:
    charged = bill(
        session(stop_at=START + timedelta(minutes=30, seconds=10), reason="instance_lost"), END
    )
    assert (charged.minutes, charged.cents) == (31, 130)


def test_the_booked_rate_not_todays_price_is_billed() -> None:
    charged = bill(session(stop_at=START + timedelta(minutes=30), rate=600, reason="admin"), END)
    assert (charged.minutes, charged.cents) == (30, 300)


def test_a_free_size_bills_its_minutes_at_zero_cost() -> None:
    charged = bill(session(stop_at=START + timedelta(minutes=30), rate=0, reason="admin"), END)
    assert (charged.minutes, charged.cents) == (30, 0)


def test_credit_runs_out_counted_from_the_billable_start() -> None:
    assert credit_runs_out(session(), 125) == START + timedelta(minutes=30)
    assert credit_runs_out(session(launched_at=None), 125) is None
    assert credit_runs_out(session(rate=0), 125) is None


MIN = timedelta(minutes=1)
seconds = st.integers(min_value=-3 * 3600, max_value=15 * 3600).map(lambda s: timedelta(seconds=s))


@given(
    launch=seconds,
    stop=st.one_of(st.none(), seconds),
    extended=st.integers(0, 600),
    now_a=seconds,
    now_b=seconds,
)
def test_the_rule_never_bills_past_the_booked_time_nor_depends_on_when_the_end_is_recorded(
    launch: timedelta,
    stop: timedelta | None,
    extended: int,
    now_a: timedelta,
    now_b: timedelta,
) -> None:
    booked = replace(
        session(launched_at=START + launch, stop_at=None if stop is None else START + stop),
        end_at=END + extended * MIN,
    )
    first = bill(booked, END + abs(now_a))
    assert 0 <= first.minutes <= 120 + extended
    assert first.cents == -(-first.minutes * 250 // 60)
    if stop is not None:
        assert bill(booked, END + abs(now_b)) == first
        expected = (min(START + stop, booked.end_at) - max(START + launch, START)) / MIN
        assert first.minutes == max(0, math.ceil(expected))
    if stop is not None and stop >= booked.end_at - START and launch <= timedelta(0):
        assert first.minutes == 120 + extended
