"""The store contract, run against memory, SQLite and DynamoDB (moto over HTTP) alike."""

import asyncio
import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventstore import (
    AlreadyAppended,
    ConcurrencyError,
    EventStore,
    EventTooLarge,
    FeedReader,
    NewEvent,
)
from eventstore.codec import IDEMPOTENCY_KEY_TTL
from tests.eventstore.conftest import OpenStore
from tests.eventstore.support import FakeClock, collect, current_version, keys


def event(n: int = 0, **data: Any) -> NewEvent:
    return NewEvent("Happened", {"n": n, **data})


def assert_identical(actual: object, expected: object) -> None:
    """Equal and of the same types all the way down (so True is not 1, 1.0 is not 1)."""
    assert type(actual) is type(expected), (actual, expected)
    if isinstance(expected, dict):
        assert isinstance(actual, dict)
        assert list(actual) == list(expected)
        for key, value in expected.items():
            assert_identical(actual[key], value)
    elif isinstance(expected, list):
        assert isinstance(actual, list)
        assert len(actual) == len(expected)
        for item, value in zip(actual, expected, strict=True):
            assert_identical(item, value)
    elif isinstance(expected, float):
        assert isinstance(actual, float)
        assert math.copysign(1, actual) == math.copysign(1, expected)
        assert actual == expected
    else:
        assert actual == expected


async def test_appends_return_the_new_version_and_read_back_in_order(store: EventStore) -> None:
    assert await store.append("s", 0, [event(1), event(2)]) == 2
    assert await store.append("s", 2, [event(3)]) == 3

    events = await collect(store.read("s"))

    assert [(e.version, e.data["n"]) for e in events] == [(1, 1), (2, 2), (3, 3)]
    assert keys(await collect(store.read("s", after_version=1))) == [("s", 2), ("s", 3)]
    assert await collect(store.read("missing")) == []


async def test_stored_events_keep_type_ids_schema_version_and_recorded_time(
    open_store: OpenStore, clock: FakeClock
) -> None:
    clock.now = datetime(2026, 11, 28, 3, 15, 0, 123456, tzinfo=UTC)
    store = await open_store(clock)
    explicit = NewEvent("Renamed", {"to": "x"}, {"by": "u1"}, id="event-1", schema_version=3)

    stored = await store.append_many([("s", 0, [explicit, NewEvent("Happened", {})])])
    read = await collect(store.read("s"))

    assert read == stored
    first, second = read
    assert (first.type, first.id, first.schema_version, first.metadata) == (
        "Renamed",
        "event-1",
        3,
        {"by": "u1"},
    )
    assert second.schema_version == 1 and second.metadata == {}
    assert uuid.UUID(second.id).version == 4
    assert first.recorded_at == datetime(2026, 11, 28, 3, 15, 0, 123000, tzinfo=UTC)
    assert first.recorded_at.utcoffset() == timedelta(0)


async def test_a_stale_expected_version_raises_and_writes_nothing(store: EventStore) -> None:
    await store.append("s", 0, [event(1)])

    for stale in (0, 1):
        if stale == 1:
            await store.append("s", 1, [event(2)])
        with pytest.raises(ConcurrencyError) as raised:
            await store.append("s", stale, [event(99)])
        assert (raised.value.stream_id, raised.value.expected_version) == ("s", stale)

    assert [e.data["n"] for e in await collect(store.read("s"))] == [1, 2]


async def test_an_expected_version_ahead_of_the_stream_raises(store: EventStore) -> None:
    await store.append("s", 0, [event(1)])

    with pytest.raises(ConcurrencyError):
        await store.append("s", 2, [event(2)])
    with pytest.raises(ConcurrencyError):
        await store.append("s", 5, [event(2)], idempotency_key="k")
    with pytest.raises(ConcurrencyError) as raised:
        await store.append_many([("t", 0, [event(3)]), ("s", 3, [event(4)])])

    assert (raised.value.stream_id, raised.value.expected_version) == ("s", 3)
    assert keys(await collect(store.read_all())) == [("s", 1)]


async def test_a_store_that_never_saw_a_stream_refuses_an_append_ahead_of_it(
    open_store: OpenStore, backend: str
) -> None:
    """Another process wrote the stream: this one knows nothing of its head."""
    if backend == "memory":
        pytest.skip("a memory store is not shared between store objects")
    writer, other = await open_store(), await open_store()
    await writer.append("s", 0, [event(1)])

    with pytest.raises(ConcurrencyError):
        await other.append("s", 2, [event(2)])
    assert await other.append("s", 1, [event(2)]) == 2
    with pytest.raises(ConcurrencyError):
        await writer.append("s", 3, [event(3)])

    assert keys(await collect(writer.read("s"))) == [("s", 1), ("s", 2)]


