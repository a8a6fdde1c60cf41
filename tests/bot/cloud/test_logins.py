"""The ED server login pool: one login per mission, never one login for two missions, even
across two bot processes sharing one event store."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import eventstore
from bot.cloud.logins import LoginPool, login_stream
from eventstore import EventStore, NewEvent

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
        for store in (first, second):
            # One at a time: a connection opening while another switches the new file to WAL
            # finds it locked (SQLite does not wait on that lock).
            await anext(store.read(login_stream(LOGINS[0])), None)
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


async def test_two_processes_acquiring_for_one_mission_at_once_hand_it_one_login(
    two_processes: tuple[LoginPool, LoginPool],
) -> None:
    """Each round is released through one process, so the other's cached logins go stale."""
    first, second = two_processes

    for round_ in range(6):
        mission = f"mission-{round_}"
        racers = (first, second) if round_ % 2 else (second, first)

        granted = await asyncio.gather(*(pool.acquire(mission) for pool in racers))
        held = await first.holders()
        await racers[round_ % 2].release(mission)

        assert granted[0] is not None and granted[0] == granted[1]
        assert held == {granted[0]: mission}
        assert await second.holders() == {}


async def test_releasing_a_mission_gives_back_every_login_it_holds(store: EventStore) -> None:
    for login in LOGINS:
        await store.append(
            login_stream(login), 0, [NewEvent("LoginAcquired", {"mission_id": "mission-a"})]
        )
    pool = LoginPool(store, LOGINS)

    await pool.release("mission-a")

    assert await pool.holders() == {}


async def test_a_mission_that_gave_its_login_back_can_take_one_again(
    two_processes: tuple[LoginPool, LoginPool],
) -> None:
    first, second = two_processes
    await first.acquire("mission-a")
    await second.release("mission-a")

    again = await first.acquire("mission-a")

    assert again is not None
    assert await second.holders() == {again: "mission-a"}
