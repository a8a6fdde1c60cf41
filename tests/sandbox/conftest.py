"""Fixtures: an emulator with a small wing, the tiny bot connected to it, and the console mounted
under a prefix in a parent app, reached over HTTP on loopback."""

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from discord_emulator import Emulator, Guild, Permission, TextChannel, User, running_bot
from discord_emulator.console import console_app
from tests.sandbox.tiny_bot import TinyBot

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
