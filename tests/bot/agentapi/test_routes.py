"""rr's agent API over real HTTP on loopback, on the real web app."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from bot.agentapi.events import agent_stream
from tests.bot.agentapi.conftest import FILES, OTHER_SESSION, SESSION, Rr, beat


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def beats_url(rr: Rr, session_id: str = SESSION) -> str:
    return f"{rr.url}/agent/v1/sessions/{session_id}/heartbeats"


def files_url(rr: Rr, session_id: str = SESSION) -> str:
    return f"{rr.url}/agent/v1/sessions/{session_id}/files"


async def post(
    http: aiohttp.ClientSession, url: str, token: str, body: Any
) -> tuple[int, dict[str, Any]]:
    async with http.post(url, json=body, headers=auth(token)) as response:
        return response.status, await response.json()


async def test_files_come_with_checksums_and_the_credential_is_stored_only_as_a_hash(
    rr: Rr, http: aiohttp.ClientSession
) -> None:
    token = await rr.launch()
    async with http.get(files_url(rr), headers=auth(token)) as response:
        assert response.status == 200
        reply = await response.json()
    files = {entry["path"]: base64.b64decode(entry["content_base64"]) for entry in reply["files"]}
    assert files == FILES
    assert all(
        entry["sha256"] == hashlib.sha256(files[entry["path"]]).hexdigest()
        for entry in reply["files"]
    )
    assert (reply["session_id"], reply["attempt"], reply["last_seq"]) == (SESSION, 1, 0)

    [issued] = await rr.events()
    secret = base64.urlsafe_b64decode(token.rsplit(".", 1)[1] + "=")
    assert len(secret) == 32
    assert issued.stream_id == agent_stream(SESSION)
    assert issued.type == "AgentCredentialIssued"
    assert dict(issued.data) == {
        "session_id": SESSION,
        "attempt": 1,
        "token_sha256": hashlib.sha256(secret).hexdigest(),
    }
    assert token.rsplit(".", 1)[1] not in json.dumps(dict(issued.data))


async def test_heartbeats_keep_the_latest_and_record_only_changes_of_state(
    rr: Rr, http: aiohttp.ClientSession
) -> None:
    token = await rr.launch()
    assert (await post(http, beats_url(rr), token, beat(1, state="loading")))[0] == 200
    assert (await post(http, beats_url(rr), token, beat(2)))[0] == 200
    assert (await post(http, beats_url(rr), token, beat(3, players=[])))[0] == 200
    assert (await post(http, beats_url(rr), token, beat(4, mission="Next", players=[])))[0] == 200
    reported = [event for event in await rr.events() if event.type == "ServerStateReported"]
    assert [(e.data["state"], e.data["mission"], e.data["players"]) for e in reported] == [
        ("loading", "Op Snowfall", 1),
        ("running", "Op Snowfall", 1),
        ("running", "Next", 0),
    ]
    latest = rr.api.heartbeats.latest(SESSION)
    assert latest is not None
    assert (latest.seq, latest.state, latest.mission, latest.players) == (4, "running", "Next", ())
    assert latest.received_at == rr.clock.now()


async def test_instructions_are_handed_out_until_acknowledged(
    rr: Rr, http: aiohttp.ClientSession
) -> None:
    token = await rr.launch()
    chat = rr.api.instructions.post_chat(SESSION, "Server ends in 10 minutes")
    end = rr.api.instructions.post_end_mission(SESSION)
    _, reply = await post(http, beats_url(rr), token, beat(1))
    assert reply["instructions"] == [
        {"id": chat.id, "kind": "chat", "text": "Server ends in 10 minutes"},
        {"id": end.id, "kind": "end_mission"},
    ]
    assert reply["interval_seconds"] == 1.0  # instructions: rr wants their outcome soon
    _, reply = await post(http, beats_url(rr), token, beat(2, acked=[chat.id, "unknown"]))
    assert [instruction["id"] for instruction in reply["instructions"]] == [end.id]
    _, reply = await post(http, beats_url(rr), token, beat(3, acked=[end.id]))
    assert reply["instructions"] == []


async def test_a_restarted_agent_learns_the_last_sequence_number(
    rr: Rr, http: aiohttp.ClientSession
) -> None:
    token = await rr.launch()
    await post(http, beats_url(rr), token, beat(41))
    async with http.get(files_url(rr), headers=auth(token)) as response:
        assert (await response.json())["last_seq"] == 41


async def test_too_many_requests_are_refused_until_the_bucket_refills(
    rr: Rr, http: aiohttp.ClientSession
) -> None:
    token = await rr.launch()
    for seq in range(1, 21):
        assert (await post(http, beats_url(rr), token, beat(seq)))[0] == 200
    before = await rr.events()
    async with http.post(beats_url(rr), json=beat(21), headers=auth(token)) as response:
        assert response.status == 429
        assert response.headers["Retry-After"] == "1"
        assert (await response.json())["error"] == "rate_limited"
    assert await rr.events() == before
    assert rr.api.heartbeats.latest(SESSION).seq == 20  # type: ignore[union-attr]
    await rr.clock.advance(timedelta(seconds=1))
    assert (await post(http, beats_url(rr), token, beat(21)))[0] == 200


async def test_a_new_launch_replaces_the_credential_and_the_session_end_expires_it(
    rr: Rr, http: aiohttp.ClientSession
) -> None:
    first = await rr.launch(attempt=1)
    second = await rr.launch(attempt=2)
    assert (await post(http, beats_url(rr), first, beat(1)))[0] == 401
    assert (await post(http, beats_url(rr), second, beat(1)))[0] == 200
    rr.sessions.active.discard(SESSION)
    status, reply = await post(http, beats_url(rr), second, beat(2))
    assert (status, reply["error"]) == (401, "unauthorized")


async def test_a_revoked_credential_stops_working(rr: Rr, http: aiohttp.ClientSession) -> None:
    token = await rr.launch()
    assert await rr.api.credentials.revoke(SESSION, "session ended")
    assert not await rr.api.credentials.revoke(SESSION, "session ended")
    status, reply = await post(http, beats_url(rr), token, beat(1))
    assert (status, reply["message"]) == (401, "The credential was revoked.")
    assert [event.type for event in await rr.events()] == [
        "AgentCredentialIssued",
        "AgentCredentialRevoked",
    ]


async def test_the_end_of_a_session_revokes_and_forgets_it(
    rr: Rr, http: aiohttp.ClientSession
) -> None:
    token = await rr.launch()
    rr.api.instructions.post_chat(SESSION, "bye")
    assert (await post(http, beats_url(rr), token, beat(1)))[0] == 200
    await rr.api.end(SESSION, "session ended")
    assert rr.api.heartbeats.latest(SESSION) is None
    assert rr.api.instructions.pending(SESSION) == []
    assert (await post(http, beats_url(rr), token, beat(2)))[0] == 401
    assert (await rr.events())[-1].type == "AgentCredentialRevoked"


async def test_the_credential_never_reaches_a_log_line(
    rr: Rr, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = await rr.launch()
    await post(http, beats_url(rr), token, beat(1))
    await post(http, beats_url(rr), token, beat(1))
    await post(http, beats_url(rr, OTHER_SESSION), token, beat(2))
    await post(http, beats_url(rr), token + "x", beat(2))
    secret = token.rsplit(".", 1)[1]
    assert caplog.records
    assert all(secret not in record.getMessage() for record in caplog.records)
    assert all(secret not in json.dumps(vars(record), default=str) for record in caplog.records)


async def test_a_server_beats_every_second_until_its_mission_runs_then_every_five(
    rr: Rr, http: aiohttp.ClientSession
) -> None:
    token = await rr.launch()
    intervals = []
    for seq, state in enumerate(["starting", "loading", "running", "stopped"], start=1):
        _, reply = await post(http, beats_url(rr), token, beat(seq, state=state))
        intervals.append(reply["interval_seconds"])

    assert intervals == [1.0, 1.0, 5.0, 1.0]


async def test_a_reply_carrying_instructions_asks_for_the_next_beat_soon(
    rr: Rr, http: aiohttp.ClientSession
) -> None:
    token = await rr.launch()
    end = rr.api.instructions.post_end_mission(SESSION)

    _, instructed = await post(http, beats_url(rr), token, beat(1))
    _, done = await post(http, beats_url(rr), token, beat(2, acked=[end.id]))

    assert (instructed["interval_seconds"], done["interval_seconds"]) == (1.0, 5.0)
