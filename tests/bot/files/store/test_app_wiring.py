"""The object store inside the whole app: built from RR_FILES_*, its links served by rr's own
web app, and a start-up that stops with one line when the store cannot be used."""

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import Settings
from bot.entrypoints.app import App, FatalError
from bot.files.store import LocalObjectStore, ObjectKey, S3ObjectStore
from tests.bot.files.store.conftest import REGION, S3Server, make_bucket
from tests.bot.files.store.http import download, upload

pytestmark = pytest.mark.e2e

SQUADRON = "123456789012345678"
KEY = "s" * 40


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith(("RR_", "DISCORD_", "STRIPE_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RR_EVENT_STORE", "memory://")
    monkeypatch.setenv("RR_WEB_PORT", "0")
    monkeypatch.setenv("RR_LOCAL_INSTANCES_DIR", str(tmp_path / "instances"))
    yield


async def test_by_default_files_live_in_var_files_behind_rrs_web_app(
    environment: None, tmp_path: Path
) -> None:
    app = App(Settings(_env_file=None))
    await app.start()
    try:
        files = app.files
        assert isinstance(files, LocalObjectStore)
        assert files.root == tmp_path / "var/files"
        stored = await files.put(SQUADRON, b"mission")
        url = await files.download_link(stored.key, timedelta(minutes=5))
        assert url.startswith(f"{app.base_url}/files/v1/objects/")
        assert (await download(url))[:2] == (200, b"mission")

        key = ObjectKey.debrief(SQUADRON, "s-1", "dcs.log")
        link = await files.upload_link(key, 10, timedelta(minutes=5))
        assert await upload(link, b"log") == 204
        assert (tmp_path / "var/files" / key).read_bytes() == b"log"
    finally:
        await app.stop()
    assert app.files is None


async def test_links_of_one_process_work_in_another_with_the_same_signing_key(
    environment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RR_FILES_SIGNING_KEY", KEY)
    assert KEY in Settings(_env_file=None).secret_values()
    first, second = App(Settings(_env_file=None)), App(Settings(_env_file=None))
    await first.start()
    await second.start()
    try:
        assert first.files is not None and second.files is not None
        stored = await first.files.put(SQUADRON, b"shared")
        url = await first.files.download_link(stored.key, timedelta(minutes=5))
        assert (await download(url.replace(first.base_url, second.base_url)))[0] == 200
    finally:
        await second.stop()
        await first.stop()


async def test_without_a_signing_key_each_process_signs_with_its_own(environment: None) -> None:
    first, second = App(Settings(_env_file=None)), App(Settings(_env_file=None))
    await first.start()
    await second.start()
    try:
        assert first.files is not None
        stored = await first.files.put(SQUADRON, b"mine")
        url = await first.files.download_link(stored.key, timedelta(minutes=5))
        assert (await download(url))[0] == 200
        assert (await download(url.replace(first.base_url, second.base_url)))[0] == 403
    finally:
        await second.stop()
        await first.stop()


async def test_an_s3_store_serves_no_route_of_its_own(
    environment: None, monkeypatch: pytest.MonkeyPatch, s3: S3Server
) -> None:
    bucket = make_bucket(s3)
    monkeypatch.setenv(
        "RR_FILES_STORE", f"s3://{bucket}/rr?region={REGION}&endpoint_url={s3.endpoint}"
    )
    app = App(Settings(_env_file=None))
    await app.start()
    try:
        assert isinstance(app.files, S3ObjectStore)
        assert app.files.location == f"s3://{bucket}/rr"
        status, _, _ = await download(f"{app.base_url}/files/v1/objects/a?expires=1&signature=x")
        assert status == 404
    finally:
        await app.stop()


@pytest.mark.parametrize(
    ("store", "says"),
    [
        ("s3://Bad_Bucket", "RR_FILES_STORE is not usable: An S3 file store URL names its bucket"),
        ("s3://rr-missing-bucket?region=eu-west-1&endpoint_url={endpoint}", "bucket cannot be"),
    ],
)
async def test_a_store_that_cannot_be_used_stops_start_up_with_one_line(
    environment: None, monkeypatch: pytest.MonkeyPatch, s3: S3Server, store: str, says: str
) -> None:
    monkeypatch.setenv("RR_FILES_STORE", store.format(endpoint=s3.endpoint))
    app = App(Settings(_env_file=None))
    with pytest.raises(FatalError, match=says) as raised:
        await app.start()
    assert "\n" not in str(raised.value)


def test_the_limits_come_from_the_settings(
    environment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RR_FILES_MISSION_MAX_MB", "20")
    monkeypatch.setenv("RR_FILES_MISSION_QUOTA_COUNT", "5")
    monkeypatch.setenv("RR_FILES_MISSION_QUOTA_MB", "60")
    monkeypatch.setenv("RR_FILES_DEBRIEF_MAX_MB", "300")
    monkeypatch.setenv("RR_FILES_DEBRIEF_DAYS", "3")

    limits = App(Settings(_env_file=None)).file_limits

    assert (limits.mission.max_file_bytes, limits.mission.max_count) == (20_000_000, 5)
    assert limits.mission.max_bytes == 60_000_000
    assert limits.debrief_max_bytes == 300_000_000
    assert limits.debrief_link_lifetime == timedelta(days=3)
    assert limits.server_link_lifetime == timedelta(minutes=15)
