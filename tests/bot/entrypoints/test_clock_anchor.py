"""The sandbox's fast clock carries on across restarts instead of starting again from real time."""

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import eventstore
from bot.clock import ScaledClock
from bot.clock_anchor import ANCHORED, STREAM, carry_clock
from bot.config import Settings
from bot.entrypoints.app import App

pytestmark = pytest.mark.e2e

REAL_START = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


class Wall:
    """Real (wall-clock) time, moved by the test."""

    def __init__(self) -> None:
        self.now = REAL_START

    def __call__(self) -> datetime:
        return self.now


async def started(store: eventstore.EventStore, scale: float, wall: Wall) -> ScaledClock:
    """A process starting: a new clock (from real time, as `make_clock` builds it), carried on."""
    clock = ScaledClock(scale, origin=wall.now)
    await carry_clock(store, clock, wall)
    return clock


def close_to(actual: datetime, expected: datetime) -> bool:
    """Within the few real seconds the test itself takes, at 120×."""
    return abs(actual - expected) < timedelta(minutes=5)


async def test_a_restart_carries_the_fast_clock_on_at_its_scale(tmp_path: Path) -> None:
    wall = Wall()
    store = eventstore.open(f"sqlite:///{tmp_path / 'rr.db'}")
    try:
        first = await started(store, 120, wall)
        assert close_to(first.now(), REAL_START)

        wall.now += timedelta(seconds=40)  # rr stopped for 40 real seconds: 80 sandbox minutes
        second = await started(store, 120, wall)

        anchors = [event async for event in store.read(STREAM)]
    finally:
        await store.close()

    assert close_to(second.now(), REAL_START + timedelta(minutes=80))
    assert [event.type for event in anchors] == [ANCHORED]  # same scale: no new anchor


async def test_a_new_scale_carries_on_from_the_old_one_and_is_anchored(tmp_path: Path) -> None:
    wall = Wall()
    store = eventstore.open(f"sqlite:///{tmp_path / 'rr.db'}")
    try:
        await started(store, 120, wall)
        wall.now += timedelta(seconds=30)  # 60 minutes at 120×
        slower = await started(store, 60, wall)
        assert close_to(slower.now(), REAL_START + timedelta(minutes=60))

        wall.now += timedelta(seconds=10)  # 10 minutes at 60×
        again = await started(store, 60, wall)

        anchors = [event.data["scale"] async for event in store.read(STREAM)]
    finally:
        await store.close()

    assert close_to(again.now(), REAL_START + timedelta(minutes=70))
    assert anchors == [120, 60]


async def test_the_sandbox_app_does_not_go_back_in_time_after_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith(("RR_", "DISCORD_", "STRIPE_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        event_store=f"sqlite:///{tmp_path / 'rr.db'}",
        web_port=0,
        local_instances_dir=tmp_path / "instances",
        sandbox_time_scale=3600,  # an hour of sandbox time per real second
    )
    first = App(settings)
    await first.start()
    await first.stop()
    stopped_at = first.clock.now()

    second = App(settings)
    await second.start()
    try:
        resumed_at = second.clock.now()
    finally:
        await second.stop()

    assert resumed_at >= stopped_at
