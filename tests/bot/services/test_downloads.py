"""What a launch downloads at boot, worked out when its agent asks: the session's library mission
(where serverSettings lists it), fetched by the real agent over HTTP, byte for byte."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from agent.hooklink import HookLink
from agent.rr import RrClient
from agent.runner import Agent
from bot.agentapi import agent_routes
from bot.domain.mission_quota import MissionQuota
from bot.entrypoints.web import create_web_app
from bot.files.store import LocalObjectStore
from bot.services.missions import MissionLibrary
from tests.agent.conftest import free_udp_port
from tests.agent.stepclock import SteppingClock
from tests.bot.files.miz.missions import MissionPlan, build_mission
from tests.bot.services.harness import BotProcess, member

QUOTA = MissionQuota(max_count=5, max_bytes=50_000_000, max_file_bytes=20_000_000)


@pytest.fixture(scope="module")
def red_flag(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    folder = tmp_path_factory.mktemp("missions")
    return build_mission(MissionPlan(sortie="Red Flag"), folder / "red_flag.miz").read_bytes()


async def test_the_agent_downloads_the_sessions_library_mission_where_dcs_looks_for_it(
    bot: BotProcess, objects: LocalObjectStore, red_flag: bytes, tmp_path: Path
) -> None:
    services = bot.services
    services.attach_missions(
        MissionLibrary(
            streams=services.streams,
            files=objects,
            quota=QUOTA,
            installed_terrains=("Caucasus",),
        )
    )

    async def cdn() -> bytes:
        return red_flag

    manager = member(manager=True)
    await services.missions.upload(
        manager, filename="red_flag.miz", size=len(red_flag), download=cdn, name=None
    )
    await bot.fund(1_000)
    started = await services.sessions.start(member(), duration_minutes=60, mission_name="red_flag")
    await services.background.drain()
    session = await services.sessions.get(started.session_id)
    [download] = await services.agents.transfers.downloads.downloads_for(
        session.session_id, session.attempt
    )
    assert (download.path, download.size) == ("Missions/red_flag.miz", len(red_flag))
    assert download.sha256 == hashlib.sha256(red_flag).hexdigest()

    token = await services.agents.credentials.mint(session.session_id, session.attempt)
    server = TestServer(create_web_app(health={}, routes=[agent_routes(services.agents)]))
    await server.start_server()
    link = HookLink(SteppingClock(), free_udp_port())
    try:
        root = tmp_path / "DCS.server"
        agent = Agent(
            client=RrClient(str(server.make_url("/")), session.session_id, token),
            link=link,
            clock=SteppingClock(),
            root=root,
        )
        assert await agent.boot()
        assert (root / "Missions" / "red_flag.miz").read_bytes() == red_flag
    finally:
        await server.close()
