"""Production backend: one DynamoDB table, one conditional write per command.

Table (see docs/design.md): ``pk`` (S, hash) stream id, ``sk`` (N, range) version, ``type``, ``v``
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
import hashlib
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from cachetools import LRUCache

from eventstore import lease as leases
from eventstore.codec import (
    CHECKPOINT_PREFIX,
    IDEMPOTENCY_KEY_TTL,
    KEY_PREFIX,
    LEASE_PREFIX,
    META_PREFIX,
    Record,
    Write,
    format_time,
    parse_time,
    utc_now,
)
from eventstore.errors import (
    AlreadyAppended,
    ConcurrencyError,
    EventStoreError,
    LeaseLost,
)
from eventstore.events import Checkpoint, Position, StoredEvent
from eventstore.lease import Lease
from eventstore.store import Clock, EventStore

T = TypeVar("T")

FEED_INDEX = "feed"
DEFAULT_OVERLAP = timedelta(seconds=10)
"""Re-read window of the feed: covers writer clock skew, retried writes and index lag."""
MIN_OVERLAP = timedelta(seconds=2)

_CONNECT_TIMEOUT = timedelta(seconds=1)
_READ_TIMEOUT = timedelta(seconds=3)
_ATTEMPTS = 3
"""botocore's limits per request: an attempt gives up after 4 s, a request after 3 attempts
(instead of 60 s timeouts), so a write's outcome is known, or it is sent again, soon after
its stamp. Correctness does not rest on them: see ``_within_window``."""
_STAMP_CHARS = len("2026-11-28T03:15:00.123Z")
_BUCKETS_AT_ONCE = 8
"""Hour buckets whose first page is asked for at once when the feed walks many of them."""
_FIRST_BUCKET = {"pk": {"S": f"{META_PREFIX}feed"}, "sk": {"N": "0"}}

_THREADS = 16
_BUCKET_CHARS = len("2026-11-28T03")
_NEW_ITEM = "attribute_not_exists(pk)"
_TRANSIENT_RETRIES = 5
_TRANSIENT_BACKOFF_SECONDS = 0.025
_TRANSIENT_REASONS = {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}
_WAIT_FOR_TABLE = {"Delay": 1, "MaxAttempts": 120}
_KNOWN_HEADS = 100_000
_TTL_ATTRIBUTE = "ttl"
_FAILED = "ConditionalCheckFailed"
_CHUNK_BYTES = 350 * 1024
"""A checkpoint's bytes per item, under DynamoDB's 400 KB item limit."""
_LOAD_ATTEMPTS = 5
_LEASE_NAMES = {"#owner": "owner", "#token": "token", "#expires": "expires"}

Item = dict[str, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class _Check:
    """A ``ConditionCheck`` in an append's transaction and the error its failure means."""

    request: dict[str, Any]
    refusal: EventStoreError


