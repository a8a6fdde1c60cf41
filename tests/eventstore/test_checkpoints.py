"""Checkpoints, on every backend: a named blob of any size, versioned by save, the latest
loaded whole (DynamoDB chunks it under its 400 KB item limit)."""

import asyncio
import random

import pytest

from eventstore import EventStore
from tests.eventstore.conftest import OpenStore
from tests.eventstore.support import collect


def blob(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


async def test_no_checkpoint_until_one_is_saved(store: EventStore) -> None:
    assert await store.load_checkpoint("view") is None


async def test_the_latest_save_is_loaded_with_its_version(store: EventStore) -> None:
    assert await store.save_checkpoint("view", b"first") == 1
    assert await store.save_checkpoint("view", b"second") == 2
    assert await store.save_checkpoint("other", b"") == 1

    latest = await store.load_checkpoint("view")
    empty = await store.load_checkpoint("other")

    assert latest is not None and (latest.name, latest.version, latest.data) == (
        "view",
        2,
        b"second",
    )
    assert empty is not None and (empty.version, empty.data) == (1, b"")
    assert await collect(store.read_all()) == []


@pytest.mark.parametrize("size", [400 * 1024, 350 * 1024 * 3, 2 * 1024 * 1024 + 7])
async def test_a_checkpoint_far_over_an_item_round_trips_byte_for_byte(
    store: EventStore, size: int
) -> None:
    small, large = blob(10, seed=1), blob(size, seed=size)
    await store.save_checkpoint("view", small)

    assert await store.save_checkpoint("view", large) == 2
    loaded = await store.load_checkpoint("view")

    assert loaded is not None and loaded.data == large
    assert await store.save_checkpoint("view", small) == 3
    again = await store.load_checkpoint("view")
    assert again is not None and again.data == small


async def test_a_checkpoint_survives_reopening_the_store(
    open_store: OpenStore, backend: str
) -> None:
    if backend == "memory":
        pytest.skip("a memory store lives only as long as its object")
    store = await open_store()
    data = blob(900 * 1024)
    await store.save_checkpoint("view", data)
    await store.close()

    loaded = await (await open_store()).load_checkpoint("view")

    assert loaded is not None and (loaded.version, loaded.data) == (1, data)


async def test_saves_racing_from_two_processes_each_get_a_version_and_the_last_wins(
    open_store: OpenStore, backend: str
) -> None:
    stores = [await open_store()] * 2 if backend == "memory" else [await open_store() for _ in "ab"]
    datas = [blob(500 * 1024, seed=n) for n in range(4)]

    versions = await asyncio.gather(
        *(stores[n % 2].save_checkpoint("view", data) for n, data in enumerate(datas))
    )
    loaded = await stores[1].load_checkpoint("view")

    assert sorted(versions) == [1, 2, 3, 4]
    assert loaded is not None and loaded.version == 4
    assert loaded.data == datas[versions.index(4)]


@pytest.mark.parametrize(("name", "data"), [("", b"x"), ("view", "text")])
async def test_a_malformed_checkpoint_is_refused(
    store: EventStore, name: str, data: object
) -> None:
    with pytest.raises(ValueError, match="checkpoint"):
        await store.save_checkpoint(name, data)  # type: ignore[arg-type]
