"""The cached command path: warm commands read nothing; conflicts re-read and decide again."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import pytest

from eventstore import (
    AlreadyAppended,
    ConcurrencyError,
    EventStore,
    NewEvent,
    Repository,
    StoredEvent,
)
from eventstore.codec import Batch
from eventstore.lease import Lease
from eventstore.memory import MemoryEventStore
from tests.eventstore.support import collect

State = tuple[int, ...]


def evolve(state: State, event: StoredEvent) -> State:
    return (*state, event.data["n"])


def add(n: int) -> Callable[[State], list[NewEvent]]:
    return lambda state: [NewEvent("Added", {"n": n})]


class CountingStore(MemoryEventStore):
    """A memory store that counts stream reads and appends, and can interfere before appends."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.appends = 0
        self.before_append: Callable[[], Awaitable[None]] | None = None

    def read(self, stream_id: str, after_version: int = 0) -> AsyncIterator[StoredEvent]:
        self.reads += 1
        return super().read(stream_id, after_version)

    async def append_many(
        self,
        batches: Iterable[Batch],
        *,
        idempotency_key: str | None = None,
        fence: Lease | None = None,
    ) -> list[StoredEvent]:
        self.appends += 1
        if self.before_append is not None:
            await self.before_append()
        return await super().append_many(batches, idempotency_key=idempotency_key, fence=fence)


@pytest.fixture
def counting() -> CountingStore:
    return CountingStore()


@pytest.fixture
def repo(counting: CountingStore) -> Repository[State]:
    return Repository(counting, evolve, ())


async def test_load_folds_the_stream_and_gives_its_version(
    counting: CountingStore, repo: Repository[State]
) -> None:
    await counting.append("s", 0, [NewEvent("Added", {"n": 1}), NewEvent("Added", {"n": 2})])

    assert await repo.load("s") == ((1, 2), 2)
    assert await repo.load("new") == ((), 0)


async def test_a_warm_command_reads_nothing_and_makes_one_append(
    counting: CountingStore, repo: Repository[State]
) -> None:
    await repo.execute("s", add(1))
    reads_after_first_command = counting.reads

    for n in (2, 3, 4):
        state, stored = await repo.execute("s", add(n))

    assert counting.reads == reads_after_first_command == 1
    assert counting.appends == 4
    assert state == (1, 2, 3, 4)
    assert [(e.version, e.data["n"]) for e in stored] == [(4, 4)]


async def test_a_conflict_reads_the_missed_events_and_decides_again(store: EventStore) -> None:
    repo: Repository[State] = Repository(store, evolve, ())
    await repo.execute("s", add(1))
    await store.append("s", 1, [NewEvent("Added", {"n": 2})])
    seen: list[State] = []

    def decide(state: State) -> list[NewEvent]:
        seen.append(state)
        return [NewEvent("Added", {"n": sum(state)})]

    state, stored = await repo.execute("s", decide)

    assert seen == [(1,), (1, 2)]
    assert state == (1, 2, 3)
    assert [(e.version, e.data["n"]) for e in stored] == [(3, 3)]
    assert [e.data["n"] for e in await collect(store.read("s"))] == [1, 2, 3]
    assert await repo.load("s") == ((1, 2, 3), 3)


async def test_conflicts_are_retried_a_bounded_number_of_times(
    counting: CountingStore, repo: Repository[State]
) -> None:
    await repo.execute("s", add(1))

    async def another_writer_gets_there_first() -> None:
        version = len(await collect(MemoryEventStore.read(counting, "s")))
        await MemoryEventStore.append_many(counting, [("s", version, [NewEvent("X", {"n": 0})])])

    counting.before_append = another_writer_gets_there_first
    decisions = 0

    def decide(state: State) -> list[NewEvent]:
        nonlocal decisions
        decisions += 1
        return [NewEvent("Added", {"n": 9})]

    with pytest.raises(ConcurrencyError):
        await repo.execute("s", decide, retries=2)

    assert decisions == 3
    counting.before_append = None
    state, _ = await repo.execute("s", add(5))
    assert state == (1, 0, 0, 0, 5)


