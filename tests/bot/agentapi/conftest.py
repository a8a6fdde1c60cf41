from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bot.agentapi import AgentApi, LaunchDownloads, LaunchFiles, agent_routes, build_agent_api
from bot.entrypoints.web import create_web_app
from bot.files.store import LocalObjectStore
from bot.files.store.signing import LinkSigner
from eventstore import StoredEvent
from eventstore.memory import MemoryEventStore
from tests.fakes.clock import FakeClock

SESSION = "3f6c2a9e-5b1d-4c7e-9a2f-0d8e1b7c6a54"
OTHER_SESSION = "9b2e7d4c-1a3f-4e6b-8c5d-7f0a2b9e3d18"
FILES = {
    "Config/serverSettings.lua": (
        'cfg = {\n\t["password"] = "s3cr\\"et",\n\t["name"] = "Ünï",\n}\n'.encode()
    ),
    "Config/SRS.cfg": b"[Server Settings]\r\nSERVER_PORT=5002\r\n",
    "Config/autoexec.cfg": b"\x00\xff binary-safe \n",
}


class ActiveSessions:
    """The sessions rr knows as booked or under way (the view, in the app)."""

    def __init__(self, *active: str) -> None:
        self.active = set(active)

    async def is_active(self, session_id: str) -> bool:
        return session_id in self.active


@dataclass
class Rr:
    api: AgentApi
    files: LaunchFiles
    store: MemoryEventStore
    sessions: ActiveSessions
    clock: FakeClock
    server: TestServer
    downloads: LaunchDownloads
    objects: LocalObjectStore | None = None
    """The object store the agent's links point into (a folder behind the same web app)."""

    @property
    def url(self) -> str:
        return str(self.server.make_url("/")).rstrip("/")

    async def launch(self, session_id: str = SESSION, attempt: int = 1) -> str:
        """What the lifecycle will do per launch: keep the files, mint the credential."""
        self.sessions.active.add(session_id)
        self.files.put(session_id, attempt, FILES)
        return await self.api.credentials.mint(session_id, attempt)

    async def events(self) -> list[StoredEvent]:
        return [event async for event in self.store.read_all()]


def free_tcp_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def make_rr(port: int | None = None, objects_root: Path | None = None) -> Rr:
    """rr's web app with the agent API, not yet listening (``await rr.server.start_server()``);
    with ``objects_root``, a local object store there, its routes on the same app."""
    clock = FakeClock(datetime(2026, 12, 5, 9, 0, tzinfo=UTC))
    store = MemoryEventStore(clock.now)
    sessions = ActiveSessions()
    files = LaunchFiles()
    api = build_agent_api(store, sessions, clock, files=files)
    downloads = api.transfers.downloads = LaunchDownloads()
    port = port or free_tcp_port()
    objects = None
    routes = [agent_routes(api)]
    if objects_root is not None:
        signer = LinkSigner(b"s" * 32, clock.now)
        objects = LocalObjectStore(objects_root, signer, f"http://127.0.0.1:{port}")
        api.transfers.attach(objects)
        routes.extend(objects.web_routes())
    app = create_web_app(health={}, routes=routes)
    server = TestServer(app, host="127.0.0.1", port=port)
    return Rr(api, files, store, sessions, clock, server, downloads, objects)


@pytest.fixture
async def rr(tmp_path: Path) -> AsyncIterator[Rr]:
    made = make_rr(objects_root=tmp_path / "objects")
    await made.server.start_server()
    try:
        yield made
    finally:
        await made.server.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def beat(seq: int = 1, **changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "seq": seq,
        "state": "running",
        "mission": "Op Snowfall",
        "players": [{"id": 2, "name": "Viper 1-1", "side": 2, "slot": "17"}],
        "acked": [],
    }
    body.update(changes)
    return body
