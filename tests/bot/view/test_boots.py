"""The measured boot lead: a high percentile of recent boots per size and region, within its
bounds, folded by the view from the sessions' launch and ready times."""

import json
import math
from datetime import timedelta
from random import Random

from hypothesis import given
from hypothesis import strategies as st

from bot.view import ScheduleConfig
from bot.view.boots import BOOTS_KEPT, MIN_BOOTS, PERCENTILE, BootLeadRule, BootTimes, boot_lead
from tests.bot.view.history import START, History, view_of
from tests.fakes.clock import FakeClock

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
RULE = BootLeadRule(default=30 * MINUTE, floor=10 * MINUTE, ceiling=40 * MINUTE)

boots = st.lists(st.integers(min_value=0, max_value=3 * 3600), max_size=BOOTS_KEPT)


@given(boots)
def test_the_lead_is_the_default_until_enough_boots_then_stays_within_its_bounds(
    seconds: list[int],
) -> None:
    lead = boot_lead(seconds, RULE)

    assert lead.boots == len(seconds)
    if len(seconds) < MIN_BOOTS:
        assert (lead.lead, lead.measured, lead.within) == (RULE.default, None, 0)
    else:
        assert RULE.floor <= lead.lead <= RULE.ceiling
        assert lead.lead % MINUTE == timedelta(0)


@given(boots.filter(lambda seconds: len(seconds) >= MIN_BOOTS))
def test_the_measured_boot_is_one_that_at_least_nine_in_ten_were_ready_within(
    seconds: list[int],
) -> None:
    lead = boot_lead(seconds, RULE)

    assert lead.measured is not None
    high = int(lead.measured.total_seconds())
    assert high in seconds
    assert lead.within == sum(1 for took in seconds if took <= high)
    assert lead.within >= math.ceil(len(seconds) * PERCENTILE / 100)
    assert sum(1 for took in seconds if took < high) < math.ceil(len(seconds) * PERCENTILE / 100)
    if RULE.floor < lead.lead < RULE.ceiling:
        assert lead.lead - MINUTE < lead.measured <= lead.lead


@given(st.lists(st.integers(min_value=0, max_value=7200), max_size=3 * BOOTS_KEPT), st.randoms())
def test_the_window_keeps_the_latest_boots_once_each_in_any_order_and_as_plain_data(
    seconds: list[int], rng: Random
) -> None:
    boots = [
        (f"s{n}", START + n * MINUTE, timedelta(seconds=took)) for n, took in enumerate(seconds)
    ]
    shuffled = boots * 2
    rng.shuffle(shuffled)
    times = BootTimes()
    for session_id, ready_at, took in shuffled:
        times.record("medium", "eu-west-1", session_id, ready_at, took)
    times.record("large", "eu-west-1", "other", START, timedelta(seconds=1))

    assert times.recent("medium", "eu-west-1") == seconds[-BOOTS_KEPT:]
    assert times.recent("large", "eu-west-1") == [1]
    assert times.recent("medium", "us-east-1") == []
    copied = BootTimes.from_rows(json.loads(json.dumps(times.rows())))
    assert copied.rows() == times.rows()


def test_a_boot_rounds_up_to_whole_seconds_and_a_clock_skewed_one_counts_as_none() -> None:
    times = BootTimes()
    assert times.record("small", "eu", "a", START, timedelta(seconds=61.2))
    assert times.record("small", "eu", "b", START + MINUTE, -MINUTE)
    assert not times.record("small", "eu", "a", START, timedelta(seconds=61.2))

    assert times.recent("small", "eu") == [62, 0]


async def boot(history: History, clock: FakeClock, session_id: str, took: timedelta) -> None:
    await history.book(session_id, start_in=None, minutes=60)
    await history.launch(session_id)
    await clock.advance(took)
    await history.ready(session_id)


async def test_the_view_measures_each_ready_session_once_by_its_size_and_region() -> None:
    clock = FakeClock(START)
    history = History(clock)
    await history.grant(1_000_000)
    for number, minutes in enumerate((12, 9, 14, 11, 13, 10, 12, 13, 11, 16)):
        await boot(history, clock, f"s{number}", minutes * MINUTE)
    await history.book("never-ready", start_in=None, minutes=60)
    await history.launch("never-ready")

    view = view_of(history.events)
    again = view_of(history.events + history.events)

    lead = view.boot_lead("small", "eu")
    assert (lead.lead, lead.measured, lead.boots, lead.within) == (
        14 * MINUTE,
        14 * MINUTE,
        10,
        9,
    )
    assert again.boot_lead("small", "eu") == lead
    assert view.boot_lead("large", "eu") == boot_lead((), ScheduleConfig().boot_lead_rule)