async def test_repeating_a_write_that_landed_writes_nothing_and_returns_the_stored_events(
    open_store: OpenStore, clock: FakeClock
) -> None:
    store = await open_store(clock)
    single = [("s", 0, [NewEvent("A", {}, id="e1")])]
    several = [("s", 1, [NewEvent("B", {}, id="e2")]), ("t", 0, [NewEvent("C", {}, id="e3")])]
    first = await store.append_many(single)
    second = await store.append_many(several)
    clock.advance(timedelta(seconds=1))

    assert await store.append_many(single) == first
    assert await store.append_many(several) == second
    with pytest.raises(ConcurrencyError):
        await store.append_many([*single, ("u", 0, [event()])])
    assert keys(await collect(store.read_all())) == [("s", 1), ("s", 2), ("t", 1)]


async def test_fifty_concurrent_appenders_never_write_a_version_twice_or_lose_one(
    store: EventStore,
) -> None:
    """Each appender tries three times, re-reading the version after each conflict."""
    written: dict[int, int] = {}
    refusals: list[ConcurrencyError] = []

    async def appender(number: int) -> None:
        version = 0
        for _ in range(3):
            try:
                new_version = await store.append("race", version, [event(number)])
            except ConcurrencyError as error:
                refusals.append(error)
                version = await current_version(store, "race", version)
            else:
                assert new_version not in written, f"version {new_version} written twice"
                written[new_version] = number
                return

    await asyncio.gather(*(appender(number) for number in range(50)))

    events = await collect(store.read("race"))
    assert {e.version: e.data["n"] for e in events} == written
    assert [e.version for e in events] == list(range(1, len(events) + 1))
    assert len(events) >= 2
    assert len(refusals) >= 49
    assert all(error.expected_version < len(events) for error in refusals)


async def test_append_many_writes_all_streams_and_returns_their_events(store: EventStore) -> None:
    await store.append("b", 0, [event(1)])

    stored = await store.append_many(
        [("a", 0, [event(10), event(11)]), ("b", 1, [event(12)])], idempotency_key="k"
    )

    assert keys(stored) == [("a", 1), ("a", 2), ("b", 2)]
    assert await collect(store.read("a")) == stored[:2]
    assert (await collect(store.read("b")))[-1] == stored[2]


async def test_append_many_with_one_stale_stream_writes_nothing_anywhere(
    store: EventStore,
) -> None:
    await store.append("fresh", 0, [event(1)])
    await store.append("moved", 0, [event(1), event(2)])
    before = keys(await collect(store.read_all()))

    with pytest.raises(ConcurrencyError) as raised:
        await store.append_many(
            [("fresh", 1, [event(3)]), ("new", 0, [event(4)]), ("moved", 1, [event(5)])],
            idempotency_key="never-used",
        )

    assert (raised.value.stream_id, raised.value.expected_version) == ("moved", 1)
    assert keys(await collect(store.read_all())) == before
    assert await store.append("new", 0, [event(6)], idempotency_key="never-used") == 1


async def test_a_repeated_idempotency_key_writes_nothing_and_raises(store: EventStore) -> None:
    await store.append("s", 0, [event(1)], idempotency_key="stripe-evt-1")

    with pytest.raises(AlreadyAppended) as raised:
        await store.append("s", 1, [event(2)], idempotency_key="stripe-evt-1")
    with pytest.raises(AlreadyAppended):
        await store.append_many(
            [("other", 0, [event(3)]), ("s", 1, [event(4)])], idempotency_key="stripe-evt-1"
        )

    assert raised.value.idempotency_key == "stripe-evt-1"
    assert keys(await collect(store.read_all())) == [("s", 1)]


async def test_an_idempotency_key_is_remembered_for_seven_days_then_expires(
    open_store: OpenStore, clock: FakeClock
) -> None:
    store = await open_store(clock)
    await store.append("s", 0, [event(1)], idempotency_key="stripe-evt-1")
    clock.advance(IDEMPOTENCY_KEY_TTL - timedelta(milliseconds=1))

    with pytest.raises(AlreadyAppended):
        await store.append("s", 1, [event(2)], idempotency_key="stripe-evt-1")
    clock.advance(timedelta(milliseconds=1))
    assert await store.append("s", 1, [event(3)], idempotency_key="stripe-evt-1") == 2
    clock.advance(IDEMPOTENCY_KEY_TTL - timedelta(milliseconds=1))
    with pytest.raises(AlreadyAppended):
        await store.append("s", 2, [event(4)], idempotency_key="stripe-evt-1")

    assert timedelta(days=3) < IDEMPOTENCY_KEY_TTL, "Stripe retries for up to 3 days"
    assert [e.data["n"] for e in await collect(store.read("s"))] == [1, 3]