class DynamoDBEventStore(EventStore):
    """Events in a DynamoDB table; ``read_all`` walks the hour buckets of the ``feed`` index.

    ``read_all(after=None)`` queries each hour bucket from the feed's first (kept in a
    bookkeeping item, ``meta#feed``), ``read_all(after=position)`` from ``position`` minus
    ``overlap``, both up to the present plus ``overlap`` (for writers whose clocks run ahead),
    page by page. See the package docstring for what is guaranteed.
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
        if overlap < MIN_OVERLAP:
            raise ValueError(f"The feed's overlap must be at least {MIN_OVERLAP}, not {overlap}.")
        self._overlap = overlap
        self.window = overlap / 2
        """A write confirmed later than this after its stamp has its feed key stamped again;
        the other half of the overlap covers clock skew and the index's propagation."""
        self._threads = ThreadPoolExecutor(_THREADS, thread_name_prefix="eventstore-dynamodb")
        self._ready = False
        self._ready_lock = asyncio.Lock()
        self._first_bucket = ""
        """The feed's earliest hour bucket as last read or written (it only ever moves back)."""
        self._heads: LRUCache[str, int] = LRUCache(maxsize=_KNOWN_HEADS)
        """Per stream, the highest version this process has seen stored (events are never
        deleted, so that version exists for good)."""

    async def _write(self, write: Write) -> list[StoredEvent]:
        await self._ensure_table()
        bucket = write.recorded_at[:_BUCKET_CHARS]
        if bucket < self._first_bucket:
            # A writer whose clock is behind every event so far: the first pass must start
            # at its bucket, so the bookkeeping moves before the event is written.
            self._first_bucket = await self._in_pool(lambda: self._lower_first_bucket(bucket))
        checks = self._checks(write)
        token = str(uuid.uuid4())
        try:
            stored = await self._send(write, checks, token)
        except (BotoConnectionError, HTTPClientError):
            # botocore gave up without an answer, so the request may still land later with
            # its old stamp. The same events (same ids, same key token) sent again with a
            # fresh stamp either land, and the old request then fails its condition, or find
            # it landed, and the refresh below brings it back inside the window.
            stored = await self._send(_restamped(write, self._clock()), checks, token)
        stored = await self._within_window(stored)
        self._note(stored)
        return stored

    async def _send(self, write: Write, checks: list[_Check], token: str) -> list[StoredEvent]:
        records = write.records
        if len(records) == 1 and write.idempotency_key is None and not checks:
            return await self._put(records[0], write.streams[0].expected_version)
        return await self._transact(write, checks, token)

    async def _within_window(self, stored: list[StoredEvent]) -> list[StoredEvent]:
        """The events, each with a feed key stamped within ``window`` of when it was stored.

        A write confirmed more than ``window`` after its stamp (a slow network, a paused
        process, a retried request) may have become visible after a reader had already moved
        past its stamp plus the overlap; its feed key (``gpk``/``gsk``, not its recorded
        time) is then set to now, again until one such update is itself quick, so every
        reader resuming within the overlap finds it. Readers drop the repeat by version.
        """
        fresh = []
        for event in stored:
            while self._clock() - _feed_start(event.position) > self.window:
                position = _position_at(self._clock()) + event.id
                bucket, _, gsk = position.partition("|")
                await self._call(
                    "update_item",
                    TableName=self.table,
                    Key=_key(event.stream_id, event.version),
                    UpdateExpression="SET gpk = :bucket, gsk = :gsk",
                    ConditionExpression="#id = :id",
                    ExpressionAttributeNames={"#id": "id"},
                    ExpressionAttributeValues={
                        ":bucket": {"S": bucket},
                        ":gsk": {"S": gsk},
                        ":id": {"S": event.id},
                    },
                )
                event = replace(event, position=position)
            fresh.append(event)
        return fresh

    def _checks(self, write: Write) -> list[_Check]:
        """The conditions a put's own ``attribute_not_exists`` cannot express.

        A put at version n + 1 cannot see whether version n exists: when this process has not
        seen it stored, a check that it exists goes into the transaction (a warm stream, whose
        head is known, needs none). A fenced write checks its lease too.
        """
        checks = []
        if write.fence is not None:
            fence = write.fence
            checks.append(
                _Check(
                    {
                        "ConditionCheck": {
                            "TableName": self.table,
                            "Key": _key(LEASE_PREFIX + fence.name),
                            "ConditionExpression": "#token = :token AND #owner = :owner "
                            "AND #expires > :now",
                            "ExpressionAttributeNames": _LEASE_NAMES,
                            "ExpressionAttributeValues": {
                                ":token": {"N": str(fence.token)},
                                ":owner": {"S": fence.owner},
                                ":now": {"S": write.recorded_at},
                            },
                        }
                    },
                    LeaseLost(fence.name, fence.token),
                )
            )
        for stream in write.streams:
            expected = stream.expected_version
            if expected == 0 or self._heads.get(stream.stream_id, 0) >= expected:
                continue
            checks.append(
                _Check(
                    {
                        "ConditionCheck": {
                            "TableName": self.table,
                            "Key": _key(stream.stream_id, expected),
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    },
                    ConcurrencyError(stream.stream_id, expected),
                )
            )
        return checks

    def _note(self, events: Sequence[StoredEvent]) -> None:
        for event in events:
            if self._heads.get(event.stream_id, 0) < event.version:
                self._heads[event.stream_id] = event.version

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
            event = _record(item).to_event(_position_of(item))
            self._note([event])
            yield event

    async def read_all(self, after: Position | None = None) -> AsyncIterator[StoredEvent]:
        await self._ensure_table()
        if after is None:
            start, floor = _bucket_time(self._first_bucket), None
        else:
            start = _feed_start(after) - self._overlap
            floor = format_time(start)
        buckets = list(_buckets(start, self._clock() + self._overlap))
        for offset in range(0, len(buckets), _BUCKETS_AT_ONCE):
            requests = [
                self._bucket_query(bucket, floor)
                for bucket in buckets[offset : offset + _BUCKETS_AT_ONCE]
            ]
            pages = await asyncio.gather(*(self._call("query", **r) for r in requests))
            for request, page in zip(requests, pages, strict=True):
                async for item in _in_feed_order(self._pages("query", request, page)):
                    yield _record(item).to_event(_position_of(item))

    def _bucket_query(self, bucket: str, floor: str | None) -> dict[str, Any]:
        """The index query for one hour bucket, after ``floor`` (a time) if given."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": FEED_INDEX,
            "KeyConditionExpression": "gpk = :bucket",
            "ExpressionAttributeValues": {":bucket": {"S": bucket}},
        }
        if floor is not None:
            request["KeyConditionExpression"] = "gpk = :bucket AND gsk > :floor"
            request["ExpressionAttributeValues"][":floor"] = {"S": floor}
        return request

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
                config = Config(
                    connect_timeout=_CONNECT_TIMEOUT.total_seconds(),
                    read_timeout=_READ_TIMEOUT.total_seconds(),
                    retries={"mode": "standard", "total_max_attempts": _ATTEMPTS},
                    max_pool_connections=_THREADS,
                )
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

    async def _pages(
        self, operation: str, request: dict[str, Any], page: dict[str, Any] | None = None
    ) -> AsyncIterator[Item]:
        """The items of every page of a query or scan, from ``page`` if it was fetched already."""
        while True:
            if page is None:
                page = await self._call(operation, **request)
            for item in page.get("Items", []):
                yield item
            if "LastEvaluatedKey" not in page:
                return
            request = {**request, "ExclusiveStartKey": page["LastEvaluatedKey"]}
            page = None

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

    async def _transact(self, write: Write, checks: list[_Check], token: str) -> list[StoredEvent]:
        records = write.records
        owners = [record.id for record in records]
        items = [self._new_item(_item(record)) for record in records]
        if write.idempotency_key is not None:
            owners.append(token)
            items.append(self._key_put(write, token))
        items.extend(check.request for check in checks)
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
                landed = _landed(error, write, reasons, owners, checks)
                return [_record(item).to_event(_position_of(item)) for item in landed]
            return [record.to_event(_position(record)) for record in records]

    def _key_put(self, write: Write, token: str) -> dict[str, Any]:
        """The idempotency key's item: new, or replacing one whose time is up.

        DynamoDB's TTL deletes the item some time (up to days) after ``ttl``; until then the
        condition treats it as gone already, so a key expires exactly as on every backend.
        """
        expired = format_time(parse_time(write.recorded_at) - IDEMPOTENCY_KEY_TTL)
        put = self._new_item(_key_item(write, token))
        put["Put"]["ConditionExpression"] = f"{_NEW_ITEM} OR #ts <= :expired"
        put["Put"]["ExpressionAttributeNames"] = {"#ts": "ts"}
        put["Put"]["ExpressionAttributeValues"] = {":expired": {"S": expired}}
        return put

    def _new_item(self, item: Item) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self.table,
                "Item": item,
                "ConditionExpression": _NEW_ITEM,
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    async def _acquire(
        self, name: str, owner: str, now: datetime, expires_at: datetime
    ) -> Lease | None:
        await self._ensure_table()
        current = await self._lease(name)
        lease = leases.taken(current, name, owner, now, expires_at)
        if lease is None:
            return None
        condition: dict[str, Any] = {"ConditionExpression": _NEW_ITEM}
        if current is not None:
            condition = {
                "ConditionExpression": "#token = :seen",
                "ExpressionAttributeNames": {"#token": "token"},
                "ExpressionAttributeValues": {":seen": {"N": str(current.token)}},
            }
        try:
            await self._call("put_item", TableName=self.table, Item=_lease_item(lease), **condition)
        except ClientError as error:
            if _code(error) != "ConditionalCheckFailedException":
                raise
            return None
        return lease

    async def _renew(self, lease: Lease, now: datetime, expires_at: datetime) -> Lease:
        await self._ensure_table()
        updated = await self._update_lease(
            lease,
            expires_at,
            "#token = :token AND #owner = :owner AND #expires > :now",
            now,
        )
        if not updated:
            raise LeaseLost(lease.name, lease.token)
        return replace(lease, expires_at=expires_at)

    async def _release(self, lease: Lease, now: datetime) -> None:
        await self._ensure_table()
        await self._update_lease(lease, now, "#token = :token AND #expires > :now", now)

    async def _update_lease(
        self, lease: Lease, expires_at: datetime, condition: str, now: datetime
    ) -> bool:
        """Set the lease's expiry if ``condition`` holds; whether it did."""
        values = {
            ":token": {"N": str(lease.token)},
            ":now": {"S": format_time(now)},
            ":expires_at": {"S": format_time(expires_at)},
        }
        if "#owner" in condition:
            values[":owner"] = {"S": lease.owner}
        try:
            await self._call(
                "update_item",
                TableName=self.table,
                Key=_key(LEASE_PREFIX + lease.name),
                UpdateExpression="SET #expires = :expires_at",
                ConditionExpression=condition,
                ExpressionAttributeNames={
                    name: value
                    for name, value in _LEASE_NAMES.items()
                    if name in f"{condition} #expires"
                },
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if _code(error) != "ConditionalCheckFailedException":
                raise
            return False
        return True

    async def _lease(self, name: str) -> Lease | None:
        item = await self._get(_key(LEASE_PREFIX + name))
        if item is None:
            return None
        return Lease(
            name, item["owner"]["S"], int(item["token"]["N"]), parse_time(item["expires"]["S"])
        )

    async def _get(self, key: Item) -> Item | None:
        answer = await self._call("get_item", TableName=self.table, Key=key, ConsistentRead=True)
        item: Item | None = answer.get("Item")
        return item

    async def _save_checkpoint(self, name: str, data: bytes) -> int:
        """The chunks first, under a key of their own, then the head item that points at them
        (the commit), then the chunks of the head it replaced are deleted. A save cut short
        leaves unreferenced chunks behind, which cost storage only: a load never sees them."""
        await self._ensure_table()
        pk = CHECKPOINT_PREFIX + name
        blob = f"{pk}#{uuid.uuid4()}"
        chunks = [data[i : i + _CHUNK_BYTES] for i in range(0, len(data), _CHUNK_BYTES)]
        await self._each(
            "put_item",
            [
                {"Item": {**_key(blob, number), "data": {"B": chunk}}}
                for number, chunk in enumerate(chunks, start=1)
            ],
        )
        while True:
            head = await self._get(_key(pk))
            version = int(head["version"]["N"]) + 1 if head is not None else 1
            new_head = {
                **_key(pk),
                "version": {"N": str(version)},
                "blob": {"S": blob},
                "chunks": {"N": str(len(chunks))},
                "sha256": {"S": hashlib.sha256(data).hexdigest()},
            }
            condition: dict[str, Any] = {"ConditionExpression": _NEW_ITEM}
            if head is not None:
                condition = {
                    "ConditionExpression": "#version = :seen",
                    "ExpressionAttributeNames": {"#version": "version"},
                    "ExpressionAttributeValues": {":seen": head["version"]},
                }
            try:
                await self._call("put_item", TableName=self.table, Item=new_head, **condition)
            except ClientError as error:
                if _code(error) != "ConditionalCheckFailedException":
                    raise
                continue
            if head is not None:
                await self._delete_chunks(head["blob"]["S"], int(head["chunks"]["N"]))
            return version

    async def load_checkpoint(self, name: str) -> Checkpoint | None:
        """The head item, then its chunks; if a save deleted them meanwhile, the (newer) head
        is read again."""
        await self._ensure_table()
        for _ in range(_LOAD_ATTEMPTS):
            head = await self._get(_key(CHECKPOINT_PREFIX + name))
            if head is None:
                return None
            request: dict[str, Any] = {
                "TableName": self.table,
                "KeyConditionExpression": "pk = :pk",
                "ExpressionAttributeValues": {":pk": head["blob"]},
                "ConsistentRead": True,
            }
            chunks = [item async for item in self._pages("query", request)]
            data = b"".join(chunk["data"]["B"] for chunk in chunks)
            if len(chunks) == int(head["chunks"]["N"]) and (
                hashlib.sha256(data).hexdigest() == head["sha256"]["S"]
            ):
                return Checkpoint(name, int(head["version"]["N"]), data)
        raise EventStoreError(
            f"checkpoint {name!r} was replaced {_LOAD_ATTEMPTS} times while it was being read"
        )

    async def _delete_chunks(self, blob: str, count: int) -> None:
        await self._each("delete_item", [{"Key": _key(blob, sk)} for sk in range(1, count + 1)])

    async def _each(self, operation: str, requests: list[dict[str, Any]]) -> None:
        """Send one request per entry, as many at once as the pool has threads."""
        await asyncio.gather(
            *(self._call(operation, TableName=self.table, **request) for request in requests)
        )

    async def ensure_table(self) -> None:
        """Check the table exists, creating it unless ``create=false``; once per store. For a
        caller keeping items of its own in the table before the store's first request."""
        await self._ensure_table()

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
        self._first_bucket = self._read_first_bucket()
        ttl = self.client.describe_time_to_live(TableName=self.table)["TimeToLiveDescription"]
        if ttl.get("TimeToLiveStatus") in ("DISABLED", None) and self._create:
            self.client.update_time_to_live(
                TableName=self.table,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": _TTL_ATTRIBUTE},
            )

    def _read_first_bucket(self) -> str:
        """The earliest hour bucket of the feed, from its bookkeeping item.

        A table from before that item has its index scanned once for its earliest bucket (in
        pages, keeping only the least); an empty one starts at the present hour.
        """
        item = self.client.get_item(
            TableName=self.table, Key=_FIRST_BUCKET, ConsistentRead=True
        ).get("Item")
        if item is not None:
            return str(item["first"]["S"])
        earliest = _bucket(self._clock())
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": FEED_INDEX,
            "ProjectionExpression": "gpk",
        }
        while True:
            page = self.client.scan(**request)
            earliest = min([earliest, *(item["gpk"]["S"] for item in page.get("Items", []))])
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return self._lower_first_bucket(earliest)

    def _lower_first_bucket(self, bucket: str) -> str:
        """Move the feed's first bucket back to ``bucket`` unless it is there already."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key=_FIRST_BUCKET,
                UpdateExpression="SET #first = :bucket",
                ConditionExpression="attribute_not_exists(pk) OR #first > :bucket",
                ExpressionAttributeNames={"#first": "first"},
                ExpressionAttributeValues={":bucket": {"S": bucket}},
            )
        except ClientError as error:
            if _code(error) != "ConditionalCheckFailedException":
                raise
        return bucket

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


def _landed(
    error: ClientError,
    write: Write,
    reasons: list[Any],
    owners: list[str],
    checks: list[_Check],
) -> list[Item]:
    """The stored items when a cancelled transaction had in fact landed, else the caller's error.

    It landed if every put failed its condition against the very item this write puts (an
    earlier attempt of the same request went through). Otherwise a used idempotency key is
    reported first, then a lost lease, then the first stale stream.
    """
    codes = [reason.get("Code") for reason in reasons]
    failures = {code for code in codes if code != "None"}
    if len(codes) != len(owners) + len(checks) or failures != {_FAILED}:
        raise error
    puts = [reason.get("Item") for reason in reasons[: len(owners)]]
    if all(_is_own(item, owner) for item, owner in zip(puts, owners, strict=True)):
        return [item for item in puts[: len(write.records)] if item is not None]
    if write.idempotency_key is not None and codes[len(owners) - 1] == _FAILED:
        raise AlreadyAppended(write.idempotency_key) from None
    for check, code in zip(checks, codes[len(owners) :], strict=True):
        if code == _FAILED:
            raise check.refusal from None
    stale = write.records[codes.index(_FAILED)].stream_id
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


def _key(pk: str, sk: int = 0) -> Item:
    """The key of an item; the store's own items (keys, leases, checkpoints) sit at sk 0."""
    return {"pk": {"S": pk}, "sk": {"N": str(sk)}}


def _key_item(write: Write, token: str) -> Item:
    expires = parse_time(write.recorded_at) + IDEMPOTENCY_KEY_TTL
    return {
        **_key(f"{KEY_PREFIX}{write.idempotency_key}"),
        "token": {"S": token},
        "ts": {"S": write.recorded_at},
        _TTL_ATTRIBUTE: {"N": str(int(expires.timestamp()) + 1)},
    }


def _lease_item(lease: Lease) -> Item:
    return {
        **_key(LEASE_PREFIX + lease.name),
        "owner": {"S": lease.owner},
        "token": {"N": str(lease.token)},
        "expires": {"S": format_time(lease.expires_at)},
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
        yield _bucket(hour)
        hour += timedelta(hours=1)


async def _in_feed_order(items: AsyncIterator[Item]) -> AsyncIterator[Item]:
    """Index order (``ts#id``), except that events keyed in the same millisecond go in
    (stream, version) order; only one millisecond's events are held at a time."""
    same_moment: list[Item] = []
    async for item in items:
        if same_moment and _stamp(same_moment[0]) != _stamp(item):
            for held in sorted(same_moment, key=_stream_order):
                yield held
            same_moment = []
        same_moment.append(item)
    for held in sorted(same_moment, key=_stream_order):
        yield held


def _stamp(item: Item) -> str:
    return str(item["gsk"]["S"][:_STAMP_CHARS])


def _stream_order(item: Item) -> tuple[str, int]:
    return item["pk"]["S"], int(item["sk"]["N"])


def _bucket(moment: datetime) -> str:
    return format_time(moment)[:_BUCKET_CHARS]


def _bucket_time(bucket: str) -> datetime:
    return datetime.fromisoformat(f"{bucket}:00:00+00:00")


def _restamped(write: Write, now: datetime) -> Write:
    stamp = format_time(now)
    streams = tuple(
        replace(stream, records=tuple(replace(r, recorded_at=stamp) for r in stream.records))
        for stream in write.streams
    )
    return replace(write, streams=streams)
