"""Fixtures: an emulator with a small wing, the tiny bot connected to it, and the console mounted
under a prefix in a parent app, reached over HTTP on loopback; and rr itself as ``make run``
starts it without DISCORD_TOKEN, on a fake clock."""

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.config import Settings
from bot.entrypoints.app import App
from discord_emulator import Emulator, Guild, Permission, TextChannel, User, running_bot
from discord_emulator.console import console_app
from tests.bot.entrypoints.sandbox.tiny_bot import TinyBot
from tests.fakes.clock import FakeClock

PREFIX = "/console"


@dataclass
class Wing:
    guild: Guild
    admin_guild: Guild
    general: TextChannel
    manager: User
    rookie: User


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator() as emulator:
        yield emulator


@pytest.fixture
def wing(emu: Emulator) -> Wing:
    guild = emu.add_guild("Test Wing")
    managers = guild.add_role("managers", permissions=Permission.MANAGE_GUILD)
    manager, rookie = emu.add_user("Viper"), emu.add_user("Rookie")
    guild.add_member(manager, roles=[managers])
    guild.add_member(rookie)
    admin_guild = emu.add_guild("Wing Staff", owner=manager)
    admin_guild.add_member(rookie)
    return Wing(guild, admin_guild, guild.channel("general"), manager, rookie)


@pytest.fixture
async def bot(emu: Emulator, wing: Wing) -> AsyncIterator[TinyBot]:
    client = TinyBot(admin_guild_id=wing.admin_guild.id)
    async with running_bot(client, emu):
        yield client


@pytest.fixture
async def console(
    emu: Emulator, bot: TinyBot
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    parent = web.Application()
    parent.add_subapp(PREFIX, console_app(emu, title="Test console"))
    async with TestClient(TestServer(parent)) as client:
        yield client


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 28, 18, 0, tzinfo=UTC))


@pytest.fixture
def sandbox_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """No .env, no DISCORD_TOKEN or Stripe keys: the settings of a first ``make run``, but for
    an in-memory store and a free port."""
    for name in list(os.environ):
        if name.startswith(("RR_", "DISCORD_", "STRIPE_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        event_store="memory://",
        web_port=0,
        local_instances_dir=tmp_path / "instances",
    )


@pytest.fixture
async def app(sandbox_settings: Settings, clock: FakeClock) -> AsyncIterator[App]:
    rr = App(sandbox_settings, clock=clock)
    await rr.start()
    try:
        yield rr
    finally:
        await rr.stop()
