"""Opening the object store RR_FILES_STORE names.

- ``file://./var/files`` (relative) or ``file:///srv/rr/files`` (absolute): a local folder,
  whose links are routes of rr's web app at ``base_url``;
- ``s3://BUCKET[/prefix]``, options ``region`` (else boto3's) and ``endpoint_url`` (only for a
  local S3-compatible server).
"""

import asyncio
import re
import secrets
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from bot.clock import Clock
from bot.files.store.base import ObjectStore
from bot.files.store.keys import InvalidKey, ObjectKey
from bot.files.store.local import LocalObjectStore
from bot.files.store.s3 import S3ObjectStore, check_bucket, open_s3_client
from bot.files.store.signing import LinkSigner

_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_FORMS = "file://./relative/folder, file:///absolute/folder or s3://BUCKET/prefix?region=REGION"


async def open_object_store(
    url: str, *, clock: Clock, base_url: str, signing_key: bytes | None = None
) -> ObjectStore:
    """The store ``url`` names; an S3 bucket must exist and answer.

    Raises ``ValueError`` saying what is wrong with the URL or the region, and botocore's
    errors when S3 does not answer or refuses. Without ``signing_key`` the local store signs
    its links with a key made now, which only this process knows.
    """
    parts = urlsplit(url)
    if parts.scheme == "file":
        path = url.removeprefix("file://").partition("?")[0]
        if not path or parts.query or parts.fragment:
            raise ValueError(f"A file store URL names a folder, not {url!r}: use {_FORMS}.")
        signer = LinkSigner(signing_key or secrets.token_bytes(32), clock.now)
        root = await asyncio.to_thread(Path(path).absolute)
        return LocalObjectStore(root, signer, base_url)
    if parts.scheme == "s3":
        return await _s3(url, parts.netloc, parts.path.strip("/"), parts.query, clock)
    raise ValueError(f"Unknown file store URL {url!r}: use {_FORMS}.")


async def _s3(url: str, bucket: str, prefix: str, query: str, clock: Clock) -> S3ObjectStore:
    if not _BUCKET.fullmatch(bucket):
        raise ValueError(f"An S3 file store URL names its bucket as the host, not {url!r}.")
    if prefix:
        try:
            ObjectKey(prefix)
        except InvalidKey:
            raise ValueError(
                f"The prefix in {url!r} has parts of letters, digits, '.', '_' and '-'."
            ) from None
    pairs = parse_qsl(query, keep_blank_values=True)
    options = dict(pairs)
    unknown = sorted(set(options) - {"region", "endpoint_url"})
    if unknown or len(options) != len(pairs):
        raise ValueError(
            f"An S3 file store URL takes each of region and endpoint_url at most once, not {url!r}."
        )
    region, endpoint_url = options.get("region") or None, options.get("endpoint_url") or None
    store = S3ObjectStore(await open_s3_client(region, endpoint_url), bucket, prefix, now=clock.now)
    try:
        await check_bucket(store)
    except BaseException:
        await store.close()
        raise
    return store
