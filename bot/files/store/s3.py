"""The S3 object store: objects under ``<prefix>/`` in one bucket, through boto3 off the loop.

Upload links are presigned POSTs whose policy S3 enforces: exactly this key, a
``content-length-range`` of 0 to ``max_bytes`` (S3 answers ``EntityTooLarge`` and stores
nothing), and an expiry. Download links are presigned GETs. Both are signed with the bot's
credentials, so they stop working when those do: with temporary credentials (an instance or
task role) a link lives at most as long as the role's session, whatever it asked for.
"""

import asyncio
import hashlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from bot.files.store.base import (
    DIGEST_CHUNK_BYTES,
    ObjectInfo,
    ObjectNotFound,
    UploadLink,
    check_lifetime,
    check_max_bytes,
    content_disposition,
)
from bot.files.store.keys import ObjectKey
from bot.routes import RouteRegistrar

_NOT_FOUND = frozenset({"404", "NoSuchKey", "NotFound"})


class S3ObjectStore:
    def __init__(
        self,
        client: Any,
        bucket: str,
        prefix: str,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """``client`` is a boto3 S3 client (`open_s3_client`); ``prefix`` has no slashes at
        either end ('' for the bucket's root). ``now`` only dates the links' ``expires_at``:
        S3 checks expiry against its own clock."""
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self._now = now

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def s3_key(self, key: ObjectKey) -> str:
        return f"{self.prefix}/{key}" if self.prefix else str(key)

    async def put(self, squadron_id: str, data: bytes) -> ObjectInfo:
        key = ObjectKey.content(squadron_id, hashlib.sha256(data).hexdigest())
        if await self.head(key) is None:
            await asyncio.to_thread(
                self.client.put_object, Bucket=self.bucket, Key=self.s3_key(key), Body=data
            )
        return ObjectInfo(key, len(data))

    async def head(self, key: ObjectKey) -> ObjectInfo | None:
        try:
            reply = await asyncio.to_thread(
                self.client.head_object, Bucket=self.bucket, Key=self.s3_key(key)
            )
        except ClientError as error:
            if _code(error) in _NOT_FOUND:
                return None
            raise
        return ObjectInfo(key, int(reply["ContentLength"]))

    async def get(self, key: ObjectKey) -> bytes:
        def read() -> bytes:
            reply = self.client.get_object(Bucket=self.bucket, Key=self.s3_key(key))
            with reply["Body"] as body:
                return bytes(body.read())

        try:
            return await asyncio.to_thread(read)
        except ClientError as error:
            if _code(error) in _NOT_FOUND:
                raise ObjectNotFound(key) from None
            raise

    async def sha256(self, key: ObjectKey) -> str | None:
        def digest() -> str:
            reply = self.client.get_object(Bucket=self.bucket, Key=self.s3_key(key))
            found = hashlib.sha256()
            body = reply["Body"]
            try:
                for chunk in body.iter_chunks(DIGEST_CHUNK_BYTES):
                    found.update(chunk)
            finally:
                body.close()
            return found.hexdigest()

        try:
            return await asyncio.to_thread(digest)
        except ClientError as error:
            if _code(error) in _NOT_FOUND:
                return None
            raise

    async def delete(self, key: ObjectKey) -> None:
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=self.s3_key(key))

    async def download_link(
        self, key: ObjectKey, expires_in: timedelta, filename: str | None = None
    ) -> str:
        check_lifetime(expires_in)
        params = {"Bucket": self.bucket, "Key": self.s3_key(key)}
        if filename is not None:
            params["ResponseContentDisposition"] = content_disposition(filename)
        url = await asyncio.to_thread(
            self.client.generate_presigned_url,
            "get_object",
            Params=params,
            ExpiresIn=int(expires_in.total_seconds()),
        )
        return str(url)

    async def upload_link(
        self, key: ObjectKey, max_bytes: int, expires_in: timedelta
    ) -> UploadLink:
        check_lifetime(expires_in)
        check_max_bytes(max_bytes)
        expires_at = self._now() + expires_in
        post = await asyncio.to_thread(
            self.client.generate_presigned_post,
            self.bucket,
            self.s3_key(key),
            Conditions=[["content-length-range", 0, max_bytes]],
            ExpiresIn=int(expires_in.total_seconds()),
        )
        return UploadLink(post["url"], dict(post["fields"]), max_bytes, expires_at)

    def web_routes(self) -> Sequence[RouteRegistrar]:
        return ()

    async def close(self) -> None:
        await asyncio.to_thread(self.client.close)


CLIENT_CONFIG = Config(
    signature_version="s3v4",
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=60,
)


async def open_s3_client(region: str | None, endpoint_url: str | None) -> Any:
    """A boto3 S3 client for ``region`` (else boto3's own), built off the loop (it reads
    files). A custom endpoint (a local S3-compatible server) is addressed by path."""

    def build() -> Any:
        session = boto3.session.Session()
        chosen = region or session.region_name
        if not chosen:
            raise ValueError(
                "An S3 file store needs a region: add ?region=… to RR_FILES_STORE or set "
                "AWS_DEFAULT_REGION."
            )
        style = "path" if endpoint_url else "virtual"
        config = CLIENT_CONFIG.merge(Config(s3={"addressing_style": style}))
        return session.client("s3", region_name=chosen, endpoint_url=endpoint_url, config=config)

    return await asyncio.to_thread(build)


async def check_bucket(store: S3ObjectStore) -> None:
    """Raise `botocore.exceptions.ClientError` unless the bucket exists and rr may use it."""
    await asyncio.to_thread(store.client.head_bucket, Bucket=store.bucket)


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
