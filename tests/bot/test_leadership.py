"""The lease between processes, on every backend (two store objects on one SQLite file or one
DynamoDB table on a moto server, as two processes have): one acts, the others wait and take
over once its lease expires; a deposed process's fenced appends are refused."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import eventstore
from bot.leadership import FencedStore, Leadership
from eventstore import EventStore, LeaseLost, NewEvent
from tests.bot.leases import Tracked, walk
from tests.fakes.clock import FakeClock
from tests.fakes.moto_server import FAKE_AWS_ENV

START = datetime(2026, 11, 28, 18, 0, tzinfo=UTC)
TERM = timedelta(seconds=15)
RENEW_EVERY = timedelta(seconds=5)
RETRY_EVERY = timedelta(seconds=1)
STEP = timedelta(milliseconds=500)
EVENT = NewEvent(type="Noted", data={"by": "test"})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture(params=["memory", "sqlite", "dynamodb"])
async def stores(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[list[Tracked]]:
    """Two processes' stores over one engine (memory has only one object to share)."""
    if request.param == "memory":
        shared = eventstore.open("memory://", clock=clock.now)
        opened: list[EventStore] = [shared, shared]
    else:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path}/rr.db"
        else:
            endpoint = request.getfixturevalue("moto_endpoint")
            table = f"rr-lease-{uuid.uuid4().hex[:12]}"
            region = FAKE_AWS_ENV["AWS_DEFAULT_REGION"]
            url = f"dynamodb://{table}?region={region}&endpoint_url={endpoint}"
        opened = [eventstore.open(url, clock=clock.now), eventstore.open(url, clock=clock.now)]
    yield [Tracked(store) for store in opened]
    for store in {id(store): store for store in opened}.values():
        await store.close()


def leadership(store: FencedStore, clock: FakeClock, owner: str) -> Leadership:
    return Leadership(
        store, clock, owner=owner, term=TERM, renew_every=RENEW_EVERY, retry_every=RETRY_EVERY
    )


async def test_one_process_becomes_active_and_the_other_stays_standby(
    stores: list[Tracked], clock: FakeClock
) -> None:
    first, second = leadership(stores[0], clock, "a"), leadership(stores[1], clock, "b")

    assert await first.try_acquire() is True
    assert await second.try_acquire() is False
    assert (first.role, second.role) == ("active", "standby")
    assert stores[0].fence == first.lease and stores[1].fence is None


async def test_the_standby_takes_over_within_the_term_once_the_active_stops_renewing(
    stores: list[Tracked], clock: FakeClock
) -> None:
    first, second = leadership(stores[0], clock, "a"), leadership(stores[1], clock, "b")
    await first.try_acquire()
    holding = asyncio.create_task(first.hold())
    waiting = asyncio.create_task(second.acquire())
    await walk(clock, START + 3 * TERM, stores[0], STEP)
    assert second.role == "standby"  # renewed all along

    paused_at = clock.now()
    holding.cancel()  # the active process is paused (or killed): it renews no more
    while not waiting.done():
        await walk(clock, clock.now() + STEP, stores[1], STEP)

    assert second.role == "active"
    assert second.lease is not None and first.lease is not None
    assert second.lease.token == first.lease.token + 1
    assert clock.now() - paused_at <= TERM + RETRY_EVERY


async def test_a_deposed_process_late_append_is_refused_and_writes_nothing(
    stores: list[Tracked], clock: FakeClock
) -> None:
    first, second = leadership(stores[0], clock, "a"), leadership(stores[1], clock, "b")
    await first.try_acquire()
    await stores[0].append("notes#1", 0, [EVENT])
    await clock.advance(TERM)
    assert await second.try_acquire() is True

    with pytest.raises(LeaseLost):
        await stores[0].append("notes#1", 1, [EVENT])

    assert [event.version async for event in stores[1].read("notes#1")] == [1]
    assert await stores[1].append("notes#1", 1, [EVENT]) == 2


async def test_renewing_after_a_takeover_ends_the_term_with_the_reason(
    stores: list[Tracked], clock: FakeClock
) -> None:
    first, second = leadership(stores[0], clock, "a"), leadership(stores[1], clock, "b")
    await first.try_acquire()
    await clock.advance(TERM)
    await second.try_acquire()

    holding = asyncio.create_task(first.hold())
    await walk(clock, clock.now() + RENEW_EVERY, stores[0], STEP)
    why = await holding

    assert "another process took the lease over" in why
    assert first.role == "standby" and first.lost == why


async def test_a_standby_writes_without_a_fence_while_another_process_is_active(
    stores: list[Tracked], clock: FakeClock
) -> None:
    first, second = leadership(stores[0], clock, "a"), leadership(stores[1], clock, "b")
    await first.try_acquire()
    await second.try_acquire()

    assert await stores[1].append("payments#1", 0, [EVENT]) == 1


async def test_a_released_lease_is_taken_at_once_with_a_new_token(
    stores: list[Tracked], clock: FakeClock
) -> None:
    first, second = leadership(stores[0], clock, "a"), leadership(stores[1], clock, "b")
    await first.try_acquire()

    await first.release()

    assert await second.try_acquire() is True
    with pytest.raises(LeaseLost):
        await stores[0].append("notes#1", 0, [EVENT])
