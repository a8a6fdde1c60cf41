"""The local store's routes on rr's web app refuse whatever rr did not sign, and write nothing
when they refuse."""

import logging
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import aiohttp
import pytest
from yarl import URL

from bot.files.store import ObjectKey
from bot.files.store.atomic import INCOMING
from tests.bot.files.store.conftest import SIGNING_KEY, Backend
from tests.bot.files.store.http import download, upload

SQUADRON = "123456789012345678"
SESSION = "3f6c2a9e-5b1d-4c7e-9a2f-0d8e1b7c6a54"
TEN_MINUTES = timedelta(minutes=10)


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query)) | changes
    return parts._replace(query=urlencode(query)).geturl()


def written(root: Path) -> list[Path]:
    """Every file in the store's folder, temporary ones included."""
    return sorted(path for path in root.rglob("*") if path.is_file())


@pytest.fixture
def local(local_backend: Backend) -> Backend:
    assert local_backend.root is not None
    return local_backend


async def test_a_changed_download_link_is_refused_with_403(local: Backend) -> None:
    stored = await local.store.put(SQUADRON, b"mission bytes")
    url = await local.store.download_link(stored.key, TEN_MINUTES, filename="a.miz")
    signature = dict(parse_qsl(urlsplit(url).query))["signature"]
    later = str(int(dict(parse_qsl(urlsplit(url).query))["expires"]) + 3600)

    for changed in (
        with_query(url, signature=("0" if signature[0] != "0" else "1") + signature[1:]),
        with_query(url, signature="é"),
        with_query(url, expires=later),
        with_query(url, expires="soon"),
        with_query(url, filename="b.miz"),
        url.replace(stored.key, ObjectKey.content(SQUADRON, "0" * 64)),
    ):
        status, body, _ = await download(changed)
        assert status == 403, changed
        assert body != b"mission bytes"


async def test_a_link_for_an_object_since_deleted_answers_404(local: Backend) -> None:
    stored = await local.store.put(SQUADRON, b"gone soon")
    url = await local.store.download_link(stored.key, TEN_MINUTES)
    await local.store.delete(stored.key)

    assert (await download(url))[0] == 404


@pytest.mark.parametrize(
    "path",
    [
        "/files/v1/objects/squadrons/1/..%2F..%2F..%2Fetc%2Fpasswd",
        "/files/v1/objects/%2E%2E/secret",
        "/files/v1/objects/squadrons/1/%5C..%5Csecret",
        "/files/v1/objects/.incoming/tmp123",
    ],
)
async def test_a_key_leaving_the_store_is_refused(local: Backend, path: str) -> None:
    url = await local.store.download_link(ObjectKey.content(SQUADRON, "0" * 64), TEN_MINUTES)
    base = url.split("/files/v1/", 1)[0]
    query = urlsplit(url).query
    async with (
        aiohttp.ClientSession() as http,
        http.get(URL(f"{base}{path}?{query}", encoded=True)) as reply,
    ):
        assert reply.status == 400
        assert (await reply.json())["error"] == "bad_key"


async def test_an_upload_to_a_key_leaving_the_store_is_refused(local: Backend) -> None:
    assert local.root is not None
    key = ObjectKey.debrief(SQUADRON, SESSION, "dcs.log")
    link = await local.store.upload_link(key, 100, TEN_MINUTES)

    assert await upload(link, b"x", {**link.fields, "key": "../outside"}) == 400
    assert await upload(link, b"x", {**link.fields, "key": "/etc/passwd"}) == 400
    assert written(local.root) == []
    assert not (local.root.parent / "outside").exists()


async def test_an_upload_link_is_not_a_download_link(local: Backend) -> None:
    stored = await local.store.put(SQUADRON, b"secret mission")
    link = await local.store.upload_link(stored.key, 100, TEN_MINUTES)
    url = await local.store.download_link(stored.key, TEN_MINUTES)

    stolen = with_query(url, signature=link.fields["signature"], expires=link.fields["expires"])
    assert (await download(stolen))[0] == 403
    download_signature = dict(parse_qsl(urlsplit(url).query))["signature"]
    forged = {**link.fields, "signature": download_signature, "max_bytes": ""}
    assert await upload(link, b"overwritten", forged) == 400
    assert await local.store.get(stored.key) == b"secret mission"


