"""rr's services speaking to a game: the whole session lifecycle (services, view and scheduler on
a fake clock) serves the agent API on a real web app; the real agent beats over loopback HTTP and
hands rr's instructions to the DCS hook, running in Lua against the fake DCS."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

import eventstore
from agent.hookfile import HOOK_PATH
from agent.hooklink import HookLink
from agent.programs import Programs
from agent.rr import RrClient
from agent.runner import Agent
from bot.agentapi import agent_routes
from bot.domain.session import SessionState, SessionStatus
from bot.entrypoints.web import create_web_app
from bot.services.game_chat import GRACEFUL_END_LINE
from tests.agent.conftest import free_udp_port
from tests.agent.fake_dcs import FakeDcs
from tests.agent.stepclock import SteppingClock
from tests.bot.services.fake_provider import FakeProvider
from tests.bot.services.harness import MINUTE, START, BotProcess, member
from tests.fakes.clock import FakeClock

LOOP_TURNS = 5000
"""Loop turns given to a loopback datagram to arrive: I/O, not a timer."""


@dataclass
class Game:
    """One running session's server: rr's side, the agent, and DCS with the hook."""

    bot: BotProcess
    provider: FakeProvider
    session: SessionState
    agent: Agent
    link: HookLink
    dcs: FakeDcs

    async def beat(self) -> None:
        await self.agent.beat_forever(self.agent.beats + 1)

    async def frames_until(self, condition: Callable[[], bool]) -> None:
        """Let DCS run frames (the hook polls the agent's datagrams in each) until it holds."""
        for _ in range(LOOP_TURNS):
            self.dcs.fire("onSimulationFrame")
            if condition():
                return
            await asyncio.sleep(0)
        raise AssertionError("the condition never held")

    async def reported(self, state: str) -> None:
        """Until the agent has the hook's report of ``state``."""
        for _ in range(LOOP_TURNS):
            if self.link.latest is not None and self.link.latest.state == state:
                return
            await asyncio.sleep(0)
        raise AssertionError(f"the hook never reported {state}")


@pytest.fixture
async def game(tmp_path: Path) -> AsyncIterator[Game]:
    clock = FakeClock(START)
    provider = FakeProvider(clock)
    async with eventstore.open("memory://", clock=clock.now) as store:
        bot = BotProcess(store, clock, provider)
        await bot.start(scheduler=True)
        web = TestServer(
            create_web_app(health={}, routes=[agent_routes(bot.services.agents)]), host="127.0.0.1"
        )
        await web.start_server()
        agent_clock = SteppingClock()
        link = HookLink(agent_clock, free_udp_port())
        try:
            await bot.fund(1_000)
            started = await bot.services.sessions.start(member(), duration_minutes=60)
            await bot.services.background.drain()
            session = await bot.services.sessions.get(started.session_id)
            agents = bot.services.agents  # the files: the session's, rendered when asked
            token = await agents.credentials.mint(session.session_id, session.attempt)
            url = str(web.make_url("/")).rstrip("/")
            agent = Agent(
                client=RrClient(url, session.session_id, token),
                link=link,
                clock=agent_clock,
                root=tmp_path / "DCS.server",
                programs=Programs(dcs_exe=r"C:\DCS\bin\DCS_server.exe", srs_exe=r"C:\SRS\srs.exe"),
                starter=lambda _: None,
            )
            agent.agent_port = await link.open(0)
            assert await agent.boot()
            dcs = FakeDcs((agent.root / HOOK_PATH).read_bytes())
            try:
                dcs.mission_name = "Op Snowfall"
                dcs.fire("onMissionLoadEnd")
                dcs.fire("onSimulationStart")
                played = Game(bot, provider, session, agent, link, dcs)
                await played.reported("running")
                await played.beat()
                yield played
            finally:
                dcs.close()
        finally:
            link.close()
            await web.close()
            await bot.stop()


async def test_warnings_reach_the_games_chat_and_the_end_waits_for_the_mission_to_end(
    game: Game,
) -> None:
    clock, session = game.bot.clock, game.session
    await clock.set(session.end_at - 15 * MINUTE)  # the scheduler warns of the end
    await game.beat()
    warning = "Server ends in 15 min - extend with /server extend in Discord"
    await game.frames_until(lambda: bool(game.dcs.chats))
    assert game.dcs.chats == [(warning, True)]

    await clock.set(session.end_at)  # the 5 minutes' warning, then the stop: the mission first
    await game.beat()
    await game.frames_until(lambda: game.dcs.missions_stopped == 1)
    last_warning = "Server ends in 5 min - extend with /server extend in Discord"
    assert game.dcs.chats == [(warning, True), (last_warning, True), (GRACEFUL_END_LINE, True)]
    assert game.provider.terminated == []

    game.dcs.fire("onSimulationStop")  # DCS has written its Tacview, track and save files
    await game.reported("stopped")
    await clock.advance(timedelta(seconds=20))
    await game.beat()
    await game.bot.services.background.drain()

    ended = await game.bot.services.sessions.get(session.session_id)
    assert (ended.status, ended.billed_minutes) == (SessionStatus.ENDED, 60)
    assert game.provider.terminated == [session.instance_id]
    assert game.dcs.missions_stopped == 1
