"""DynamoDB specifics: the table design, one request per warm command, the hour-bucket feed."""

import asyncio
import json
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import urllib3
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError

import eventstore
from eventstore import AlreadyAppended, FeedReader, NewEvent, Repository, StoredEvent
from eventstore.codec import IDEMPOTENCY_KEY_TTL
from eventstore.dynamodb import _ATTEMPTS, DynamoDBEventStore
from tests.eventstore.conftest import REGION
from tests.eventstore.support import FakeClock, collect, keys


@pytest.fixture
def table_url(moto_endpoint: str) -> str:
    return f"dynamodb://events-{uuid.uuid4().hex}?region={REGION}&endpoint_url={moto_endpoint}"


@pytest.fixture
async def dynamodb(table_url: str, clock: FakeClock) -> AsyncIterator[DynamoDBEventStore]:
    store = eventstore.open(table_url, clock=clock)
    assert isinstance(store, DynamoDBEventStore)
    yield store
    await store.close()


class RequestLog:
    """The operation of every HTTP request sent (retries included), from botocore's before-send."""

    def __init__(self, store: DynamoDBEventStore) -> None:
        self.operations: list[str] = []
        store.client.meta.events.register("before-send.dynamodb", self._record)

    def _record(self, request: Any, **_: Any) -> None:
        target = request.headers["X-Amz-Target"]
        self.operations.append(target.decode().rpartition(".")[2])


def count(state: int, event: StoredEvent) -> int:
    return state + 1


async def test_every_request_is_sent_off_the_event_loop(table_url: str) -> None:
    threads: set[int] = set()
    store = eventstore.open(table_url)
    assert isinstance(store, DynamoDBEventStore)
    store.client.meta.events.register(
        "before-send.dynamodb", lambda **_: threads.add(threading.get_ident())
    )

    async with store:
        await store.append("s", 0, [NewEvent("X", {})])
        await store.append_many([("s", 1, [NewEvent("Y", {})]), ("t", 0, [NewEvent("Z", {})])])
        await collect(store.read("s"))
        await collect(store.read_all())

    assert threads
    assert threading.get_ident() not in threads


