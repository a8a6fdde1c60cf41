"""Every object store behaves alike: the local folder and S3 (moto on loopback), through their
links over real HTTP."""

import hashlib
from datetime import timedelta

import pytest

from bot.files.store import ObjectKey, ObjectNotFound
from tests.bot.files.store.conftest import Backend
from tests.bot.files.store.http import download, upload

SQUADRON = "123456789012345678"
OTHER_SQUADRON = "876543210987654321"
SESSION = "3f6c2a9e-5b1d-4c7e-9a2f-0d8e1b7c6a54"
MISSION = bytes(range(256)) * 40 + b"PK\x03\x04 end"
TEN_MINUTES = timedelta(minutes=10)


async def test_put_stores_bytes_under_the_squadrons_content_key(backend: Backend) -> None:
    stored = await backend.store.put(SQUADRON, MISSION)

    sha = hashlib.sha256(MISSION).hexdigest()
    assert stored.key == f"squadrons/{SQUADRON}/sha256/{sha}"
    assert stored.size == len(MISSION)
    assert await backend.store.head(stored.key) == stored
    assert await backend.store.get(stored.key) == MISSION


async def test_putting_the_same_bytes_again_changes_nothing(backend: Backend) -> None:
    first = await backend.store.put(SQUADRON, MISSION)
    again = await backend.store.put(SQUADRON, MISSION)
    elsewhere = await backend.store.put(OTHER_SQUADRON, MISSION)

    assert again == first
    assert elsewhere.key != first.key and elsewhere.key.endswith(first.key.rsplit("/", 1)[1])
    assert await backend.store.get(first.key) == MISSION


async def test_missing_objects_and_deleting(backend: Backend) -> None:
    stored = await backend.store.put(SQUADRON, b"x")
    missing = ObjectKey.content(SQUADRON, "0" * 64)

    assert await backend.store.head(missing) is None
    with pytest.raises(ObjectNotFound):
        await backend.store.get(missing)
    await backend.store.delete(missing)

    await backend.store.delete(stored.key)
    assert await backend.store.head(stored.key) is None
    with pytest.raises(ObjectNotFound):
        await backend.store.get(stored.key)


async def test_sha256_reads_the_stored_bytes_and_is_none_for_a_missing_object(
    backend: Backend,
) -> None:
    stored = await backend.store.put(SQUADRON, MISSION)

    assert await backend.store.sha256(stored.key) == hashlib.sha256(MISSION).hexdigest()
    assert await backend.store.sha256(ObjectKey.content(SQUADRON, "0" * 64)) is None


async def test_a_download_link_works_until_it_expires(backend: Backend) -> None:
    stored = await backend.store.put(SQUADRON, MISSION)
    url = await backend.store.download_link(stored.key, TEN_MINUTES, filename="Op Night Owl.miz")

    status, body, disposition = await download(url)
    assert (status, body) == (200, MISSION)
    assert disposition == "attachment; filename*=UTF-8''Op%20Night%20Owl.miz"

    await backend.advance(TEN_MINUTES + timedelta(seconds=2))
    status, body, _ = await download(url)
    assert status == 403 and body != MISSION


async def test_an_upload_link_stores_a_file_of_up_to_its_size(backend: Backend) -> None:
    key = ObjectKey.debrief(SQUADRON, SESSION, "tacview-1.acmi")
    link = await backend.store.upload_link(key, max_bytes=len(MISSION), expires_in=TEN_MINUTES)

    assert link.max_bytes == len(MISSION)
    assert await upload(link, MISSION) in (200, 201, 204)
    assert await backend.store.get(key) == MISSION


async def test_an_upload_over_the_cap_is_refused_and_stores_nothing(backend: Backend) -> None:
    key = ObjectKey.debrief(SQUADRON, SESSION, "dcs.log")
    link = await backend.store.upload_link(key, max_bytes=1000, expires_in=TEN_MINUTES)

    status = await upload(link, b"x" * 1001)

    assert status in (400, 413)
    assert await backend.store.head(key) is None


async def test_an_expired_upload_link_stores_nothing(backend: Backend) -> None:
    key = ObjectKey.debrief(SQUADRON, SESSION, "track.trk")
    link = await backend.store.upload_link(key, max_bytes=1000, expires_in=TEN_MINUTES)

    await backend.advance(TEN_MINUTES + timedelta(seconds=2))

    assert await upload(link, b"late") == 403
    assert await backend.store.head(key) is None


async def test_an_upload_link_cannot_be_turned_to_another_key(backend: Backend) -> None:
    key = ObjectKey.debrief(SQUADRON, SESSION, "dcs.log")
    other = ObjectKey.debrief(OTHER_SQUADRON, SESSION, "dcs.log")
    link = await backend.store.upload_link(key, max_bytes=1000, expires_in=TEN_MINUTES)

    assert (
        await upload(
            link,
            b"mine",
            {**link.fields, "key": link.fields["key"].replace(SQUADRON, OTHER_SQUADRON)},
        )
        == 403
    )
    assert await backend.store.head(key) is None
    assert await backend.store.head(other) is None


@pytest.mark.parametrize("expires_in", [timedelta(0), timedelta(days=7, seconds=1)])
async def test_links_live_more_than_nothing_and_at_most_seven_days(
    backend: Backend, expires_in: timedelta
) -> None:
    key = ObjectKey.content(SQUADRON, "0" * 64)
    with pytest.raises(ValueError, match="7 days"):
        await backend.store.download_link(key, expires_in)
    with pytest.raises(ValueError, match="7 days"):
        await backend.store.upload_link(key, 10, expires_in)


async def test_an_upload_link_takes_at_least_one_byte(backend: Backend) -> None:
    with pytest.raises(ValueError, match="at least 1 byte"):
        await backend.store.upload_link(ObjectKey.content(SQUADRON, "0" * 64), 0, TEN_MINUTES)
