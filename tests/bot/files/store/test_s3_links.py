"""What an S3 upload link asks S3 to enforce, and that a link changed to ask for more is refused
(S3's checks as `tests.fakes.s3_presigned` applies them to moto)."""

import base64
import json
from datetime import datetime, timedelta

from bot.files.store import ObjectKey, S3ObjectStore
from tests.bot.files.store.conftest import Backend
from tests.bot.files.store.http import upload

KEY = ObjectKey.debrief("123456789012345678", "s-1", "tacview-1.acmi")


def policy_of(fields: dict[str, str]) -> dict:  # type: ignore[type-arg]
    return dict(json.loads(base64.b64decode(fields["policy"])))


async def test_the_policy_holds_the_exact_key_the_size_range_and_the_expiry(
    s3_backend: Backend,
) -> None:
    store = s3_backend.store
    assert isinstance(store, S3ObjectStore)
    link = await store.upload_link(KEY, max_bytes=5000, expires_in=timedelta(minutes=15))

    policy = policy_of(dict(link.fields))
    assert {"key": f"rr/test/{KEY}"} in policy["conditions"]
    assert {"bucket": store.bucket} in policy["conditions"]
    assert ["content-length-range", 0, 5000] in policy["conditions"]
    expiration = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert abs(expiration - link.expires_at) < timedelta(seconds=5)


async def test_a_policy_changed_to_a_larger_cap_is_refused(s3_backend: Backend) -> None:
    link = await s3_backend.store.upload_link(KEY, max_bytes=10, expires_in=timedelta(minutes=5))
    policy = policy_of(dict(link.fields))
    policy["conditions"] = [
        ["content-length-range", 0, 10_000] if isinstance(c, list) else c
        for c in policy["conditions"]
    ]
    forged = {**link.fields, "policy": base64.b64encode(json.dumps(policy).encode()).decode()}

    assert await upload(link, b"x" * 100, forged) == 403
    assert await s3_backend.store.head(KEY) is None


async def test_a_field_the_policy_does_not_cover_is_refused(s3_backend: Backend) -> None:
    link = await s3_backend.store.upload_link(KEY, max_bytes=10, expires_in=timedelta(minutes=5))

    assert await upload(link, b"x", {**link.fields, "acl": "public-read"}) == 403
    assert await s3_backend.store.head(KEY) is None
