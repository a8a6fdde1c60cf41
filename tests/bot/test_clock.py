import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.clock import ScaledClock, SystemClock
from tests.fakes.clock import FakeClock

START = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)


async def test_fake_sleeper_wakes_only_when_time_reaches_its_deadline() -> None:
    clock = FakeClock(START)
    sleeper = asyncio.ensure_future(clock.sleep_until(START + timedelta(minutes=5)))
    await clock.advance(timedelta(minutes=4, seconds=59))
    assert not sleeper.done()
    await clock.advance(timedelta(seconds=1))
    assert sleeper.done()


async def test_fake_sleepers_wake_in_deadline_order_seeing_their_own_deadline() -> None:
    clock = FakeClock(START)
    woke: list[tuple[str, datetime]] = []

    async def sleeper(name: str, minutes: int) -> None:
        await clock.sleep_until(START + timedelta(minutes=minutes))
        woke.append((name, clock.now()))

    tasks = [asyncio.ensure_future(sleeper(n, m)) for n, m in [("late", 9), ("early", 3)]]
    await asyncio.sleep(0)
    await clock.advance(timedelta(hours=1))
    assert woke == [("early", START + timedelta(minutes=3)), ("late", START + timedelta(minutes=9))]
    assert clock.now() == START + timedelta(hours=1)
    await asyncio.gather(*tasks)


async def test_fake_sleeper_that_goes_back_to_sleep_within_the_step_is_woken_again() -> None:
    clock = FakeClock(START)
    ticks: list[datetime] = []

    async def ticker() -> None:
        for _ in range(3):
            await clock.sleep_until(clock.now() + timedelta(minutes=10))
            ticks.append(clock.now())

    task = asyncio.ensure_future(ticker())
    await asyncio.sleep(0)
    await clock.advance(timedelta(minutes=25))
    assert ticks == [START + timedelta(minutes=10), START + timedelta(minutes=20)]
    assert clock.deadlines() == [START + timedelta(minutes=30)]
    await clock.advance(timedelta(minutes=5))
    await task


async def test_fake_sleep_until_a_past_time_returns_at_once() -> None:
    clock = FakeClock(START)
    await clock.sleep_until(START - timedelta(seconds=1))
    assert clock.deadlines() == []


async def test_fake_clock_refuses_to_go_backwards() -> None:
    clock = FakeClock(START)
    with pytest.raises(ValueError, match="backwards"):
        await clock.set(START - timedelta(seconds=1))


async def test_cancelled_fake_sleeper_is_forgotten() -> None:
    clock = FakeClock(START)
    sleeper = asyncio.ensure_future(clock.sleep_until(START + timedelta(minutes=1)))
    await asyncio.sleep(0)
    sleeper.cancel()
    await asyncio.sleep(0)
    assert clock.deadlines() == []
    await clock.advance(timedelta(minutes=2))


def test_scaled_clock_starts_at_its_origin_and_runs_forward() -> None:
    clock = ScaledClock(3600, origin=START)
    first = clock.now()
    assert START <= first < START + timedelta(hours=1)
    assert clock.now() >= first


def test_scaled_clock_refuses_a_scale_that_is_not_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        ScaledClock(0)


async def test_scaled_clock_sleeps_the_scaled_down_real_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slept: list[float] = []
    clock = ScaledClock(60, origin=START)
    monkeypatch.setattr(clock, "now", lambda: START)

    async def record(seconds: float) -> None:
        slept.append(seconds)
        monkeypatch.setattr(clock, "now", lambda: START + timedelta(hours=1))

    monkeypatch.setattr(asyncio, "sleep", record)
    await clock.sleep_until(START + timedelta(hours=1))
    assert slept == [60.0]


async def test_system_clock_tells_aware_utc_time_and_does_not_wait_for_the_past() -> None:
    clock = SystemClock()
    now = clock.now()
    assert now.tzinfo is UTC
    await asyncio.wait_for(clock.sleep_until(now - timedelta(hours=1)), timeout=1)
