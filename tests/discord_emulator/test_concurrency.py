"""Many members using the bot at once: every interaction is dispatched and acknowledged."""

import asyncio

from discord_emulator import Emulator
from tests.discord_emulator.bot_app import FlightBot
from tests.discord_emulator.conftest import Squadron


async def test_fifty_concurrent_commands_from_different_users_are_each_acknowledged(
    emu: Emulator, squadron: Squadron, bot: FlightBot
) -> None:
    pilots = [emu.add_user(f"pilot {n}") for n in range(50)]
    for pilot in pilots:
        squadron.guild.add_member(pilot)
    handles = [
        await emu.invoke(squadron.guild, pilot, "mission", {"name": f"Op {n}"})
        for n, pilot in enumerate(pilots)
    ]
    responses = await asyncio.gather(*(handle.response() for handle in handles))
    assert [r.type for r in responses] == [4] * 50
    assert [r.message.content for r in responses if r.message] == [
        f"Mission Op {n}." for n in range(50)
    ]
    assert all(r.latency >= 0 for r in responses)
