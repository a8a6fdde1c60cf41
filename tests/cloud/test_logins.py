"""The ED server login pool: one login per mission, never one login for two missions, even
across two bot processes sharing one event store."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import eventstore
from bot.cloud.logins import LoginPool, login_stream
from eventstore import EventStore

LOGINS = ("/rr/ed-login/1", "/rr/ed-login/2")


@pytest.fixture
async def store() -> AsyncIterator[EventStore]:
    async with eventstore.open("memory://") as memory:
        yield memory


@pytest.fixture
async def two_processes(tmp_path: Path) -> AsyncIterator[tuple[LoginPool, LoginPool]]:
    """Two pools, each over its own store object on one SQLite file, as two bot processes."""
    url = f"sqlite:///{tmp_path}/rr.db"
    async with eventstore.open(url) as first, eventstore.open(url) as second:
        yield LoginPool(first, LOGINS), LoginPool(second, LOGINS)


async def test_each_mission_gets_its_own_login_until_none_is_left(store: EventStore) -> None:
    pool = LoginPool(store, LOGINS)

    first = await pool.acquire("mission-a")
    second = await pool.acquire("mission-b")
    third = await pool.acquire("mission-c")

    assert {first, second} == set(LOGINS)
    assert third is None


async def test_a_mission_asking_again_keeps_its_login(store: EventStore) -> None:
    pool = LoginPool(store, LOGINS)

    first = await pool.acquire("mission-a")
    again = await pool.acquire("mission-a")

    assert again == first
    assert await pool.holders() == {first: "mission-a"}


async def test_a_released_login_goes_to_the_next_mission(store: EventStore) -> None:
    pool = LoginPool(store, LOGINS)
    await pool.acquire("mission-a")
    held_by_b = await pool.acquire("mission-b")

    await pool.release("mission-b")
    await pool.release("mission-b")

    assert await pool.acquire("mission-c") == held_by_b


async def test_releasing_a_mission_without_a_login_changes_nothing(store: EventStore) -> None:
    pool = LoginPool(store, LOGINS)
    login = await pool.acquire("mission-a")

    await pool.release("mission-z")

    assert await pool.holders() == {login: "mission-a"}


async def test_the_streams_record_who_took_and_gave_back_each_login(store: EventStore) -> None:
    pool = LoginPool(store, LOGINS[:1])
    await pool.acquire("mission-a")
    await pool.release("mission-a")

    events = [event async for event in store.read(login_stream(LOGINS[0]))]

    assert [(e.type, e.data) for e in events] == [
        ("LoginAcquired", {"mission_id": "mission-a"}),
        ("LoginReleased", {"mission_id": "mission-a"}),
    ]
    assert all(e.metadata["source"] == "login_pool" for e in events)


async def test_two_processes_racing_never_hand_out_one_login_twice(
    two_processes: tuple[LoginPool, LoginPool],
) -> None:
    first, second = two_processes
    missions = [f"mission-{n}" for n in range(8)]

    results = await asyncio.gather(
        *((first if n % 2 else second).acquire(mission) for n, mission in enumerate(missions))
    )

    granted = {mission: login for mission, login in zip(missions, results, strict=True) if login}
    assert sorted(granted.values()) == sorted(LOGINS)
    assert await first.holders() == {login: mission for mission, login in granted.items()}


async def test_a_login_released_by_another_process_is_seen_as_free(
    two_processes: tuple[LoginPool, LoginPool],
) -> None:
    first, second = two_processes
    await first.acquire("mission-a")
    await first.acquire("mission-b")
    assert await first.acquire("mission-c") is None

    await second.release("mission-a")

    assert await first.acquire("mission-c") is not None


async def test_a_mission_released_by_another_process_than_the_one_that_acquired(
    two_processes: tuple[LoginPool, LoginPool],
) -> None:
    first, second = two_processes
    login = await first.acquire("mission-a")
    await second.acquire("mission-b")

    await second.release("mission-a")

    holders = await first.holders()
    assert login not in holders and list(holders.values()) == ["mission-b"]
