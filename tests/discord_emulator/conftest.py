"""Fixtures: a fresh emulator with one squadron guild, and the test bot connected to it."""

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from discord_emulator import Emulator, Guild, Permission, Role, User, running_bot
from tests.discord_emulator.bot_app import FlightBot


@dataclass
class Squadron:
    guild: Guild
    managers: Role
    manager: User
    pilot: User


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator() as emulator:
        yield emulator


@pytest.fixture
def squadron(emu: Emulator) -> Squadron:
    guild = emu.add_guild("132nd Virtual Wing")
    managers = guild.add_role("managers", permissions=Permission.MANAGE_GUILD)
    manager, pilot = emu.add_user("Viper"), emu.add_user("Maverick")
    guild.add_member(manager, roles=[managers])
    guild.add_member(pilot)
    return Squadron(guild, managers, manager, pilot)


@pytest.fixture
async def bot(emu: Emulator, squadron: Squadron) -> AsyncIterator[FlightBot]:
    client = FlightBot(admin_guild_id=squadron.guild.id)
    async with running_bot(client, emu):
        yield client
