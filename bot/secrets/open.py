"""``open_keyring``: the master key RR_SECRETS_KEY names, and the key table beside the store."""

import asyncio
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import boto3
from botocore.config import Config

from bot.secrets.keyring import KeyRing
from bot.secrets.keytable import DynamoKeyTable, FileKeyTable, KeyTable
from bot.secrets.masters import FileMasterKey, KmsMasterKey, MasterKey
from eventstore import EventStore
from eventstore.dynamodb import DynamoDBEventStore

_KMS_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5)
_FORMS = "file://PATH or kms://KEY-ID-OR-ALIAS?region=REGION"


async def open_keyring(url: str, store: EventStore, key_table: Path) -> KeyRing:
    """The squadrons' keys: wrapped by the master key ``url`` names and kept in the event
    store's table on DynamoDB, else in the ``key_table`` file. A bad URL raises ValueError."""
    return KeyRing(await open_master_key(url), await _key_table(store, key_table))


async def open_master_key(url: str) -> MasterKey:
    """``file://./var/secrets.key`` (made on first use) or ``kms://<key id, ARN or alias/…>``
    with options ``region`` and ``endpoint_url``."""
    parts = urlsplit(url)
    where = parts.netloc + parts.path
    options = dict(parse_qsl(parts.query))
    if parts.scheme == "file" and where and not options:
        return FileMasterKey(Path(where))
    if parts.scheme == "kms" and where and set(options) <= {"region", "endpoint_url"}:
        client = await asyncio.to_thread(
            boto3.session.Session().client,
            "kms",
            region_name=options.get("region"),
            endpoint_url=options.get("endpoint_url"),
            config=_KMS_CONFIG,
        )
        return KmsMasterKey(client, where)
    raise ValueError(f"{url!r} names no master key: use {_FORMS}.")


async def _key_table(store: EventStore, path: Path) -> KeyTable:
    if isinstance(store, DynamoDBEventStore):
        await store.ensure_table()
        client = await asyncio.to_thread(lambda: store.client)
        return DynamoKeyTable(client, store.table)
    return FileKeyTable(path)
