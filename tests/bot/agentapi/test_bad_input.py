"""Every bad request gets a clear 4xx and changes nothing: no event, no heartbeat, no ack."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from tests.bot.agentapi.conftest import OTHER_SESSION, SESSION, Rr, beat


@dataclass(frozen=True)
class Tokens:
    mine: str
    other: str


@dataclass(frozen=True)
class Case:
    status: int
    error: str | None
    body: Any = None
    """A dict/list is sent as JSON; bytes as they are."""
    headers: Callable[[Tokens], dict[str, str]] = lambda t: {"Authorization": f"Bearer {t.mine}"}
    content_type: str = "application/json"
    session: str = SESSION
    method: str = "POST"
    path: str = "heartbeats"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def player(**changes: Any) -> dict[str, Any]:
    return {"id": 2, "name": "Viper", "side": 2, "slot": "1", **changes}


CASES = {
    "no credential": Case(401, "unauthorized", beat(6), headers=lambda t: {}),
    "basic scheme": Case(
        401, "unauthorized", beat(6), headers=lambda t: {"Authorization": "Basic eDp5"}
    ),
    "empty bearer": Case(
        401, "unauthorized", beat(6), headers=lambda t: {"Authorization": "Bearer "}
    ),
    "malformed": Case(401, "unauthorized", beat(6), headers=lambda t: bearer("rr1.abc")),
    "wrong secret": Case(
        401, "unauthorized", beat(6), headers=lambda t: bearer(t.mine[:-4] + "AAAA")
    ),
    "unknown session": Case(
        401,
        "unauthorized",
        beat(6),
        headers=lambda t: bearer(t.mine.replace(SESSION, "00000000-dead")),
    ),
    "huge header": Case(401, "unauthorized", beat(6), headers=lambda t: bearer("x" * 5000)),
    "another server's session": Case(403, "wrong_session", beat(6), session=OTHER_SESSION),
    "other credential here": Case(403, "wrong_session", beat(6), headers=lambda t: bearer(t.other)),
    "not json type": Case(415, "unsupported_media_type", b"seq=6", content_type="text/plain"),
    "too large": Case(413, "too_large", beat(6, mission="x" * 70_000)),
    "not json": Case(400, "invalid_heartbeat", b"{not json"),
    "invalid utf-8": Case(400, "invalid_heartbeat", b'{"seq": 6, "state": "\xff"}'),
    "array": Case(400, "invalid_heartbeat", [beat(6)]),
    "empty body": Case(400, "invalid_heartbeat", b""),
    "unknown field": Case(400, "invalid_heartbeat", beat(6, extra=1)),
    "missing field": Case(400, "invalid_heartbeat", {"seq": 6, "state": "running"}),
    "seq zero": Case(400, "invalid_heartbeat", beat(0)),
    "seq as text": Case(400, "invalid_heartbeat", beat("6")),
    "seq as float": Case(400, "invalid_heartbeat", beat(6.0)),
    "seq as bool": Case(400, "invalid_heartbeat", beat(True)),
    "seq too big": Case(400, "invalid_heartbeat", beat(2**60)),
    "unknown state": Case(400, "invalid_heartbeat", beat(6, state="exploded")),
    "mission null": Case(400, "invalid_heartbeat", beat(6, mission=None)),
    "mission too long": Case(400, "invalid_heartbeat", beat(6, mission="m" * 201)),
    "the server as player": Case(400, "invalid_heartbeat", beat(6, players=[player(id=1)])),
    "side 3": Case(400, "invalid_heartbeat", beat(6, players=[player(side=3)])),
    "name too long": Case(400, "invalid_heartbeat", beat(6, players=[player(name="n" * 201)])),
    "slot as number": Case(400, "invalid_heartbeat", beat(6, players=[player(slot=17)])),
    "player lacks name": Case(400, "invalid_heartbeat", beat(6, players=[{"id": 2, "side": 0}])),
    "too many players": Case(
        400, "invalid_heartbeat", beat(6, players=[player(id=i) for i in range(2, 260)])
    ),
    "bad ack id": Case(400, "invalid_heartbeat", beat(6, acked=["../etc"])),
    "too many acks": Case(400, "invalid_heartbeat", beat(6, acked=[f"a{i}" for i in range(65)])),
    "replayed": Case(409, "replayed", beat(5)),
    "older": Case(409, "replayed", beat(3)),
    "files of an unknown launch": Case(404, "no_files", method="GET", path="files"),
    "files of another session": Case(
        403, "wrong_session", method="GET", path="files", session=OTHER_SESSION
    ),
    "wrong method": Case(405, None, beat(6), method="PUT"),
    "unknown route": Case(404, None, beat(6), path="uploads"),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_bad_requests_are_refused_and_change_nothing(
    rr: Rr, http: aiohttp.ClientSession, case: Case
) -> None:
    mine = await rr.launch()
    other = await rr.launch(OTHER_SESSION)
    rr.files.forget(SESSION)  # so that asking for the files finds none
    async with http.post(
        f"{rr.url}/agent/v1/sessions/{SESSION}/heartbeats", json=beat(5), headers=bearer(mine)
    ) as accepted:
        assert accepted.status == 200
    chat = rr.api.instructions.post_chat(SESSION, "hello")
    events = await rr.events()
    latest = rr.api.heartbeats.latest(SESSION)

    body = case.body if isinstance(case.body, bytes | None) else json.dumps(case.body).encode()
    headers = {**case.headers(Tokens(mine, other)), "Content-Type": case.content_type}
    url = f"{rr.url}/agent/v1/sessions/{case.session}/{case.path}"
    async with http.request(case.method, url, data=body, headers=headers) as response:
        assert response.status == case.status
        if case.error is not None:
            reply = await response.json()
            assert reply["error"] == case.error
            assert reply["message"]
            if case.status == 409:
                assert reply["last_seq"] == 5
            if case.status == 401:
                assert response.headers["WWW-Authenticate"].startswith("Bearer")

    assert await rr.events() == events
    assert rr.api.heartbeats.latest(SESSION) == latest
    assert rr.api.instructions.pending(SESSION) == [chat]


async def test_a_body_without_a_length_is_refused(rr: Rr, http: aiohttp.ClientSession) -> None:
    token = await rr.launch()

    async def chunks() -> Any:
        yield json.dumps(beat(1)).encode()

    async with http.post(
        f"{rr.url}/agent/v1/sessions/{SESSION}/heartbeats",
        data=chunks(),
        headers={**bearer(token), "Content-Type": "application/json"},
    ) as response:
        assert response.status == 411
    assert rr.api.heartbeats.latest(SESSION) is None
