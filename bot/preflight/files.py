"""The preflight's file store item: the S3 bucket answers, and an empty probe object under rr's
prefix is written, looked up and deleted again (nothing is left behind)."""

import asyncio

from botocore.exceptions import BotoCoreError, ClientError

from bot.clock import Clock
from bot.cloud.ec2.errors import error_code
from bot.config import Settings
from bot.files.store.keys import ObjectKey
from bot.files.store.open import open_object_store
from bot.files.store.s3 import S3ObjectStore
from bot.preflight.findings import Finding, aws_failure, failed, passed

PROBE = ObjectKey("preflight/rr-check")


async def file_store(settings: Settings, clock: Clock) -> Finding:
    url = settings.files.store
    if not url.startswith("s3://"):
        return passed("file store", "a folder on this machine: nothing on AWS to check")
    item = f"file store {url.partition('?')[0]}"
    try:
        store = await open_object_store(url, clock=clock, base_url="http://unused")
    except ValueError as error:
        return failed(item, f"{error} (RR_FILES_STORE)")
    except ClientError as error:
        if error_code(error) in ("404", "NoSuchBucket"):
            return failed(
                item, "the bucket does not exist; set RR_FILES_STORE to the stack's output."
            )
        return aws_failure(item, error, "s3:ListBucket")
    except BotoCoreError as error:
        return aws_failure(item, error, "s3:ListBucket")
    assert isinstance(store, S3ObjectStore)
    try:
        return await _probe(store, item)
    finally:
        await store.close()


async def _probe(store: S3ObjectStore, item: str) -> Finding:
    key = store.s3_key(PROBE)
    client = store.client
    steps = [
        ("s3:PutObject", client.put_object, {"Body": b""}),
        ("s3:GetObject", client.head_object, {}),
        ("s3:DeleteObject", client.delete_object, {}),
    ]
    for action, function, extra in steps:
        try:
            await asyncio.to_thread(function, Bucket=store.bucket, Key=key, **extra)
        except (ClientError, BotoCoreError) as error:
            return aws_failure(item, error, action)
    return passed(item, f"the bucket answers; {key} was written, read and deleted")
