"""Production backend: one DynamoDB table, one conditional write per command.

Table (see DESIGN.md): ``pk`` (S, hash) stream id, ``sk`` (N, range) version, ``type``, ``v``
(schema version), ``data`` and ``meta`` (JSON text), ``id``, ``ts`` (ISO-8601 UTC, ms), and
``gpk``/``gsk`` (an hour bucket and ``ts#id``), the keys of the ``feed`` global secondary index.

One event on one stream is one ``PutItem`` with ``attribute_not_exists(pk)``; anything more is
one ``TransactWriteItems`` with that condition on every item, plus an item ``pk = idem#<key>``
for an idempotency key. botocore retries throttling and 5xx (standard mode); a retry whose
earlier attempt did land fails its condition against its own item, which is recognised (by event
id, or by a write token on the key item) and reported as the success it was. So no event is
ever written twice and no caller is told "conflict" about its own write.

boto3 blocks, so each call runs on a small thread pool; the client is thread-safe. Building
the client loads botocore's service data (a noticeable pause), so it is built on that pool too,
at the first request: opening the store builds no client and sends nothing.
"""

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError

from eventstore.codec import RESERVED_PREFIX, Record, Write, format_time, parse_time, utc_now
from eventstore.errors import AlreadyAppended, ConcurrencyError
from eventstore.events import Position, StoredEvent
from eventstore.store import Clock, EventStore

T = TypeVar("T")

FEED_INDEX = "feed"
DEFAULT_OVERLAP = timedelta(seconds=10)
"""Re-read window of the feed: covers writer clock skew, retried writes and index lag."""

_THREADS = 16
_BUCKET_CHARS = len("2026-11-28T03")
_NEW_ITEM = "attribute_not_exists(pk)"
_TRANSIENT_RETRIES = 5
_TRANSIENT_BACKOFF_SECONDS = 0.025
_TRANSIENT_REASONS = {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}
_WAIT_FOR_TABLE = {"Delay": 1, "MaxAttempts": 120}

Item = dict[str, dict[str, str]]


