"""Interaction-to-acknowledgement latency through the emulator with 50 concurrent commands.

Run: ``.venv/bin/python -m bench.emulator [rounds]``. Each round, 50 different members
invoke ``/mission`` at once; the latency is the emulator's dispatch-to-first-callback time.
"""

import asyncio
import statistics
import sys

from discord_emulator import Emulator, running_bot
from tests.discord_emulator.bot_app import FlightBot

CONCURRENT = 50


async def measure(rounds: int) -> list[float]:
    async with Emulator() as emu:
        guild = emu.add_guild("Benchmark Wing")
        pilots = [emu.add_user(f"pilot {n}") for n in range(CONCURRENT)]
        for pilot in pilots:
            guild.add_member(pilot)
        latencies: list[float] = []
        async with running_bot(FlightBot(admin_guild_id=guild.id), emu):
            for _ in range(rounds):
                handles = [
                    await emu.invoke(guild, pilot, "mission", {"name": "Syria Strike"})
                    for pilot in pilots
                ]
                responses = await asyncio.gather(*(h.response() for h in handles))
                latencies.extend(r.latency for r in responses)
        return latencies


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    latencies = sorted(asyncio.run(measure(rounds)))
    cuts = statistics.quantiles(latencies, n=100)
    print(
        f"{len(latencies)} interactions ({rounds} rounds of {CONCURRENT} concurrent): "
        f"p50 {cuts[49] * 1000:.1f} ms, p99 {cuts[98] * 1000:.1f} ms, "
        f"max {latencies[-1] * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