async def test_an_empty_decision_appends_nothing_and_returns_the_current_state(
    counting: CountingStore, repo: Repository[State]
) -> None:
    await repo.execute("s", add(1))

    assert await repo.execute("s", lambda state: []) == ((1,), [])
    assert counting.appends == 1


async def test_command_metadata_is_merged_under_each_events_own(
    counting: CountingStore, repo: Repository[State]
) -> None:
    def decide(state: State) -> list[NewEvent]:
        return [NewEvent("Added", {"n": 1}, {"user": "event-says"}), NewEvent("Added", {"n": 2})]

    _, stored = await repo.execute("s", decide, metadata={"user": "u1", "guild": "g1"})

    assert [dict(e.metadata) for e in stored] == [
        {"user": "event-says", "guild": "g1"},
        {"user": "u1", "guild": "g1"},
    ]


async def test_concurrent_commands_on_one_stream_in_one_process_never_conflict(
    counting: CountingStore, repo: Repository[State]
) -> None:
    results = await asyncio.gather(*(repo.execute("s", add(n)) for n in range(20)))

    assert counting.appends == 20
    assert sorted(e.data["n"] for _, stored in results for e in stored) == list(range(20))
    assert (await repo.load("s"))[1] == 20


async def test_remember_keeps_the_cache_warm_after_a_direct_atomic_append(
    counting: CountingStore, repo: Repository[State]
) -> None:
    await repo.execute("a", add(1))
    await repo.execute("b", add(2))
    reads = counting.reads

    stored = await counting.append_many(
        [("a", 1, [NewEvent("Added", {"n": 3})]), ("b", 1, [NewEvent("Added", {"n": 4})])]
    )
    repo.remember("a", stored)
    repo.remember("b", stored)

    assert await repo.load("a") == ((1, 3), 2)
    assert await repo.load("b") == ((2, 4), 2)
    assert counting.reads == reads


async def test_remembering_a_stream_this_process_created_caches_it_without_a_read(
    counting: CountingStore, repo: Repository[State]
) -> None:
    stored = await counting.append_many([("new", 0, [NewEvent("Added", {"n": 1})])])
    reads = counting.reads

    repo.remember("new", stored)

    assert await repo.load("new") == ((1,), 1)
    assert counting.reads == reads


async def test_remembering_events_that_do_not_follow_the_cache_forgets_the_stream(
    counting: CountingStore, repo: Repository[State]
) -> None:
    await repo.execute("s", add(1))
    await counting.append("s", 1, [NewEvent("Added", {"n": 2})])
    stored = await counting.append_many([("s", 2, [NewEvent("Added", {"n": 3})])])

    repo.remember("s", stored)

    assert await repo.load("s") == ((1, 2, 3), 3)


async def test_forget_makes_the_next_command_read_the_stream(
    counting: CountingStore, repo: Repository[State]
) -> None:
    await repo.execute("s", add(1))
    reads = counting.reads

    repo.forget("s")
    await repo.execute("s", add(2))

    assert counting.reads == reads + 1


async def test_the_cache_keeps_only_the_most_recently_used_streams(
    counting: CountingStore,
) -> None:
    repo: Repository[State] = Repository(counting, evolve, (), max_streams=2)
    for stream in ("a", "b", "c"):
        await repo.execute(stream, add(1))
    reads = counting.reads

    await repo.execute("c", add(2))
    await repo.execute("b", add(2))
    assert counting.reads == reads
    await repo.execute("a", add(2))
    assert counting.reads == reads + 1


async def test_a_repeated_idempotency_key_reaches_the_caller(repo: Repository[State]) -> None:
    await repo.execute("s", add(1), idempotency_key="interaction-1")

    with pytest.raises(AlreadyAppended):
        await repo.execute("s", add(1), idempotency_key="interaction-1")

    assert await repo.load("s") == ((1,), 1)


async def test_a_failing_decision_leaves_the_stream_usable(repo: Repository[State]) -> None:
    def refuse(state: Any) -> list[NewEvent]:
        raise PermissionError("not allowed")

    with pytest.raises(PermissionError):
        await repo.execute("s", refuse)

    assert (await repo.execute("s", add(1)))[0] == (1,)
