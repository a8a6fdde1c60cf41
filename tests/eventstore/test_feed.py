"""FeedReader: each event once, in version order within its stream, resuming across restarts."""

import uuid
from datetime import timedelta

import eventstore
from eventstore import EventStore, FeedReader, NewEvent
from eventstore.memory import MemoryEventStore
from tests.eventstore.conftest import REGION
from tests.eventstore.support import FakeClock, collect, keys


def event(n: int) -> NewEvent:
    return NewEvent("Happened", {"n": n})


async def test_accepting_a_later_event_first_delivers_the_missed_ones_before_it() -> None:
    store = MemoryEventStore()
    await store.append("s", 0, [event(1), event(2), event(3)])
    third = (await collect(store.read("s", after_version=2)))[0]
    feed = FeedReader(store)

    assert keys(await feed.accept([third])) == [("s", 1), ("s", 2), ("s", 3)]
    assert await feed.accept([third]) == []
    assert await collect(feed.read()) == []


async def test_events_applied_directly_are_not_delivered_again_by_the_feed() -> None:
    store = MemoryEventStore()
    feed = FeedReader(store)
    await store.append("other", 0, [event(1)])
    own = await store.append_many([("mine", 0, [event(2)])])

    assert keys(await feed.accept(own)) == [("mine", 1)]
    assert keys(await collect(feed.read())) == [("other", 1)]


async def test_a_reader_restarted_from_its_saved_position_and_versions_continues_exactly(
    store: EventStore,
) -> None:
    first = FeedReader(store)
    await store.append("a", 0, [event(1), event(2)])
    await store.append("b", 0, [event(3)])
    await collect(first.read())
    await store.append("a", 2, [event(4)])
    await store.append("c", 0, [event(5)])

    restarted = FeedReader(store, after=first.position, versions=first.versions)

    assert keys(await collect(restarted.read())) == [("a", 3), ("c", 1)]


async def test_a_dynamodb_feed_out_of_version_order_is_put_back_in_order(
    moto_endpoint: str, clock: FakeClock
) -> None:
    """A writer whose clock runs behind stamps a later version with an earlier time."""
    url = f"dynamodb://feed-{uuid.uuid4().hex}?region={REGION}&endpoint_url={moto_endpoint}"
    behind = FakeClock(clock.now - timedelta(seconds=2))
    async with (
        eventstore.open(url, clock=clock) as store,
        eventstore.open(url, clock=behind) as late,
    ):
        await store.append("s", 0, [event(1)])
        await late.append("s", 1, [event(2)])

        raw = keys(await collect(store.read_all()))
        ordered = keys(await collect(FeedReader(store).read()))

    assert raw == [("s", 2), ("s", 1)]
    assert ordered == [("s", 1), ("s", 2)]


async def test_a_reader_limited_to_prefixes_skips_and_remembers_no_other_stream() -> None:
    store = MemoryEventStore()
    await store.append("keep#1", 0, [event(1)])
    await store.append("other#1", 0, [event(2), event(3)])
    await store.append("keep#2", 0, [event(4)])
    feed = FeedReader(store, prefixes=("keep#",))

    assert keys(await collect(feed.read())) == [("keep#1", 1), ("keep#2", 1)]
    assert feed.versions == {"keep#1": 1, "keep#2": 1}
    assert feed.position == 4


async def test_a_forgotten_stream_is_delivered_again_from_its_first_version() -> None:
    store = MemoryEventStore()
    await store.append("a", 0, [event(1), event(2)])
    feed = FeedReader(store)
    await collect(feed.read())
    feed.forget(["a"])
    await store.append("a", 2, [event(3)])

    assert keys(await collect(feed.read())) == [("a", 1), ("a", 2), ("a", 3)]


async def test_a_complete_reader_takes_an_unknown_stream_up_from_version_one() -> None:
    store = MemoryEventStore()
    await store.append("known", 0, [event(1)])
    await store.append("dropped", 0, [event(2)])
    first = FeedReader(store)
    await collect(first.read())
    await store.append("dropped", 1, [event(3)])

    partial = FeedReader(store, after=first.position, versions={"known": 1})
    complete = FeedReader(store, after=first.position, versions={"known": 1}, complete=True)

    assert keys(await collect(partial.read())) == [("dropped", 2)]
    assert keys(await collect(complete.read())) == [("dropped", 1), ("dropped", 2)]
