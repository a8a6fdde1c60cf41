"""Leases and fencing tokens, on every backend: one holder at a time, takeover only after
expiry, and a deposed holder's fenced append refused atomically."""

import asyncio
from datetime import timedelta

import pytest

from eventstore import AlreadyAppended, EventStore, LeaseLost, NewEvent
from tests.eventstore.conftest import OpenStore
from tests.eventstore.support import FakeClock, collect, keys

TERM = timedelta(seconds=30)


def event(n: int = 0) -> NewEvent:
    return NewEvent("Happened", {"n": n})


@pytest.fixture
async def clocked(open_store: OpenStore, clock: FakeClock) -> EventStore:
    return await open_store(clock)


async def two_processes(open_store: OpenStore, clock: FakeClock, backend: str) -> list[EventStore]:
    """Two store objects on one engine, as two bot processes would have (memory has one)."""
    first = await open_store(clock)
    if backend == "memory":
        return [first, first]
    return [first, await open_store(clock)]


async def test_one_holder_at_a_time_and_takeover_only_after_expiry(
    open_store: OpenStore, clock: FakeClock, backend: str
) -> None:
    a, b = await two_processes(open_store, clock, backend)

    held = await a.acquire_lease("scheduler", "a", TERM)
    assert held is not None
    assert (held.name, held.owner, held.token) == ("scheduler", "a", 1)
    assert held.expires_at == clock.now + TERM
    assert await b.acquire_lease("scheduler", "b", TERM) is None
    clock.advance(TERM - timedelta(milliseconds=1))
    assert await b.acquire_lease("scheduler", "b", TERM) is None

    clock.advance(timedelta(milliseconds=1))
    taken = await b.acquire_lease("scheduler", "b", TERM)

    assert taken is not None and (taken.owner, taken.token) == ("b", 2)
    assert await a.acquire_lease("scheduler", "a", TERM) is None
    with pytest.raises(LeaseLost) as raised:
        await a.renew_lease(held, TERM)
    assert (raised.value.name, raised.value.token) == ("scheduler", 1)


async def test_renewing_keeps_the_token_and_moves_the_expiry(
    clocked: EventStore, clock: FakeClock
) -> None:
    held = await clocked.acquire_lease("scheduler", "a", TERM)
    assert held is not None
    clock.advance(timedelta(seconds=20))

    renewed = await clocked.renew_lease(held, TERM)
    clock.advance(timedelta(seconds=20))

    assert (renewed.token, renewed.expires_at) == (held.token, clock.now + timedelta(seconds=10))
    assert await clocked.acquire_lease("scheduler", "b", TERM) is None
    assert await clocked.append("s", 0, [event()], fence=renewed) == 1


async def test_a_lease_not_renewed_in_time_is_lost_even_when_nobody_took_it(
    clocked: EventStore, clock: FakeClock
) -> None:
    held = await clocked.acquire_lease("scheduler", "a", TERM)
    assert held is not None
    clock.advance(TERM)

    with pytest.raises(LeaseLost):
        await clocked.append("s", 0, [event()], fence=held)
    with pytest.raises(LeaseLost):
        await clocked.renew_lease(held, TERM)

    again = await clocked.acquire_lease("scheduler", "a", TERM)
    assert again is not None and again.token == 2
    assert await collect(clocked.read_all()) == []


async def test_a_released_lease_is_taken_at_once_with_a_new_token(
    open_store: OpenStore, clock: FakeClock, backend: str
) -> None:
    a, b = await two_processes(open_store, clock, backend)
    held = await a.acquire_lease("scheduler", "a", TERM)
    assert held is not None

    await a.release_lease(held)
    taken = await b.acquire_lease("scheduler", "b", TERM)
    await a.release_lease(held)

    assert taken is not None and taken.token == 2
    assert await a.acquire_lease("scheduler", "a", TERM) is None
    assert await b.append("s", 0, [event()], fence=taken) == 1


async def test_leases_of_different_names_are_independent(clocked: EventStore) -> None:
    first = await clocked.acquire_lease("scheduler", "a", TERM)
    second = await clocked.acquire_lease("reconcile", "b", TERM)

    assert first is not None and second is not None
    assert (first.token, second.token) == (1, 1)


async def test_a_deposed_holder_cannot_append_with_its_old_fencing_token(
    open_store: OpenStore, clock: FakeClock, backend: str
) -> None:
    """The holder pauses past its lease; the other process takes over and writes; the paused
    one wakes up and tries to act on the authority it had: refused, and nothing is written."""
    a, b = await two_processes(open_store, clock, backend)
    old = await a.acquire_lease("scheduler", "a", TERM)
    assert old is not None
    await a.append("s", 0, [event(1)], fence=old)
    clock.advance(TERM + timedelta(seconds=1))
    new = await b.acquire_lease("scheduler", "b", TERM)
    assert new is not None and new.token > old.token
    await b.append("s", 1, [event(2)], fence=new)

    for attempt in (
        a.append("s", 2, [event(3)], fence=old),
        a.append("t", 0, [event(3)], fence=old),
        a.append_many([("t", 0, [event(3)]), ("s", 2, [event(4)])], fence=old),
        a.append("t", 0, [event(3)], fence=old, idempotency_key="k"),
    ):
        with pytest.raises(LeaseLost):
            await attempt

    assert keys(await collect(b.read_all())) == [("s", 1), ("s", 2)]
    assert await b.append("t", 0, [event(5)], fence=new, idempotency_key="k") == 1


async def test_a_used_idempotency_key_is_reported_before_a_lost_lease(
    clocked: EventStore, clock: FakeClock
) -> None:
    held = await clocked.acquire_lease("scheduler", "a", TERM)
    assert held is not None
    await clocked.append("s", 0, [event()], fence=held, idempotency_key="k")
    clock.advance(TERM)

    with pytest.raises(AlreadyAppended):
        await clocked.append("s", 1, [event()], fence=held, idempotency_key="k")


async def test_processes_racing_for_a_free_lease_get_it_exactly_once(
    open_store: OpenStore, clock: FakeClock, backend: str
) -> None:
    stores = await two_processes(open_store, clock, backend)

    granted = await asyncio.gather(
        *(stores[n % 2].acquire_lease("scheduler", f"p{n}", TERM) for n in range(10))
    )

    winners = [lease for lease in granted if lease is not None]
    assert len(winners) == 1 and winners[0].token == 1


async def test_fencing_tokens_only_grow_across_takeovers(
    open_store: OpenStore, clock: FakeClock, backend: str
) -> None:
    stores = await two_processes(open_store, clock, backend)
    tokens = []
    for turn in range(4):
        lease = await stores[turn % 2].acquire_lease("scheduler", f"p{turn % 2}", TERM)
        assert lease is not None
        tokens.append(lease.token)
        if turn % 2:
            await stores[1].release_lease(lease)
        else:
            clock.advance(TERM)

    assert tokens == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("name", "owner", "duration", "problem"),
    [
        ("", "a", TERM, "lease name"),
        ("x", "", TERM, "lease owner"),
        ("x", "a", timedelta(0), "positive"),
        ("x", "a", 30, "positive"),
    ],
)
async def test_malformed_lease_requests_are_refused(
    store: EventStore, name: str, owner: str, duration: object, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        await store.acquire_lease(name, owner, duration)  # type: ignore[arg-type]
