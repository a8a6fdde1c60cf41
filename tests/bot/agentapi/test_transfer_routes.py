"""What rr believes of a server's transfers, over real HTTP: the download links in the files
reply, the debrief files reported in heartbeats (checked against the store), the pilots seen."""

from __future__ import annotations

import hashlib
from typing import Any

import aiohttp

from bot.agentapi import ServerDownload
from bot.agentapi.events import DebriefFileStored, PilotSeen
from bot.files.store import ObjectKey
from tests.bot.agentapi.conftest import SESSION, Rr, beat
from tests.bot.agentapi.test_routes import auth, beats_url, files_url, post

SQUADRON = "123456789012345678"
TACVIEW = b"FileType=text/acmi/tacview\nFileVersion=2.2\n"


async def test_the_files_reply_lists_downloads_with_short_lived_links(
    rr: Rr, http: aiohttp.ClientSession
) -> None:
    token = await rr.launch()
    assert rr.objects is not None
    info = await rr.objects.put(SQUADRON, b"miz bytes")
    sha = hashlib.sha256(b"miz bytes").hexdigest()
    rr.downloads.put(SESSION, 1, [ServerDownload("Missions/a.miz", info.key, sha, 9)])

    async with http.get(files_url(rr), headers=auth(token)) as response:
        [entry] = (await response.json())["downloads"]
    assert (entry["path"], entry["sha256"], entry["size"]) == ("Missions/a.miz", sha, 9)
    async with http.get(entry["url"]) as fetched:
        assert await fetched.read() == b"miz bytes"
    await rr.clock.advance(rr.api.transfers._lifetime)
    async with http.get(entry["url"]) as expired:
        assert expired.status == 403


async def test_a_launch_without_downloads_gets_an_empty_list(
    rr: Rr, http: aiohttp.ClientSession
) -> None:
    token = await rr.launch()
    async with http.get(files_url(rr), headers=auth(token)) as response:
        assert (await response.json())["downloads"] == []


async def stored_debrief(rr: Rr, kind: str = "tacview", data: bytes = TACVIEW) -> dict[str, Any]:
    assert rr.objects is not None
    key = ObjectKey.debrief(SQUADRON, SESSION, f"{kind}-1")
    await rr.objects.put(SQUADRON, data)  # a content copy; the debrief key is written below
    path = rr.objects.path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {
        "kind": kind,
        "name": "Tacview-20261205.acmi",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "key": key,
    }


async def recorded(rr: Rr, event_type: str) -> list[dict[str, Any]]:
    return [dict(e.data) for e in await rr.events() if e.type == event_type]


async def test_a_reported_file_is_recorded_once_when_the_store_holds_it(
    rr: Rr, http: aiohttp.ClientSession
) -> None:
    token = await rr.launch()
    entry = await stored_debrief(rr)

    assert (await post(http, beats_url(rr), token, beat(1, uploaded=[entry])))[0] == 200
    assert (await post(http, beats_url(rr), token, beat(2, uploaded=[entry])))[0] == 200

    assert await recorded(rr, DebriefFileStored.TYPE) == [
        {"session_id": SESSION, "attempt": 1, **entry}
    ]


async def test_reports_the_store_does_not_bear_out_are_not_recorded(
    rr: Rr, http: aiohttp.ClientSession
) -> None:
    token = await rr.launch()
    entry = await stored_debrief(rr)
    lies = [
        {**entry, "size": entry["size"] + 1},
        {**entry, "sha256": "0" * 64},
        {**entry, "kind": "log"},
        {**entry, "key": ObjectKey.debrief(SQUADRON, "another-session", "tacview-1")},
        {**entry, "key": ObjectKey.debrief(SQUADRON, SESSION, "tacview-2")},
        {**entry, "key": ObjectKey.content(SQUADRON, entry["sha256"])},
        {**entry, "name": "../x.acmi"},
    ]

    for seq, lie in enumerate(lies, start=1):
        assert (await post(http, beats_url(rr), token, beat(seq, uploaded=[lie])))[0] == 200

    assert await recorded(rr, DebriefFileStored.TYPE) == []


async def test_a_malformed_upload_report_is_refused_and_changes_nothing(
    rr: Rr, http: aiohttp.ClientSession
) -> None:
    token = await rr.launch()
    entry = await stored_debrief(rr)
    for bad in ({**entry, "kind": "video"}, {**entry, "sha256": "ABC"}, {**entry, "extra": 1}):
        status, reply = await post(http, beats_url(rr), token, beat(1, uploaded=[bad]))
        assert (status, reply["error"]) == (400, "invalid_heartbeat")
    assert len(await rr.events()) == 1  # the credential only


async def test_each_pilot_in_a_slot_is_recorded_once_spectators_not(
    rr: Rr, http: aiohttp.ClientSession
) -> None:
    token = await rr.launch()
    viper = {"id": 2, "name": "Viper 1-1", "side": 2, "slot": "17"}
    spectator = {"id": 3, "name": "Watcher", "side": 0, "slot": ""}
    hornet = {"id": 4, "name": "Hornet 2-1", "side": 1, "slot": "3"}
    for seq, players in enumerate(
        [[viper, spectator], [viper], [viper, hornet], [hornet]], start=1
    ):
        assert (await post(http, beats_url(rr), token, beat(seq, players=players)))[0] == 200

    assert [e["name"] for e in await recorded(rr, PilotSeen.TYPE)] == ["Viper 1-1", "Hornet 2-1"]
    assert (await rr.api.heartbeats._ledger.reread(SESSION)).pilots == ("Viper 1-1", "Hornet 2-1")