async def test_a_raised_size_cap_is_refused(local: Backend) -> None:
    assert local.root is not None
    key = ObjectKey.debrief(SQUADRON, SESSION, "dcs.log")
    link = await local.store.upload_link(key, 10, TEN_MINUTES)

    assert await upload(link, b"x" * 100, {**link.fields, "max_bytes": "1000"}) == 403
    assert written(local.root) == []


async def test_a_large_upload_over_the_cap_stops_early_and_leaves_nothing(local: Backend) -> None:
    assert local.root is not None
    key = ObjectKey.debrief(SQUADRON, SESSION, "big.acmi")
    link = await local.store.upload_link(key, 1024 * 1024, TEN_MINUTES)

    assert await upload(link, b"x" * (3 * 1024 * 1024)) == 413
    assert written(local.root) == []


async def test_a_streamed_upload_over_the_cap_leaves_nothing(local: Backend) -> None:
    """Without a Content-Length (chunked), the route counts the bytes as they come."""
    assert local.root is not None
    key = ObjectKey.debrief(SQUADRON, SESSION, "big.acmi")
    link = await local.store.upload_link(key, 300_000, TEN_MINUTES)

    async def chunks():  # type: ignore[no-untyped-def]
        yield b"x" * 200_000
        yield b"x" * 200_000

    with aiohttp.MultipartWriter("form-data") as form:
        for name, value in link.fields.items():
            form.append(value).set_content_disposition("form-data", name=name)
        form.append(chunks()).set_content_disposition("form-data", name="file", filename="f")
    async with aiohttp.ClientSession() as http, http.post(link.url, data=form) as reply:
        assert reply.status == 413
    assert written(local.root) == []


@pytest.mark.parametrize(
    "form",
    [
        [("file", b"x")],
        [("key", "k"), ("file", b"x")],
        [("key", "k"), ("expires", "1"), ("max_bytes", "1"), ("signature", "s"), ("key", "k")],
        [("key", "k"), ("expires", "1"), ("max_bytes", "1"), ("signature", "s")],
        [("surprise", "1"), ("file", b"x")],
        [("key", "k" * 2000), ("file", b"x")],
    ],
)
async def test_a_malformed_upload_form_is_refused_with_400(
    local: Backend, form: list[tuple[str, str | bytes]]
) -> None:
    assert local.root is not None
    data = aiohttp.FormData(default_to_multipart=True)
    for name, value in form:
        if isinstance(value, bytes):
            data.add_field(name, value, filename="f")
        else:
            data.add_field(name, value)
    link = await local.store.upload_link(ObjectKey("k"), 10, TEN_MINUTES)
    async with aiohttp.ClientSession() as http, http.post(link.url, data=data) as reply:
        assert reply.status == 400
        assert (await reply.json())["error"] == "bad_form"
    assert written(local.root) == []


async def test_an_upload_that_is_not_a_form_is_refused_with_415(local: Backend) -> None:
    link = await local.store.upload_link(ObjectKey("k"), 10, TEN_MINUTES)
    async with aiohttp.ClientSession() as http, http.post(link.url, json={"a": 1}) as reply:
        assert reply.status == 415


async def test_an_upload_replaces_the_file_whole(local: Backend) -> None:
    assert local.root is not None
    key = ObjectKey.debrief(SQUADRON, SESSION, "dcs.log")
    link = await local.store.upload_link(key, 100, TEN_MINUTES)

    assert await upload(link, b"first") == 204
    assert await upload(link, b"second, longer") == 204

    assert await local.store.get(key) == b"second, longer"
    assert written(local.root) == [local.root / key]
    assert list((local.root / INCOMING).iterdir()) == []


async def test_the_signing_key_reaches_no_log(
    local: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key = ObjectKey.debrief(SQUADRON, SESSION, "dcs.log")
    link = await local.store.upload_link(key, 10, TEN_MINUTES)
    await upload(link, b"x" * 11)
    await upload(link, b"ok")
    await upload(link, b"x", {**link.fields, "signature": "0" * 64})

    logged = caplog.text + repr(local.store.__dict__)
    assert SIGNING_KEY.decode() not in logged
    assert link.fields["signature"] not in caplog.text
    assert "file request refused" in caplog.text
