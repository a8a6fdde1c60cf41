"""Object keys are safe names; RR_FILES_STORE URLs open the store they name or say what is
wrong."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from bot.files.store import (
    InvalidKey,
    LocalObjectStore,
    ObjectKey,
    S3ObjectStore,
    open_object_store,
)
from tests.bot.files.store.conftest import REGION, S3Server, make_bucket
from tests.fakes.clock import FakeClock

SHA = "ab" * 32
CLOCK = FakeClock(datetime(2026, 12, 5, 9, 0, tzinfo=UTC))


@pytest.mark.parametrize(
    "key", ["a", "squadrons/1/sha256/" + SHA, "x/Tacview-2026.zip.acmi", "a_b-c.d/e"]
)
def test_keys_of_safe_parts_are_taken(key: str) -> None:
    assert ObjectKey(key) == key


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/a",
        "a/",
        "a//b",
        ".",
        "..",
        "a/../b",
        "a/./b",
        ".hidden",
        "a\\b",
        "a b",
        "é",
        "a/b/c/d/e/f/g/h/i",
        "a" * 129,
        "a\x00",
    ],
)
def test_keys_that_could_leave_the_store_are_refused(key: str) -> None:
    with pytest.raises(InvalidKey, match="not an object key"):
        ObjectKey(key)


def test_content_and_session_keys_sit_under_the_squadron() -> None:
    assert ObjectKey.content("123", SHA) == f"squadrons/123/sha256/{SHA}"
    assert ObjectKey.debrief("123", "s-1", "dcs.log") == "debriefs/123/s-1/dcs.log"
    with pytest.raises(InvalidKey, match="SHA-256"):
        ObjectKey.content("123", SHA.upper())
    with pytest.raises(InvalidKey, match="squadron"):
        ObjectKey.content("../1", SHA)
    with pytest.raises(InvalidKey, match="not an object key"):
        ObjectKey.debrief("123", "..", "dcs.log")


async def test_a_file_url_opens_a_folder_made_on_the_first_write(tmp_path: Path) -> None:
    store = await open_object_store(
        f"file://{tmp_path}/var/files", clock=CLOCK, base_url="http://127.0.0.1:1"
    )
    assert isinstance(store, LocalObjectStore)
    assert store.location == f"file://{tmp_path}/var/files"
    assert not (tmp_path / "var").exists()

    await store.put("1", b"x")
    assert list((tmp_path / "var/files/.incoming").iterdir()) == []


async def test_a_relative_file_url_is_relative_to_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = await open_object_store("file://./var/files", clock=CLOCK, base_url="http://h")
    await store.put("1", b"x")
    assert len(list((tmp_path / "var/files/squadrons/1/sha256").iterdir())) == 1


async def test_an_s3_url_opens_its_bucket_and_prefix(s3: S3Server) -> None:
    bucket = make_bucket(s3)
    store = await open_object_store(
        f"s3://{bucket}/rr/prod?region={REGION}&endpoint_url={s3.endpoint}",
        clock=CLOCK,
        base_url="http://unused.invalid",
    )
    try:
        assert isinstance(store, S3ObjectStore)
        assert store.location == f"s3://{bucket}/rr/prod"
        stored = await store.put("1", b"x")
        assert store.s3_key(stored.key) == f"rr/prod/{stored.key}"
        assert await store.download_link(stored.key, timedelta(minutes=1)) != ""
    finally:
        await store.close()


async def test_an_s3_url_whose_bucket_is_missing_stops_with_s3s_answer(s3: S3Server) -> None:
    with pytest.raises(ClientError):
        await open_object_store(
            f"s3://rr-no-such-bucket?region={REGION}&endpoint_url={s3.endpoint}",
            clock=CLOCK,
            base_url="http://unused.invalid",
        )


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("file://", "names a folder"),
        ("file://./x?create=false", "names a folder"),
        ("ftp://x", "Unknown file store URL"),
        ("s3://", "bucket"),
        ("s3://Bad_Bucket", "bucket"),
        ("s3://bucket/../x", "prefix"),
        ("s3://bucket?colour=blue", "region and endpoint_url"),
        ("s3://bucket?region=a&region=b", "region and endpoint_url"),
    ],
)
async def test_a_bad_url_says_what_is_wrong(url: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        await open_object_store(url, clock=CLOCK, base_url="http://h")


async def test_an_s3_store_needs_a_region(
    s3: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with pytest.raises(ValueError, match="needs a region"):
        await open_object_store(
            f"s3://rr-bucket?endpoint_url={s3.endpoint}", clock=CLOCK, base_url="http://h"
        )