async def test_a_repeated_key_is_reported_even_when_the_version_is_also_stale(
    store: EventStore,
) -> None:
    await store.append("s", 0, [event(1)], idempotency_key="k")

    with pytest.raises(AlreadyAppended):
        await store.append("s", 0, [event(1)], idempotency_key="k")


async def test_concurrent_appends_with_one_key_write_exactly_once(store: EventStore) -> None:
    async def attempt(number: int) -> str:
        try:
            await store.append(f"s{number}", 0, [event(number)], idempotency_key="same")
        except AlreadyAppended:
            return "repeat"
        return "written"

    outcomes = await asyncio.gather(*(attempt(number) for number in range(20)))

    assert sorted(outcomes) == ["repeat"] * 19 + ["written"]
    written = await collect(store.read_all())
    assert len(written) == 1
    assert written[0].stream_id == f"s{outcomes.index('written')}"


async def test_read_all_delivers_every_event_after_concurrent_writes_to_many_streams(
    store: EventStore,
) -> None:
    async def writer(stream: int) -> None:
        for version in range(3):
            await store.append(f"s{stream}", version, [event(version)])

    await asyncio.gather(*(writer(stream) for stream in range(20)))

    delivered = keys(await collect(store.read_all()))
    assert sorted(delivered) == sorted((f"s{s}", v) for s in range(20) for v in (1, 2, 3))
    for stream in range(20):
        versions = [v for s, v in delivered if s == f"s{stream}"]
        assert versions == [1, 2, 3]


async def test_events_appended_together_come_out_of_the_feed_in_version_order(
    store: EventStore,
) -> None:
    await store.append("s", 0, [event(n) for n in range(30)])

    assert [e.version for e in await collect(store.read_all())] == list(range(1, 31))


async def test_read_all_resumes_after_a_position(
    open_store: OpenStore, clock: FakeClock, backend: str
) -> None:
    store = await open_store(clock)
    for stream in ("a", "b", "c"):
        await store.append(stream, 0, [event(1)])
        clock.advance(timedelta(minutes=1))
    first_pass = await collect(store.read_all())
    for stream in ("a", "d"):
        await store.append(stream, await current_version(store, stream), [event(2)])
        clock.advance(timedelta(minutes=1))

    resumed = keys(await collect(store.read_all(after=first_pass[1].position)))

    expected = [("c", 1), ("a", 2), ("d", 1)]
    if backend == "dynamodb":
        # At least once: the overlap window re-reads the event at the position itself.
        assert resumed == [("b", 1), *expected]
    else:
        assert resumed == expected


async def test_a_feed_reader_delivers_each_event_once_across_passes(store: EventStore) -> None:
    feed = FeedReader(store)
    await store.append("a", 0, [event(1), event(2)])
    first = keys(await collect(feed.read()))
    await store.append("b", 0, [event(3)])
    await store.append("a", 2, [event(4)])
    second = keys(await collect(feed.read()))
    third = keys(await collect(feed.read()))

    assert first == [("a", 1), ("a", 2)]
    assert second == [("b", 1), ("a", 3)]
    assert third == []


async def test_reopening_the_store_keeps_events_and_idempotency_keys(
    open_store: OpenStore, backend: str
) -> None:
    if backend == "memory":
        pytest.skip("a memory store lives only as long as its object")
    store = await open_store()
    await store.append("s", 0, [event(1, flag=True)], idempotency_key="k")
    await store.append_many([("s", 1, [event(2)]), ("t", 0, [event(3)])])
    before = await collect(store.read_all())
    await store.close()

    reopened = await open_store()

    assert await collect(reopened.read_all()) == before
    with pytest.raises(AlreadyAppended):
        await reopened.append("s", 2, [event(4)], idempotency_key="k")
    assert await reopened.append("s", 2, [event(4)]) == 3


EXACT_DATA: dict[str, Any] = {
    "true_bool": True,
    "false_bool": False,
    "true_string": "true",
    "zero": 0,
    "int64_max": 2**63 - 1,
    "int64_min": -(2**63),
    "float": 1.5,
    "whole_float": 2.0,
    "negative_zero": -0.0,
    "tiny": 5e-324,
    "none": None,
    "empty_string": "",
    "empty_map": {},
    "empty_list": [],
    "unicode": "Ünïcødé ✈ 飛行 🛩",
    "escapes": 'quote " backslash \\ newline \n nul \x00',
    "nested": {"list": [1, "1", 1.0, True, None, {"deep": [[]]}]},
}