async def test_the_client_is_built_once_off_the_event_loop_at_first_use(
    table_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    built_on: list[int] = []
    build_client = boto3.session.Session.client

    def recording(session: boto3.session.Session, *args: Any, **kwargs: Any) -> Any:
        built_on.append(threading.get_ident())
        return build_client(session, *args, **kwargs)

    monkeypatch.setattr(boto3.session.Session, "client", recording)

    async with eventstore.open(table_url) as store:
        assert built_on == []
        await asyncio.gather(
            store.append("s", 0, [NewEvent("X", {})]),
            store.append("t", 0, [NewEvent("Y", {})]),
            collect(store.read("s")),
        )

    assert len(built_on) == 1
    assert built_on[0] != threading.get_ident()


async def test_a_warm_command_costs_exactly_one_put_item(dynamodb: DynamoDBEventStore) -> None:
    repo: Repository[int] = Repository(dynamodb, count, 0)
    await repo.execute("squadron#1", lambda state: [NewEvent("Credited", {"minutes": 60})])
    log = RequestLog(dynamodb)

    for _ in range(5):
        await repo.execute("squadron#1", lambda state: [NewEvent("Credited", {"minutes": 60})])

    assert log.operations == ["PutItem"] * 5


async def test_a_conflicting_command_costs_a_put_a_query_and_a_put(
    dynamodb: DynamoDBEventStore,
) -> None:
    repo: Repository[int] = Repository(dynamodb, count, 0)
    await repo.execute("s", lambda state: [NewEvent("X", {})])
    await dynamodb.append("s", 1, [NewEvent("Y", {})])
    log = RequestLog(dynamodb)

    state, _ = await repo.execute("s", lambda state: [NewEvent("Z", {})])

    assert state == 3
    assert log.operations == ["PutItem", "Query", "PutItem"]


async def test_several_events_or_a_key_make_one_transaction(dynamodb: DynamoDBEventStore) -> None:
    await dynamodb.append("warm", 0, [NewEvent("X", {})])
    log = RequestLog(dynamodb)

    await dynamodb.append("a", 0, [NewEvent("X", {}), NewEvent("Y", {})])
    await dynamodb.append("b", 0, [NewEvent("X", {})], idempotency_key="stripe-evt-1")
    await dynamodb.append_many([("c", 0, [NewEvent("X", {})]), ("d", 0, [NewEvent("Y", {})])])

    assert log.operations == ["TransactWriteItems"] * 3


async def test_items_follow_the_table_design(dynamodb: DynamoDBEventStore) -> None:
    await dynamodb.append(
        "mission#1",
        0,
        [NewEvent("Launched", {"private": True}, {"user": "u1"}, id="e1", schema_version=2)],
        idempotency_key="interaction-9",
    )

    item = dynamodb.client.get_item(
        TableName=dynamodb.table, Key={"pk": {"S": "mission#1"}, "sk": {"N": "1"}}
    )["Item"]
    key_item = dynamodb.client.get_item(
        TableName=dynamodb.table, Key={"pk": {"S": "idem#interaction-9"}, "sk": {"N": "0"}}
    )
    table = dynamodb.client.describe_table(TableName=dynamodb.table)["Table"]

    assert item == {
        "pk": {"S": "mission#1"},
        "sk": {"N": "1"},
        "type": {"S": "Launched"},
        "v": {"N": "2"},
        "data": {"S": json.dumps({"private": True}, separators=(",", ":"))},
        "meta": {"S": json.dumps({"user": "u1"}, separators=(",", ":"))},
        "id": {"S": "e1"},
        "ts": {"S": "2026-11-28T03:15:00.123Z"},
        "gpk": {"S": "2026-11-28T03"},
        "gsk": {"S": "2026-11-28T03:15:00.123Z#e1"},
    }
    assert "Item" in key_item
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    (index,) = table["GlobalSecondaryIndexes"]
    assert [(k["AttributeName"], k["KeyType"]) for k in index["KeySchema"]] == [
        ("gpk", "HASH"),
        ("gsk", "RANGE"),
    ]


async def test_a_retried_put_that_had_landed_is_not_reported_as_a_conflict(
    dynamodb: DynamoDBEventStore, clock: FakeClock
) -> None:
    """What botocore does after a lost response: the same request again, finding its own item."""
    stored = await dynamodb.append_many([("s", 0, [NewEvent("X", {}, id="e1")])])
    log = RequestLog(dynamodb)
    clock.advance(timedelta(seconds=3))

    again = await dynamodb.append_many([("s", 0, [NewEvent("X", {}, id="e1")])])

    assert again == stored
    assert log.operations == ["PutItem"]
    assert keys(await collect(dynamodb.read("s"))) == [("s", 1)]


class LostAnswer:
    """A botocore ``before-send`` hook: the first ``operation`` request is sent for real, then
    answered with a 500 as if the response was lost, so botocore's retry sends it again."""

    def __init__(self, store: DynamoDBEventStore, operation: str) -> None:
        self.operation = operation
        self.sent: list[str] = []
        self._http = urllib3.PoolManager()
        store.client.meta.events.register("before-send.dynamodb", self)

    def __call__(self, request: Any, **_: Any) -> AWSResponse | None:
        operation = request.headers["X-Amz-Target"].decode().rpartition(".")[2]
        self.sent.append(operation)
        if operation != self.operation or self.sent.count(operation) > 1:
            return None
        headers = {name: _text(value) for name, value in request.headers.items()}
        landed = self._http.request(request.method, request.url, body=request.body, headers=headers)
        assert landed.status == 200
        return AWSResponse(request.url, 500, {}, _Body(b'{"message": "the answer was lost"}'))


class _Body:
    def __init__(self, content: bytes) -> None:
        self._content = content

    def stream(self) -> list[bytes]:
        return [self._content]


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def test_a_put_whose_answer_was_lost_is_retried_and_stored_once(
    dynamodb: DynamoDBEventStore,
) -> None:
    await dynamodb.append("warm", 0, [NewEvent("X", {})])
    lost = LostAnswer(dynamodb, "PutItem")

    assert await dynamodb.append("s", 0, [NewEvent("X", {})]) == 1

    assert lost.sent == ["PutItem", "PutItem"]
    assert keys(await collect(dynamodb.read("s"))) == [("s", 1)]


async def test_a_keyed_transaction_whose_answer_was_lost_is_retried_and_stored_once(
    dynamodb: DynamoDBEventStore,
) -> None:
    await dynamodb.append("warm", 0, [NewEvent("X", {})])
    lost = LostAnswer(dynamodb, "TransactWriteItems")

    stored = await dynamodb.append_many(
        [("a", 0, [NewEvent("X", {})]), ("b", 0, [NewEvent("Y", {})])],
        idempotency_key="stripe-evt-1",
    )

    assert lost.sent == ["TransactWriteItems", "TransactWriteItems"]
    assert keys(stored) == [("a", 1), ("b", 1)]
    assert sorted(keys(await collect(dynamodb.read_all()))) == [("a", 1), ("b", 1), ("warm", 1)]
    with pytest.raises(AlreadyAppended):
        await dynamodb.append("c", 0, [NewEvent("Z", {})], idempotency_key="stripe-evt-1")


async def test_reading_the_feed_from_a_position_walks_the_hour_buckets(
    dynamodb: DynamoDBEventStore, table_url: str, clock: FakeClock
) -> None:
    moments = [
        datetime(2026, 11, 28, 1, 59, 59, 990000, tzinfo=UTC),
        datetime(2026, 11, 28, 2, 0, 0, 5000, tzinfo=UTC),
        datetime(2026, 11, 28, 4, 30, tzinfo=UTC),
    ]
    for number, moment in enumerate(moments):
        clock.now = moment
        await dynamodb.append(f"s{number}", 0, [NewEvent("X", {})])
    clock.now = datetime(2026, 11, 28, 4, 59, 58, tzinfo=UTC)
    ahead = FakeClock(datetime(2026, 11, 28, 5, 0, 3, tzinfo=UTC))
    async with eventstore.open(table_url, clock=ahead) as fast_writer:
        await fast_writer.append("ahead", 0, [NewEvent("X", {})])

    everything = await collect(dynamodb.read_all())
    log = RequestLog(dynamodb)
    resumed = await collect(dynamodb.read_all(after=everything[0].position))

    assert keys(everything) == [("s0", 1), ("s1", 1), ("s2", 1), ("ahead", 1)]
    assert keys(resumed) == keys(everything)
    assert log.operations == ["Query"] * 5
    assert [e.position for e in resumed] == sorted(e.position for e in resumed)


async def test_the_first_feed_pass_queries_hour_by_hour_from_the_first_page_by_page(
    dynamodb: DynamoDBEventStore, table_url: str, clock: FakeClock
) -> None:
    """No scan, nothing sorted beyond one millisecond: a bucket of more than 1 MB (DynamoDB's
    page) comes in several pages, in order, events of one millisecond in version order."""
    big = {"x": "x" * (390 * 1024)}
    clock.now = datetime(2026, 11, 28, 1, 30, tzinfo=UTC)
    await dynamodb.append("first", 0, [NewEvent("X", {})])
    clock.now = datetime(2026, 11, 28, 3, 15, tzinfo=UTC)
    for stream in ("c", "b", "a"):
        await dynamodb.append(stream, 0, [NewEvent("Big", big)])
        clock.advance(timedelta(seconds=1))
    await dynamodb.append_many([("z", 0, [NewEvent("X", {})]), ("y", 0, [NewEvent("Y", {})])])

    async with eventstore.open(table_url, clock=clock) as restarted:
        await collect(restarted.read("warm-up"))
        log = RequestLog(restarted)
        everything = keys(await collect(restarted.read_all()))

    assert everything == [("first", 1), ("c", 1), ("b", 1), ("a", 1), ("y", 1), ("z", 1)]
    assert log.operations == ["Query"] * 4, "hours 01, 02 and 03, the last in two pages"


async def test_a_writer_behind_every_event_so_far_moves_the_first_hour_back(
    dynamodb: DynamoDBEventStore, table_url: str, clock: FakeClock
) -> None:
    await dynamodb.append("s", 0, [NewEvent("X", {})])
    behind = FakeClock(clock.now - timedelta(hours=5))
    async with eventstore.open(table_url, clock=behind) as late_writer:
        await late_writer.append("late", 0, [NewEvent("X", {})])

    async with eventstore.open(table_url, clock=clock) as restarted:
        assert keys(await collect(restarted.read_all())) == [("late", 1), ("s", 1)]


async def test_a_table_from_before_the_bookkeeping_finds_its_first_hour_once(
    dynamodb: DynamoDBEventStore, table_url: str, clock: FakeClock
) -> None:
    for hours_ago, stream in ((30, "old"), (2, "recent")):
        clock.now -= timedelta(hours=hours_ago)
        await dynamodb.append(stream, 0, [NewEvent("X", {})])
        clock.now += timedelta(hours=hours_ago)
    dynamodb.client.delete_item(
        TableName=dynamodb.table, Key={"pk": {"S": "meta#feed"}, "sk": {"N": "0"}}
    )

    async with eventstore.open(table_url, clock=clock) as upgraded:
        assert keys(await collect(upgraded.read_all())) == [("old", 1), ("recent", 1)]
    async with eventstore.open(table_url, clock=clock) as next_start:
        await collect(next_start.read("warm-up"))
        log = RequestLog(next_start)
        await collect(next_start.read_all())
    assert "Scan" not in log.operations


async def test_a_feed_reader_on_a_quiet_feed_does_not_walk_the_idle_hours_again(
    dynamodb: DynamoDBEventStore, clock: FakeClock
) -> None:
    feed = FeedReader(dynamodb)
    await dynamodb.append("s", 0, [NewEvent("X", {})])
    clock.advance(timedelta(hours=30))
    assert keys(await collect(feed.read())) == [("s", 1)]
    log = RequestLog(dynamodb)

    clock.advance(timedelta(minutes=5))
    assert await collect(feed.read()) == []
    await dynamodb.append("s", 1, [NewEvent("Y", {})])
    assert keys(await collect(feed.read())) == [("s", 2)]

    assert log.operations == ["Query", "PutItem", "Query"]


async def test_an_append_to_a_stream_this_process_never_saw_checks_the_version_exists(
    dynamodb: DynamoDBEventStore, table_url: str, clock: FakeClock
) -> None:
    """The check costs a transaction only while the head is unknown; then the warm path is
    one PutItem again."""
    async with eventstore.open(table_url, clock=clock) as writer:
        await writer.append("s", 0, [NewEvent("X", {})])
    await collect(dynamodb.read("other"))
    log = RequestLog(dynamodb)

    await dynamodb.append("s", 1, [NewEvent("Y", {})])
    await dynamodb.append("s", 2, [NewEvent("Z", {})])

    assert log.operations == ["TransactWriteItems", "PutItem"]


async def test_idempotency_key_items_carry_a_ttl_the_table_enforces(
    dynamodb: DynamoDBEventStore, clock: FakeClock
) -> None:
    await dynamodb.append("s", 0, [NewEvent("X", {})], idempotency_key="stripe-evt-1")

    key_item = dynamodb.client.get_item(
        TableName=dynamodb.table, Key={"pk": {"S": "idem#stripe-evt-1"}, "sk": {"N": "0"}}
    )["Item"]
    ttl = dynamodb.client.describe_time_to_live(TableName=dynamodb.table)

    expires = datetime.fromtimestamp(int(key_item["ttl"]["N"]), UTC)
    assert timedelta(0) < expires - (clock.now + IDEMPOTENCY_KEY_TTL) <= timedelta(seconds=1)
    assert ttl["TimeToLiveDescription"]["TimeToLiveStatus"] == "ENABLED"
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "ttl"


async def test_a_checkpoint_is_chunked_under_the_item_limit_and_replaced_chunks_are_deleted(
    dynamodb: DynamoDBEventStore,
) -> None:
    await dynamodb.save_checkpoint("view", b"a" * (1024 * 1024))
    await dynamodb.save_checkpoint("view", b"b" * (800 * 1024))

    items = dynamodb.client.scan(TableName=dynamodb.table)["Items"]
    chunks = [item for item in items if item["pk"]["S"].startswith("checkpoint#view#")]
    (head,) = [item for item in items if item["pk"]["S"] == "checkpoint#view"]

    assert len(chunks) == 3
    assert {chunk["pk"]["S"] for chunk in chunks} == {head["blob"]["S"]}
    assert all(len(chunk["data"]["B"]) <= 350 * 1024 for chunk in chunks)
    assert head["version"] == {"N": "2"}


class InFlight:
    """A botocore ``before-send`` hook: while the first ``PutItem`` is on its way, time passes
    (the fake clock moves by ``delay``) and ``meanwhile`` runs on the event loop."""

    def __init__(
        self,
        store: DynamoDBEventStore,
        clock: FakeClock,
        delay: timedelta,
        meanwhile: Callable[[], Awaitable[Any]],
    ) -> None:
        self._clock = clock
        self._delay = delay
        self._meanwhile = meanwhile
        self._loop = asyncio.get_running_loop()
        self.sent: list[str] = []
        store.client.meta.events.register("before-send.dynamodb", self)

    def __call__(self, request: Any, **_: Any) -> None:
        operation = request.headers["X-Amz-Target"].decode().rpartition(".")[2]
        self.sent.append(operation)
        if self.sent == ["PutItem"]:
            self._clock.advance(self._delay)
            asyncio.run_coroutine_threadsafe(self._meanwhile(), self._loop).result()


async def test_an_event_that_lands_after_the_overlap_window_still_reaches_other_readers(
    dynamodb: DynamoDBEventStore, table_url: str, clock: FakeClock
) -> None:
    """Another process follows the feed and passes while the write is in flight for 30 s
    (three times the window): it must still get the event on a later pass."""
    async with eventstore.open(table_url, clock=clock) as other_process:
        feed = FeedReader(other_process)
        await dynamodb.append("warm", 0, [NewEvent("X", {})])
        assert keys(await collect(feed.read())) == [("warm", 1)]
        seen_meanwhile: list[StoredEvent] = []

        async def reader_pass() -> None:
            seen_meanwhile.extend(await collect(feed.read()))

        slow = InFlight(dynamodb, clock, timedelta(seconds=30), reader_pass)
        stored = await dynamodb.append_many([("s", 0, [NewEvent("Y", {})])])
        clock.advance(timedelta(seconds=1))
        later = keys(await collect(feed.read()))

    assert seen_meanwhile == []
    assert later == [("s", 1)]
    assert slow.sent == ["PutItem", "UpdateItem"]
    assert stored[0].recorded_at == datetime(2026, 11, 28, 3, 15, 0, 123000, tzinfo=UTC)
    assert stored[0].position == f"2026-11-28T03|2026-11-28T03:15:30.123Z#{stored[0].id}"


async def test_a_quick_write_costs_no_refresh(
    dynamodb: DynamoDBEventStore, clock: FakeClock
) -> None:
    await dynamodb.append("warm", 0, [NewEvent("X", {})])

    async def nothing() -> None:
        return None

    quick = InFlight(dynamodb, clock, dynamodb.window, nothing)
    await dynamodb.append("warm", 1, [NewEvent("Y", {})])

    assert quick.sent == ["PutItem"]


class TimedOut:
    """A botocore ``before-send`` hook: every ``PutItem`` attempt botocore makes for the first
    request times out without reaching the server; the first is kept, to arrive late."""

    def __init__(self, store: DynamoDBEventStore) -> None:
        self.sent: list[str] = []
        self.held: Any = None
        store.client.meta.events.register("before-send.dynamodb", self)

    def __call__(self, request: Any, **_: Any) -> None:
        operation = request.headers["X-Amz-Target"].decode().rpartition(".")[2]
        self.sent.append(operation)
        if operation == "PutItem" and self.sent.count("PutItem") <= _ATTEMPTS:
            self.held = self.held or request
            raise ReadTimeoutError(endpoint_url=request.url)

    def deliver_late(self) -> int:
        request = self.held
        headers = {name: _text(value) for name, value in request.headers.items()}
        answer = urllib3.PoolManager().request(
            request.method, request.url, body=request.body, headers=headers
        )
        return int(answer.status)


async def test_a_request_abandoned_after_timeouts_can_no_longer_land_with_its_old_stamp(
    dynamodb: DynamoDBEventStore, clock: FakeClock
) -> None:
    await dynamodb.append("warm", 0, [NewEvent("X", {})])
    timed_out = TimedOut(dynamodb)
    clock.advance(timedelta(seconds=1))

    version = await dynamodb.append("s", 0, [NewEvent("Y", {}, id="e1")])
    late_status = timed_out.deliver_late()

    assert version == 1
    assert timed_out.sent == ["PutItem"] * (_ATTEMPTS + 1)
    assert late_status == 400
    (stored,) = await collect(dynamodb.read("s"))
    assert stored.id == "e1"
    assert stored.recorded_at == clock.now.replace(microsecond=123000)


async def test_one_attempt_of_a_request_gives_up_within_the_write_window(
    dynamodb: DynamoDBEventStore,
) -> None:
    """botocore's defaults (60 s timeouts, retried) would hold a write far past the overlap."""
    config = dynamodb.client.meta.config

    attempt = timedelta(seconds=config.connect_timeout + config.read_timeout)

    assert attempt < dynamodb.window
    assert config.retries["total_max_attempts"] == _ATTEMPTS
