"""The agent moves files through rr's links over real HTTP: the session's mission at boot, the
debrief at the end; the local store behind rr's web app and S3 (moto, with S3's POST rules)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest

from agent.files import BadFiles
from agent.transfers import (
    DownloadSpec,
    TransferFailed,
    download,
    form_head,
    post_file,
    unpack,
    upload_all,
)
from bot.agentapi import DebriefTarget, ServerDownload
from bot.agentapi.events import DebriefFileStored
from bot.files.store import ObjectKey
from tests.agent.conftest import Server
from tests.bot.agentapi.conftest import SESSION, Rr
from tests.bot.files.store.conftest import Backend

SQUADRON = "123456789012345678"
MISSION = b"PK\x03\x04" + bytes(range(256)) * 300
MISSION_PATH = "Missions/Op Snowfall.miz"
TEN_MINUTES = timedelta(minutes=10)


async def stored_mission(rr: Rr, data: bytes = MISSION) -> ServerDownload:
    assert rr.objects is not None
    info = await rr.objects.put(SQUADRON, data)
    return ServerDownload(MISSION_PATH, info.key, hashlib.sha256(data).hexdigest(), info.size)


async def test_boot_downloads_the_sessions_mission_byte_exact_before_starting_dcs(
    rr: Rr, server: Server
) -> None:
    rr.downloads.put(SESSION, 1, [await stored_mission(rr)])

    assert await server.agent.boot()

    assert (server.agent.root / MISSION_PATH).read_bytes() == MISSION
    assert server.started  # DCS started after the mission was in place
    assert [p.name for p in (server.agent.root / "Missions").iterdir()] == ["Op Snowfall.miz"]


async def test_a_download_that_does_not_match_is_refused_and_fetched_again_with_new_links(
    rr: Rr, server: Server
) -> None:
    good = await stored_mission(rr)
    rr.downloads.put(SESSION, 1, [ServerDownload(MISSION_PATH, good.key, "0" * 64, good.size)])

    async def fix(sleeps: int) -> None:
        if sleeps == 2:
            rr.downloads.put(SESSION, 1, [good])

    server.clock.on_sleep = fix
    assert await server.agent.boot()

    assert server.clock.sleeps == [1, 2]
    assert (server.agent.root / MISSION_PATH).read_bytes() == MISSION


async def test_a_download_longer_or_shorter_than_announced_leaves_nothing(
    rr: Rr, tmp_path: Path
) -> None:
    stored = await stored_mission(rr)
    assert rr.objects is not None
    url = await rr.objects.download_link(stored.key, TEN_MINUTES)
    root = tmp_path / "root"

    for size in (len(MISSION) - 1, len(MISSION) + 1):
        with pytest.raises(TransferFailed):
            await asyncio.to_thread(
                download, root, DownloadSpec("Missions/m.miz", url, stored.sha256, size)
            )
        assert list((root / "Missions").iterdir()) == []


async def test_an_expired_download_link_fails_cleanly(rr: Rr, tmp_path: Path) -> None:
    stored = await stored_mission(rr)
    assert rr.objects is not None
    url = await rr.objects.download_link(stored.key, TEN_MINUTES)
    await rr.clock.advance(TEN_MINUTES)

    root = tmp_path / "root"
    with pytest.raises(TransferFailed, match="answered 403"):
        await asyncio.to_thread(
            download, root, DownloadSpec("m.miz", url, stored.sha256, stored.size)
        )
    assert list(root.iterdir()) == []


async def test_download_and_multipart_upload_work_against_either_store(
    backend: Backend, tmp_path: Path
) -> None:
    stored = await backend.store.put(SQUADRON, MISSION)
    url = await backend.store.download_link(stored.key, TEN_MINUTES)
    sha = hashlib.sha256(MISSION).hexdigest()
    await asyncio.to_thread(
        download, tmp_path, DownloadSpec("Missions/m.miz", url, sha, len(MISSION))
    )
    path = tmp_path / "Missions" / "m.miz"
    assert path.read_bytes() == MISSION

    key = ObjectKey.debrief(SQUADRON, SESSION, "tacview-1")
    link = await backend.store.upload_link(key, len(MISSION), TEN_MINUTES)
    sent = await asyncio.to_thread(post_file, link.url, dict(link.fields), path, len(MISSION))
    assert sent == sha
    assert await backend.store.get(key) == MISSION


async def test_an_upload_over_the_links_cap_is_refused_by_either_store(
    backend: Backend, tmp_path: Path
) -> None:
    path = tmp_path / "big.acmi"
    path.write_bytes(b"x" * 2000)
    key = ObjectKey.debrief(SQUADRON, SESSION, "tacview-1")
    link = await backend.store.upload_link(key, 1000, TEN_MINUTES)

    with pytest.raises(TransferFailed, match="refused"):
        await asyncio.to_thread(post_file, link.url, dict(link.fields), path, 2000)
    assert await backend.store.head(key) is None


def test_the_form_puts_every_field_before_the_file_and_refuses_a_broken_field() -> None:
    head = form_head("B", {"key": "k", "policy": "p"}, 'a"b.acmi')
    text = head.decode()
    assert text.index('name="key"') < text.index('name="policy"') < text.index('name="file"')
    assert 'filename="a_b.acmi"' in text and text.endswith("\r\n\r\n")
    with pytest.raises(TransferFailed):
        form_head("B", {'bad"name': "v"}, "f")


def write(path: Path, data: bytes, mtime: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))


async def test_the_debrief_is_uploaded_reported_and_recorded_once_checked(
    rr: Rr, server: Server
) -> None:
    assert await server.agent.boot()
    root = server.agent.root
    write(root / "Tracks/Tacview/old.acmi", b"FileType=text/acmi/tacview\nold", 1_000)
    write(root / "Tracks/Tacview/new.acmi", b"FileType=text/acmi/tacview\nnew", 2_000)
    write(root / "Tracks/server.trk", b"track", 1_500)
    write(root / "Logs/dcs.log", b"2026-12-05 log\n", 1_500)
    write(root / "Missions/Saves/pretense.json", b'{"zones": 3}', 1_500)
    targets = (
        DebriefTarget("tacview", "Tracks/Tacview/*.acmi", 1),
        DebriefTarget("log", "Logs/dcs.log"),
        DebriefTarget("track", "Tracks/*.trk"),
        DebriefTarget("save", "Missions/Saves"),
    )
    instruction = await rr.api.transfers.request_debrief(SESSION, SQUADRON, 10_000, targets)

    await server.beat()  # receives the instruction: no mission runs, so it uploads
    await server.agent.uploads_finished()
    assert not rr.api.transfers.debrief_sent(SESSION, instruction.id)
    await server.beat()  # reports the files and acknowledges

    assert rr.api.transfers.debrief_sent(SESSION, instruction.id)
    files = await rr.api.transfers.debrief_files(SESSION)
    assert [(f.kind, f.name, f.key.rsplit("/", 1)[1]) for f in files] == [
        ("tacview", "new.acmi", "tacview-1"),
        ("log", "dcs.log", "log-1"),
        ("track", "server.trk", "track-1"),
        ("save", "Saves.zip", "save-1"),
    ]
    assert rr.objects is not None
    tacview = await rr.objects.get(ObjectKey(files[0].key))
    assert tacview == b"FileType=text/acmi/tacview\nnew"
    save = rr.objects.path(ObjectKey(files[3].key))
    with zipfile.ZipFile(save) as zipped:
        assert zipped.read("pretense.json") == b'{"zones": 3}'
    recorded = [e for e in await rr.events() if e.type == DebriefFileStored.TYPE]
    assert len(recorded) == 4
    await server.beat()
    assert len([e for e in await rr.events() if e.type == DebriefFileStored.TYPE]) == 4


async def test_a_file_over_the_cap_is_not_uploaded_and_the_rest_go(rr: Rr, server: Server) -> None:
    assert await server.agent.boot()
    root = server.agent.root
    write(root / "Tracks/Tacview/huge.acmi", b"x" * 5_000, 2_000)
    write(root / "Logs/dcs.log", b"log", 1_000)
    targets = (
        DebriefTarget("tacview", "Tracks/Tacview/*.acmi"),
        DebriefTarget("log", "Logs/dcs.log"),
    )
    instruction = await rr.api.transfers.request_debrief(SESSION, SQUADRON, 1_000, targets)

    await server.beat()
    await server.agent.uploads_finished()
    await server.beat()

    assert rr.api.transfers.debrief_sent(SESSION, instruction.id)
    assert [f.name for f in await rr.api.transfers.debrief_files(SESSION)] == ["dcs.log"]


def test_uploads_that_fail_are_left_out_and_do_not_raise(tmp_path: Path) -> None:
    write(tmp_path / "Logs/dcs.log", b"log", 1_000)
    targets = [
        {"kind": "log", "pattern": "../etc/passwd", "max_bytes": 10, "links": [{}]},
        {"kind": "log", "pattern": "Logs/dcs.log", "max_bytes": 10, "links": [{"url": "ftp://x"}]},
        "not a target",
    ]
    assert upload_all(tmp_path, targets, tmp_path / ".scratch") == []


def save_zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


async def test_a_campaign_save_is_unpacked_into_its_folder_before_dcs_starts(
    rr: Rr, server: Server
) -> None:
    save = save_zip({"pretense.json": b'{"turn": 2}', "dsmc/state.lua": b"t = {}"})
    assert rr.objects is not None
    info = await rr.objects.put(SQUADRON, save)
    sha = hashlib.sha256(save).hexdigest()
    download = ServerDownload(".rr-download/save.zip", info.key, sha, info.size, "Missions/Saves")
    rr.downloads.put(SESSION, 1, [download])
    folder = server.agent.root / "Missions" / "Saves"
    folder.mkdir(parents=True)
    (folder / "pretense.json").write_bytes(b'{"turn": 1}')

    assert await server.agent.boot()

    assert (folder / "pretense.json").read_bytes() == b'{"turn": 2}'
    assert (folder / "dsmc" / "state.lua").read_bytes() == b"t = {}"
    assert not (server.agent.root / ".rr-download" / "save.zip").exists()
    assert server.started


def test_a_save_naming_a_file_outside_its_folder_is_not_unpacked(tmp_path: Path) -> None:
    (tmp_path / "save.zip").write_bytes(save_zip({"ok.json": b"1", "../../evil.lua": b"x"}))
    spec = DownloadSpec("save.zip", "http://unused", "0" * 64, 0, "Missions/Saves")

    with pytest.raises(BadFiles, match=r"evil\.lua"):
        unpack(tmp_path, spec)
    assert not (tmp_path / "Missions").exists()