async def test_data_and_metadata_round_trip_exactly(store: EventStore) -> None:
    await store.append("s", 0, [NewEvent("Exact", EXACT_DATA, {"meta": EXACT_DATA})])

    (stored,) = await collect(store.read("s"))
    (fed,) = await collect(store.read_all())

    for copy in (stored, fed):
        assert_identical(dict(copy.data), EXACT_DATA)
        assert_identical(dict(copy.metadata), {"meta": EXACT_DATA})


JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children),
    max_leaves=12,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.dictionaries(st.text(), JSON_VALUES))
async def test_any_json_map_round_trips_exactly(store: EventStore, data: dict[str, Any]) -> None:
    stream = f"s-{uuid.uuid4()}"

    await store.append(stream, 0, [NewEvent("Any", data, {"copy": data})])

    (stored,) = await collect(store.read(stream))
    assert_identical(dict(stored.data), data)
    assert_identical(dict(stored.metadata), {"copy": data})


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"x": math.nan}, "nan"),
        ({"x": [1, math.inf]}, "inf"),
        ({"x": -math.inf}, "-inf"),
        ({"x": (1, 2)}, "tuple"),
        ({"x": {1, 2}}, "set"),
        ({"x": {1: "a"}}, "non-string key"),
        ({"x": datetime(2026, 1, 1, tzinfo=UTC)}, "datetime"),
        ({"x": "lone \ud800 surrogate"}, "surrogate"),
    ],
)
async def test_data_that_would_not_round_trip_is_refused(
    store: EventStore, data: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        await store.append("s", 0, [event(1), NewEvent("Bad", data)])
    with pytest.raises(ValueError, match=problem):
        await store.append("s", 0, [NewEvent("Bad", {}, metadata=data)])

    assert await collect(store.read_all()) == []


async def test_an_event_over_400_kb_is_refused_before_anything_is_written(
    store: EventStore,
) -> None:
    with pytest.raises(EventTooLarge) as raised:
        await store.append_many(
            [("small", 0, [event(1)]), ("big", 0, [NewEvent("Big", {"x": "x" * 400 * 1024})])]
        )

    assert raised.value.stream_id == "big"
    assert raised.value.size > raised.value.limit == 400 * 1024
    assert await collect(store.read_all()) == []


async def test_an_event_of_nearly_400_kb_is_stored(store: EventStore) -> None:
    data = {"x": "é" * (196 * 1024)}

    await store.append("s", 0, [NewEvent("Big", data)])

    assert [e.data for e in await collect(store.read("s"))] == [data]


async def test_more_than_100_items_in_one_append_is_refused(store: EventStore) -> None:
    with pytest.raises(ValueError, match="at most 100 items"):
        await store.append("s", 0, [event(n) for n in range(101)])
    with pytest.raises(ValueError, match="at most 100 items"):
        await store.append("s", 0, [event(n) for n in range(100)], idempotency_key="k")
    assert await collect(store.read_all()) == []

    assert await store.append("s", 0, [event(n) for n in range(100)]) == 100


@pytest.mark.parametrize(
    ("batches", "problem"),
    [
        ([], "at least one stream"),
        ([("s", 0, [])], "non-empty list of events"),
        ([("s", -1, [event()])], "int ≥ 0"),
        ([("s", True, [event()])], "int ≥ 0"),
        ([("", 0, [event()])], "non-empty string"),
        ([("idem#x", 0, [event()])], "reserves"),
        ([("s", 0, [event()]), ("s", 0, [event()])], "appears twice"),
        ([("s", 0, [{"type": "X"}])], "NewEvent"),
        ([("s", 0, [NewEvent("", {})])], "event type"),
        ([("s", 0, [NewEvent("X", {}, schema_version=0)])], "schema_version"),
        ([("s", 0, [NewEvent("X", [])])], "must be a map"),  # type: ignore[arg-type]
    ],
)
async def test_malformed_appends_are_refused_with_a_plain_reason(
    store: EventStore, batches: Any, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        await store.append_many(batches)

    assert await collect(store.read_all()) == []


async def test_a_position_from_another_kind_of_store_is_refused(
    store: EventStore, backend: str
) -> None:
    foreign = "2026-11-28T03|2026-11-28T03:15:00.123Z#x" if backend != "dynamodb" else 7

    with pytest.raises(ValueError, match="position"):
        await collect(store.read_all(after=foreign))
