"""Stream snapshots on every backend: a cold load reads the snapshot and the events after it."""

import json
from collections.abc import AsyncIterator, Callable

import pytest

from eventstore import EventStore, NewEvent, Repository, Snapshots, StoredEvent

EVERY = 10
SCHEMA = "total/1"


def evolve(total: int, event: StoredEvent) -> int:
    return total + int(event.data["n"])


def encode(total: int) -> bytes:
    return json.dumps({"schema": SCHEMA, "total": total}).encode()


async def decode(stream_id: str, data: bytes) -> int | None:
    document = json.loads(data)
    return int(document["total"]) if document["schema"] == SCHEMA else None


def add(n: int) -> Callable[[int], list[NewEvent]]:
    return lambda _: [NewEvent("Added", {"n": n})]


class ReadCounter:
    """Counts the events the store hands out from ``read``."""

    def __init__(self, store: EventStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self.events = 0
        read = store.read

        async def counted(stream_id: str, after_version: int = 0) -> AsyncIterator[StoredEvent]:
            async for event in read(stream_id, after_version):
                self.events += 1
                yield event

        monkeypatch.setattr(store, "read", counted)


def repository(store: EventStore) -> Repository[int]:
    return Repository(store, evolve, 0, snapshots=Snapshots(store, encode, decode, every=EVERY))


async def test_a_cold_load_reads_the_snapshot_and_the_events_after_it(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = repository(store)
    for n in range(1, 26):
        await writer.execute("s", add(n))
    reads = ReadCounter(store, monkeypatch)

    total, version = await repository(store).load("s")

    assert (total, version) == (sum(range(1, 26)), 25)
    assert reads.events == 5
    checkpoint = await store.load_checkpoint("snapshot#s")
    assert checkpoint is not None and checkpoint.data.startswith(b"20\n")


async def test_a_long_fold_is_saved_as_a_snapshot_by_the_load_itself(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(1, 24):
        await store.append("s", n - 1, [NewEvent("Added", {"n": n})])
    await repository(store).load("s")
    reads = ReadCounter(store, monkeypatch)

    assert await repository(store).load("s") == (sum(range(1, 24)), 23)
    assert reads.events == 0


@pytest.mark.parametrize(
    "saved", [b"20\n" + json.dumps({"schema": "total/0", "total": -1}).encode(), b"garbage"]
)
async def test_a_snapshot_of_other_code_or_unreadable_is_ignored_and_rebuilt(
    store: EventStore, monkeypatch: pytest.MonkeyPatch, saved: bytes
) -> None:
    for n in range(1, 26):
        await store.append("s", n - 1, [NewEvent("Added", {"n": n})])
    await store.save_checkpoint("snapshot#s", saved)
    reads = ReadCounter(store, monkeypatch)

    assert await repository(store).load("s") == (sum(range(1, 26)), 25)

    assert reads.events == 25
    checkpoint = await store.load_checkpoint("snapshot#s")
    assert checkpoint is not None and checkpoint.data.startswith(b"25\n")


def test_snapshots_are_taken_every_one_event_or_more(store: EventStore) -> None:
    with pytest.raises(ValueError, match="every one event or more"):
        Snapshots(store, encode, decode, every=0)
