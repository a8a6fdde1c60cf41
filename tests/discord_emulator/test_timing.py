"""Discord's interaction deadlines on the emulator's injectable clock, and double answers."""

from collections.abc import AsyncIterator

import aiohttp
import discord
import pytest

from discord_emulator import Emulator
from tests.discord_emulator.bot_app import FlightBot
from tests.discord_emulator.conftest import Squadron


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def emu(clock: FakeClock) -> AsyncIterator[Emulator]:
    async with Emulator(clock=clock) as emulator:
        yield emulator


async def test_an_answer_after_three_seconds_is_refused_as_unknown_interaction(
    emu: Emulator, squadron: Squadron, bot: FlightBot, clock: FakeClock
) -> None:
    handle = await emu.invoke(squadron.guild, squadron.pilot, "mission", {"name": "Syria Strike"})
    clock.now += 3.5
    error = await bot.wait_for("command_failure", timeout=5)
    assert isinstance(error, discord.NotFound)
    assert error.code == 10062
    assert handle.interaction.acknowledged_at is None
    assert handle.messages == []


async def test_an_answer_within_three_seconds_is_accepted(
    emu: Emulator, squadron: Squadron, bot: FlightBot, clock: FakeClock
) -> None:
    handle = await emu.invoke(squadron.guild, squadron.pilot, "mission", {"name": "Syria Strike"})
    clock.now += 2.9
    response = await handle.response()
    assert response.latency == pytest.approx(2.9)


async def test_a_followup_after_fifteen_minutes_fails_with_an_invalid_token(
    emu: Emulator, squadron: Squadron, bot: FlightBot, clock: FakeClock
) -> None:
    handle = await emu.invoke(squadron.guild, squadron.pilot, "slow")
    await handle.response()
    clock.now += 15 * 60 + 1
    bot.release.set()
    error = await bot.wait_for("command_failure", timeout=5)
    assert isinstance(error, discord.HTTPException)
    assert (error.status, error.code) == (401, 50027)


async def test_a_second_initial_answer_is_already_acknowledged(
    emu: Emulator, squadron: Squadron, bot: FlightBot
) -> None:
    handle = await emu.invoke(squadron.guild, squadron.pilot, "mission", {"name": "Syria Strike"})
    await handle.response()
    interaction = handle.interaction
    url = f"{emu.base_url}/interactions/{interaction.id}/{interaction.token}/callback"
    again = {"type": 4, "data": {"content": "again"}}
    async with aiohttp.ClientSession() as session, session.post(url, json=again) as reply:
        assert reply.status == 400
        assert await reply.json() == {
            "message": "Interaction has already been acknowledged.",
            "code": 40060,
        }