class DynamoDBEventStore(EventStore):
    """Events in a DynamoDB table; ``read_all`` walks the hour buckets of the ``feed`` index.

    ``read_all(after=None)`` scans the index once; ``read_all(after=position)`` queries each
    hour bucket from ``position`` minus ``overlap`` up to the present (plus ``overlap`` for
    writers whose clocks run ahead). See the package docstring for what is guaranteed.
    """

    def __init__(
        self,
        table: str,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        create: bool = True,
        overlap: timedelta = DEFAULT_OVERLAP,
        clock: Clock = utc_now,
    ) -> None:
        super().__init__(clock)
        self._region = region or _default_region()
        self._endpoint_url = endpoint_url
        self._client: BaseClient | None = None
        self._client_lock = threading.Lock()
        self.table = table
        self._create = create
        self._overlap = overlap
        self._threads = ThreadPoolExecutor(_THREADS, thread_name_prefix="eventstore-dynamodb")
        self._ready = False
        self._ready_lock = asyncio.Lock()

    async def _write(self, write: Write) -> list[StoredEvent]:
        await self._ensure_table()
        records = write.records
        if len(records) == 1 and write.idempotency_key is None:
            return await self._put(records[0], write.streams[0].expected_version)
        return await self._transact(write)

    async def read(self, stream_id: str, after_version: int = 0) -> AsyncIterator[StoredEvent]:
        await self._ensure_table()
        query = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND sk > :after",
            "ExpressionAttributeValues": {
                ":pk": {"S": stream_id},
                ":after": {"N": str(max(after_version, 0))},
            },
            "ConsistentRead": True,
        }
        async for item in self._pages("query", query):
            yield _record(item).to_event(_position_of(item))

    async def read_all(self, after: Position | None = None) -> AsyncIterator[StoredEvent]:
        await self._ensure_table()
        if after is None:
            started = self._clock()
            items = [item async for item in self._pages("scan", self._feed_request())]
            cap = _position_at(started)
            for item in _feed_order(items):
                yield _record(item).to_event(min(_position_of(item), cap))
            return
        start = _feed_start(after) - self._overlap
        for bucket in _buckets(start, self._clock() + self._overlap):
            request = self._feed_request()
            request["KeyConditionExpression"] = "gpk = :bucket AND gsk > :start"
            request["ExpressionAttributeValues"] = {
                ":bucket": {"S": bucket},
                ":start": {"S": format_time(start)},
            }
            items = [item async for item in self._pages("query", request)]
            for item in _feed_order(items):
                yield _record(item).to_event(_position_of(item))

    def present_position(self) -> Position:
        """The bucket walk after a pass that starts now can begin at now, minus the overlap."""
        return _position_at(self._clock())

    async def close(self) -> None:
        await asyncio.to_thread(self._shut_down)

    @property
    def client(self) -> BaseClient:
        """The boto3 DynamoDB client, built on first use.

        The store itself first touches it on its thread pool; reading it on the event loop
        before the store's first request builds it there, blocking the loop while it does.
        """
        with self._client_lock:
            if self._client is None:
                config = Config(retries={"mode": "standard"}, max_pool_connections=_THREADS)
                self._client = boto3.session.Session().client(
                    "dynamodb",
                    region_name=self._region,
                    endpoint_url=self._endpoint_url,
                    config=config,
                )
            return self._client

    def _shut_down(self) -> None:
        self._threads.shutdown()
        with self._client_lock:
            if self._client is not None:
                self._client.close()

    async def _call(self, operation: str, **arguments: Any) -> Any:
        """Send one request on the thread pool (building the client there first if need be)."""
        return await self._in_pool(lambda: getattr(self.client, operation)(**arguments))

    async def _in_pool(self, function: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._threads, function)

    async def _pages(self, operation: str, request: dict[str, Any]) -> AsyncIterator[Item]:
        while True:
            page = await self._call(operation, **request)
            for item in page.get("Items", []):
                yield item
            if "LastEvaluatedKey" not in page:
                return
            request = {**request, "ExclusiveStartKey": page["LastEvaluatedKey"]}

    def _feed_request(self) -> dict[str, Any]:
        return {"TableName": self.table, "IndexName": FEED_INDEX}

    async def _put(self, record: Record, expected_version: int) -> list[StoredEvent]:
        try:
            await self._call(
                "put_item",
                TableName=self.table,
                Item=_item(record),
                ConditionExpression=_NEW_ITEM,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if _code(error) != "ConditionalCheckFailedException":
                raise
            existing = error.response.get("Item")
            if not _is_own(existing, record.id):
                raise ConcurrencyError(record.stream_id, expected_version) from None
            return [_record(existing).to_event(_position_of(existing))]
        return [record.to_event(_position(record))]

    async def _transact(self, write: Write) -> list[StoredEvent]:
        records = write.records
        token = str(uuid.uuid4())
        owners = [record.id for record in records]
        items = [self._new_item(_item(record)) for record in records]
        if write.idempotency_key is not None:
            owners.append(token)
            items.append(self._new_item(_key_item(write, token)))
        retries = 0
        while True:
            try:
                await self._call(
                    "transact_write_items",
                    TransactItems=items,
                    ClientRequestToken=str(uuid.uuid4()),
                )
            except ClientError as error:
                if _code(error) != "TransactionCanceledException":
                    raise
                reasons = error.response.get("CancellationReasons", [])
                if _transient(reasons) and retries < _TRANSIENT_RETRIES:
                    retries += 1
                    await asyncio.sleep(_TRANSIENT_BACKOFF_SECONDS * 2**retries)
                    continue
                landed = _landed(error, write, reasons, owners)
                return [_record(item).to_event(_position_of(item)) for item in landed]
            return [record.to_event(_position(record)) for record in records]

    def _new_item(self, item: Item) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self.table,
                "Item": item,
                "ConditionExpression": _NEW_ITEM,
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    async def _ensure_table(self) -> None:
        if self._ready:
            return
        async with self._ready_lock:
            if not self._ready:
                await self._in_pool(self._prepare_table)
                self._ready = True

    def _prepare_table(self) -> None:
        """Check the table (and feed index) exist, creating them unless ``create=false``."""
        try:
            description = self.client.describe_table(TableName=self.table)["Table"]
        except ClientError as error:
            if _code(error) != "ResourceNotFoundException":
                raise
            if not self._create:
                raise ValueError(
                    f"The DynamoDB table {self.table!r} does not exist; create it or drop "
                    "create=false from the event store URL."
                ) from None
            self._create_table()
            description = self.client.describe_table(TableName=self.table)["Table"]
        indexes = {index["IndexName"] for index in description.get("GlobalSecondaryIndexes", [])}
        if FEED_INDEX not in indexes:
            raise ValueError(
                f"The DynamoDB table {self.table!r} has no {FEED_INDEX!r} index on gpk/gsk; "
                "it was not made for the event store."
            )

    def _create_table(self) -> None:
        def key(name: str, role: str) -> dict[str, str]:
            return {"AttributeName": name, "KeyType": role}

        try:
            self.client.create_table(
                TableName=self.table,
                AttributeDefinitions=[
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "N"},
                    {"AttributeName": "gpk", "AttributeType": "S"},
                    {"AttributeName": "gsk", "AttributeType": "S"},
                ],
                KeySchema=[key("pk", "HASH"), key("sk", "RANGE")],
                GlobalSecondaryIndexes=[
                    {
                        "IndexName": FEED_INDEX,
                        "KeySchema": [key("gpk", "HASH"), key("gsk", "RANGE")],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                ],
                BillingMode="PAY_PER_REQUEST",
            )
        except ClientError as error:
            if _code(error) != "ResourceInUseException":
                raise
        waiter = self.client.get_waiter("table_exists")
        waiter.wait(TableName=self.table, WaiterConfig=_WAIT_FOR_TABLE)


def _default_region() -> str:
    """The region boto3 would pick (environment or AWS config file) for a URL naming none, so
    that a missing region is reported when the store is opened, not at its first request."""
    region = boto3.session.Session().region_name
    if region is None:
        raise ValueError(
            "No AWS region for the DynamoDB event store: add ?region=REGION to the URL."
        )
    return region


def _landed(error: ClientError, write: Write, reasons: list[Any], owners: list[str]) -> list[Item]:
    """The stored items when a cancelled transaction had in fact landed, else the caller's error.

    It landed if every item failed its condition against the very item this write puts (an
    earlier attempt of the same request went through).
    """
    codes = [reason.get("Code") for reason in reasons]
    failures = {code for code in codes if code != "None"}
    if len(codes) != len(owners) or failures != {"ConditionalCheckFailed"}:
        raise error
    items = [reason.get("Item") for reason in reasons]
    if all(_is_own(item, owner) for item, owner in zip(items, owners, strict=True)):
        return [item for item in items[: len(write.records)] if item is not None]
    if write.idempotency_key is not None and codes[-1] == "ConditionalCheckFailed":
        raise AlreadyAppended(write.idempotency_key) from None
    stale = write.records[codes.index("ConditionalCheckFailed")].stream_id
    expected = next(s.expected_version for s in write.streams if s.stream_id == stale)
    raise ConcurrencyError(stale, expected) from None


def _transient(reasons: list[Any]) -> bool:
    """Cancelled for a reason that says nothing about the data: retrying is safe and may pass."""
    return any(reason.get("Code") in _TRANSIENT_REASONS for reason in reasons)


def _is_own(existing: Item | None, owner: str) -> bool:
    """Whether the item that failed the condition is the one this write put (an earlier try)."""
    if not existing:
        return False
    return existing.get("id", existing.get("token", {})).get("S") == owner


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _item(record: Record) -> Item:
    return {
        "pk": {"S": record.stream_id},
        "sk": {"N": str(record.version)},
        "type": {"S": record.type},
        "v": {"N": str(record.schema_version)},
        "data": {"S": record.data},
        "meta": {"S": record.metadata},
        "id": {"S": record.id},
        "ts": {"S": record.recorded_at},
        "gpk": {"S": record.recorded_at[:_BUCKET_CHARS]},
        "gsk": {"S": f"{record.recorded_at}#{record.id}"},
    }


def _key_item(write: Write, token: str) -> Item:
    return {
        "pk": {"S": f"{RESERVED_PREFIX}{write.idempotency_key}"},
        "sk": {"N": "0"},
        "token": {"S": token},
        "ts": {"S": write.records[0].recorded_at},
    }


def _record(item: Item) -> Record:
    return Record(
        stream_id=item["pk"]["S"],
        version=int(item["sk"]["N"]),
        type=item["type"]["S"],
        schema_version=int(item["v"]["N"]),
        data=item["data"]["S"],
        metadata=item["meta"]["S"],
        id=item["id"]["S"],
        recorded_at=item["ts"]["S"],
    )


def _position(record: Record) -> str:
    return f"{record.recorded_at[:_BUCKET_CHARS]}|{record.recorded_at}#{record.id}"


def _position_of(item: Item) -> str:
    return f"{item['gpk']['S']}|{item['gsk']['S']}"


def _position_at(moment: datetime) -> str:
    """A position before every event stamped at or after ``moment``."""
    stamp = format_time(moment)
    return f"{stamp[:_BUCKET_CHARS]}|{stamp}#"


def _feed_start(after: Position) -> datetime:
    """The time stamped in a position from ``read_all``."""
    if isinstance(after, str):
        bucket, _, gsk = after.partition("|")
        stamp = gsk.partition("#")[0]
        if len(bucket) == _BUCKET_CHARS and stamp.startswith(bucket):
            try:
                return parse_time(stamp)
            except ValueError:
                pass
    raise ValueError(
        "A DynamoDB feed position is a string from read_all like "
        f"'2026-11-28T03|2026-11-28T03:15:00.123Z#<id>', not {after!r}."
    )


def _buckets(start: datetime, end: datetime) -> Iterator[str]:
    """The hour buckets from the one holding ``start`` to the one holding ``end``."""
    hour = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    while hour <= end:
        yield format_time(hour)[:_BUCKET_CHARS]
        hour += timedelta(hours=1)


def _feed_order(items: list[Item]) -> list[Item]:
    """Index order, except that events stamped in the same millisecond go in version order."""
    return sorted(items, key=lambda item: (item["ts"]["S"], item["pk"]["S"], int(item["sk"]["N"])))
