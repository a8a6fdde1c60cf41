from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.mission import MissionState, MissionStatus, bill

LAUNCHED_AT = datetime(2026, 11, 28, 19, 40, 0, 500_000, tzinfo=UTC)


def mission(launched_at: datetime | None = LAUNCHED_AT, rate: int = 250) -> MissionState:
    start = datetime(2026, 11, 28, 20, tzinfo=UTC)
    return MissionState(
        mission_id="m1",
        guild_id="7",
        booked_by="42",
        status=MissionStatus.TERMINATING,
        size="medium",
        region="eu-central-1",
        start_at=start,
        end_at=start + timedelta(hours=2),
        duration_minutes=120,
        rate_cents_per_hour=rate,
        immediate=False,
        mission_name=None,
        attempt=1,
        instance_id=None if launched_at is None else "i-1",
        launched_at=launched_at,
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
        (timedelta(hours=12), 720, 3000),
    ],
)
def test_minutes_run_from_launch_are_rounded_up_and_priced_at_the_booked_rate(
    ran: timedelta, minutes: int, cents: int
) -> None:
    assert bill(mission(), LAUNCHED_AT + ran, "stopped_by_user") == (minutes, cents)


def test_an_end_before_the_launch_bills_nothing() -> None:
    assert bill(mission(), LAUNCHED_AT - timedelta(seconds=5), "admin") == (0, 0)


def test_a_mission_that_never_launched_bills_nothing() -> None:
    ended_at = LAUNCHED_AT + timedelta(hours=1)
    assert bill(mission(launched_at=None), ended_at, "stopped_by_user") == (0, 0)


@pytest.mark.parametrize("reason", ["not_ready", "launch_failed"])
def test_a_server_that_never_became_usable_bills_nothing(reason: str) -> None:
    assert bill(mission(), LAUNCHED_AT + timedelta(minutes=40), reason) == (0, 0)


def test_a_lost_instance_bills_to_the_last_time_it_was_known_running() -> None:
    last_seen = LAUNCHED_AT + timedelta(minutes=30, seconds=10)
    assert bill(mission(), last_seen, "instance_lost") == (31, 130)


@pytest.mark.parametrize(
    "reason", ["stopped_by_user", "booked_time_over", "out_of_credit", "admin", "instance_lost"]
)
def test_every_reason_of_a_used_server_bills_the_time_run(reason: str) -> None:
    assert bill(mission(), LAUNCHED_AT + timedelta(minutes=90), reason) == (90, 375)


def test_the_booked_rate_not_todays_price_is_billed() -> None:
    assert bill(mission(rate=600), LAUNCHED_AT + timedelta(minutes=30), "admin") == (30, 300)


def test_a_free_size_bills_its_minutes_at_zero_cost() -> None:
    assert bill(mission(rate=0), LAUNCHED_AT + timedelta(minutes=30), "admin") == (30, 0)
