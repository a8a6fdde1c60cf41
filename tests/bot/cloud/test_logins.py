"""The ED server login pool: one login per session, never one login for two sessions, even
across two bot processes sharing one event store."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import eventstore
from bot.cloud.logins import StoredLoginPool, login_stream
from eventstore import EventStore, NewEvent

LOGINS = ("/rr/ed-login/1", "/rr/ed-login/2")


@pytest.fixture
async def store() -> AsyncIterator[EventStore]:
    async with eventstore.open("memory://") as memory:
        yield memory


@pytest.fixture
async def two_processes(tmp_path: Path) -> AsyncIterator[tuple[StoredLoginPool, StoredLoginPool]]:
    """Two pools, each over its own store object on one SQLite file, as two bot processes."""
    url = f"sqlite:///{tmp_path}/rr.db"
    async with eventstore.open(url) as first, eventstore.open(url) as second:
        for store in (first, second):
            # One at a time: a connection opening while another switches the new file to WAL
            # finds it locked (SQLite does not wait on that lock).
            await anext(store.read(login_stream(LOGINS[0])), None)
        yield StoredLoginPool(first, LOGINS), StoredLoginPool(second, LOGINS)


async def test_each_session_gets_its_own_login_until_none_is_left(store: EventStore) -> None:
    pool = StoredLoginPool(store, LOGINS)

    first = await pool.acquire("session-a")
    second = await pool.acquire("session-b")
    third = await pool.acquire("session-c")

    assert {first, second} == set(LOGINS)
    assert third is None


async def test_a_session_asking_again_keeps_its_login(store: EventStore) -> None:
    pool = StoredLoginPool(store, LOGINS)

    first = await pool.acquire("session-a")
    again = await pool.acquire("session-a")

    assert again == first
    assert await pool.holders() == {first: "session-a"}


async def test_a_released_login_goes_to_the_next_session(store: EventStore) -> None:
    pool = StoredLoginPool(store, LOGINS)
    await pool.acquire("session-a")
    held_by_b = await pool.acquire("session-b")

    await pool.release("session-b")
    await pool.release("session-b")

    assert await pool.acquire("session-c") == held_by_b


async def test_releasing_a_session_without_a_login_changes_nothing(store: EventStore) -> None:
    pool = StoredLoginPool(store, LOGINS)
    login = await pool.acquire("session-a")

    await pool.release("session-z")

    assert await pool.holders() == {login: "session-a"}


async def test_the_streams_record_who_took_and_gave_back_each_login(store: EventStore) -> None:
    pool = StoredLoginPool(store, LOGINS[:1])
    await pool.acquire("session-a")
    await pool.release("session-a")

    events = [event async for event in store.read(login_stream(LOGINS[0]))]

    assert [(e.type, e.data) for e in events] == [
        ("LoginAcquired", {"session_id": "session-a"}),
        ("LoginReleased", {"session_id": "session-a"}),
    ]
    assert all(e.metadata["source"] == "login_pool" for e in events)


async def test_two_processes_racing_never_hand_out_one_login_twice(
    two_processes: tuple[StoredLoginPool, StoredLoginPool],
) -> None:
    first, second = two_processes
    sessions = [f"session-{n}" for n in range(8)]

    results = await asyncio.gather(
        *((first if n % 2 else second).acquire(session) for n, session in enumerate(sessions))
    )

    granted = {session: login for session, login in zip(sessions, results, strict=True) if login}
    assert sorted(granted.values()) == sorted(LOGINS)
    assert await first.holders() == {login: session for session, login in granted.items()}


async def test_a_login_released_by_another_process_is_seen_as_free(
    two_processes: tuple[StoredLoginPool, StoredLoginPool],
) -> None:
    first, second = two_processes
    await first.acquire("session-a")
    await first.acquire("session-b")
    assert await first.acquire("session-c") is None

    await second.release("session-a")

    assert await first.acquire("session-c") is not None


async def test_a_session_released_by_another_process_than_the_one_that_acquired(
    two_processes: tuple[StoredLoginPool, StoredLoginPool],
) -> None:
    first, second = two_processes
    login = await first.acquire("session-a")
    await second.acquire("session-b")

    await second.release("session-a")

    holders = await first.holders()
    assert login not in holders and list(holders.values()) == ["session-b"]


async def test_two_processes_acquiring_for_one_session_at_once_hand_it_one_login(
    two_processes: tuple[StoredLoginPool, StoredLoginPool],
) -> None:
    """Each round is released through one process, so the other's cached logins go stale."""
    first, second = two_processes

    for round_ in range(6):
        session = f"session-{round_}"
        racers = (first, second) if round_ % 2 else (second, first)

        granted = await asyncio.gather(*(pool.acquire(session) for pool in racers))
        held = await first.holders()
        await racers[round_ % 2].release(session)

        assert granted[0] is not None and granted[0] == granted[1]
        assert held == {granted[0]: session}
        assert await second.holders() == {}


async def test_releasing_a_session_gives_back_every_login_it_holds(store: EventStore) -> None:
    for login in LOGINS:
        await store.append(
            login_stream(login), 0, [NewEvent("LoginAcquired", {"session_id": "session-a"})]
        )
    pool = StoredLoginPool(store, LOGINS)

    await pool.release("session-a")

    assert await pool.holders() == {}


async def test_a_session_that_gave_its_login_back_can_take_one_again(
    two_processes: tuple[StoredLoginPool, StoredLoginPool],
) -> None:
    first, second = two_processes
    await first.acquire("session-a")
    await second.release("session-a")

    again = await first.acquire("session-a")

    assert again is not None
    assert await second.holders() == {again: "session-a"}


async def test_a_login_taken_before_sessions_were_called_sessions_is_still_held(
    store: EventStore,
) -> None:
    old = NewEvent("LoginAcquired", {"mission_id": "session-a"})
    await store.append(login_stream(LOGINS[0]), 0, [old])
    pool = StoredLoginPool(store, LOGINS)
    assert await pool.holders() == {LOGINS[0]: "session-a"}

    await pool.release("session-a")

    assert await pool.holders() == {}
