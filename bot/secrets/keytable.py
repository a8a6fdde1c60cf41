"""Where each squadron's wrapped data key is kept: outside the event history, so deleting it
is possible (events are never changed) and forgets what it sealed.

On DynamoDB the key is an item of the event table (``pk = key#<guild id>``, ``sk = 0``): no
``gpk`` so it is not in the feed, and no stream is named ``key#…``. Elsewhere it is a JSON file
(``{guild id: {"id": …, "wrapped": base64}}``) replaced atomically, for one process.
"""

import asyncio
import base64
import json
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

KEY_ITEM_PREFIX = "key#"


@dataclass(frozen=True, slots=True)
class WrappedKey:
    key_id: str
    """Names the key in what it sealed, so a box sealed by a forgotten key is recognised."""
    wrapped: bytes


class KeyTable(ABC):
    @abstractmethod
    async def get(self, squadron_id: str) -> WrappedKey | None: ...

    @abstractmethod
    async def add(self, squadron_id: str, key: WrappedKey) -> WrappedKey:
        """Store ``key`` unless the squadron has one already; returns the one it has now."""

    @abstractmethod
    async def delete(self, squadron_id: str) -> bool:
        """Delete the squadron's key; False when it had none."""


class FileKeyTable(KeyTable):
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = asyncio.Lock()

    async def get(self, squadron_id: str) -> WrappedKey | None:
        entry = (await asyncio.to_thread(self._read)).get(squadron_id)
        if entry is None:
            return None
        return WrappedKey(entry["id"], base64.b64decode(entry["wrapped"]))

    async def add(self, squadron_id: str, key: WrappedKey) -> WrappedKey:
        async with self._lock:
            existing = await self.get(squadron_id)
            if existing is not None:
                return existing
            entries = await asyncio.to_thread(self._read)
            entries[squadron_id] = {
                "id": key.key_id,
                "wrapped": base64.b64encode(key.wrapped).decode(),
            }
            await asyncio.to_thread(self._write, entries)
            return key

    async def delete(self, squadron_id: str) -> bool:
        async with self._lock:
            entries = await asyncio.to_thread(self._read)
            if entries.pop(squadron_id, None) is None:
                return False
            await asyncio.to_thread(self._write, entries)
            return True

    def _read(self) -> dict[str, dict[str, str]]:
        try:
            entries: dict[str, dict[str, str]] = json.loads(self.path.read_text("utf-8"))
        except FileNotFoundError:
            return {}
        return entries

    def _write(self, entries: dict[str, dict[str, str]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        incoming = self.path.with_name(self.path.name + ".incoming")
        descriptor = os.open(incoming, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            json.dump(entries, file, sort_keys=True)
            file.flush()
            os.fsync(file.fileno())
        os.replace(incoming, self.path)


class DynamoKeyTable(KeyTable):
    """Key items in the event store's table, written only if absent (two processes making a
    squadron's first key at once agree on one)."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    async def get(self, squadron_id: str) -> WrappedKey | None:
        answer = await asyncio.to_thread(
            self._client.get_item,
            TableName=self._table,
            Key=_key(squadron_id),
            ConsistentRead=True,
        )
        item = answer.get("Item")
        if item is None:
            return None
        return WrappedKey(item["kid"]["S"], item["wrapped"]["B"])

    async def add(self, squadron_id: str, key: WrappedKey) -> WrappedKey:
        item = {**_key(squadron_id), "kid": {"S": key.key_id}, "wrapped": {"B": key.wrapped}}
        try:
            await asyncio.to_thread(
                self._client.put_item,
                TableName=self._table,
                Item=item,
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            existing = await self.get(squadron_id)
            if existing is not None:
                return existing
            raise
        return key

    async def delete(self, squadron_id: str) -> bool:
        answer = await asyncio.to_thread(
            self._client.delete_item,
            TableName=self._table,
            Key=_key(squadron_id),
            ReturnValues="ALL_OLD",
        )
        return "Attributes" in answer


def _key(squadron_id: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": KEY_ITEM_PREFIX + squadron_id}, "sk": {"N": "0"}}
