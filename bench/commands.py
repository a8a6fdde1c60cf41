"""Interaction-to-acknowledgement latency of rr's own commands under load.

Run: ``python -m bench.commands [rounds]``. The Discord emulator runs in this process; the real
rr app (SQLite store in a temporary folder, local compute, sandbox payments) runs in a child
process with the unmodified discord.py client connected to the emulator over loopback, as it
would be to Discord. Each round, 50 different members invoke a command at once, for each of
``/credits balance``, ``/server status`` and ``/server start`` (which answers with a quote) in
turn, after one unmeasured warm-up round; the latency is the emulator's dispatch-to-first-callback
time. Discord allows 3 s; the goal is p99 ≤ 100 ms on a 2-core
machine.
"""

import asyncio
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

from discord_emulator import BotConnected, Emulator, Permission, patched_discord

CONCURRENT = 50
COMMANDS: tuple[tuple[str, dict[str, str]], ...] = (
    ("credits balance", {}),
    ("server status", {}),
    ("server start", {"duration": "2h"}),
)
SERVE_BOT = "--serve-bot"
EMULATOR_API, EMULATOR_GATEWAY = "RR_BENCH_EMULATOR_API", "RR_BENCH_EMULATOR_GATEWAY"


async def serve_bot() -> None:
    """The child: rr's app against the emulator named in the environment, until SIGTERM."""
    from bot.config import Settings
    from bot.entrypoints.app import App

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    with patched_discord(os.environ[EMULATOR_API], os.environ[EMULATOR_GATEWAY]):
        app = App(Settings(_env_file=None), guild_ready_timeout=0.05)
        await app.start()
        try:
            await stop.wait()
        finally:
            await app.stop()


async def measure(rounds: int, folder: Path) -> dict[str, list[float]]:
    async with Emulator() as emu:
        guild = emu.add_guild("Benchmark Wing")
        managers = guild.add_role("managers", permissions=Permission.MANAGE_GUILD)
        pilots = [emu.add_user(f"pilot {n}") for n in range(CONCURRENT)]
        for pilot in pilots:
            guild.add_member(pilot, roles=[managers])
        operator = emu.add_user("operator")
        operators = emu.add_guild("Operators", owner=operator)
        environment = {
            **os.environ,
            "RR_EVENT_STORE": f"sqlite:///{folder / 'bench.db'}",
            "RR_WEB_PORT": "0",
            "RR_LOG_LEVEL": "WARNING",
            "RR_LOCAL_INSTANCES_DIR": str(folder / "instances"),
            "RR_OPERATOR_IDS": str(operator.id),
            "RR_OPERATOR_GUILD_ID": str(operators.id),
            "DISCORD_TOKEN": emu.token,
            "RR_SANDBOX_PAYMENTS": "true",
            EMULATOR_API: emu.base_url,
            EMULATOR_GATEWAY: emu.gateway_url,
        }
        connected = emu.wait_for(
            lambda event: event if isinstance(event, BotConnected) else None,
            "the bot to connect",
            timeout=60,
        )
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.commands", SERVE_BOT, env=environment
        )
        try:
            await connected
            grant = {"guild": str(guild.id), "amount": "100000", "reason": "benchmark"}
            await (await emu.invoke(operators, operator, "admin grant", grant)).response(30)
            reminders = {"channel": str(guild.channel("general").id)}
            set_up = await emu.invoke(guild, pilots[0], "config channel", reminders)
            await set_up.response(30)
            latencies: dict[str, list[float]] = {name: [] for name, _ in COMMANDS}
            for round_number in range(-1, rounds):
                for name, options in COMMANDS:
                    handles = [await emu.invoke(guild, pilot, name, options) for pilot in pilots]
                    answers = await asyncio.gather(*(handle.response() for handle in handles))
                    if round_number >= 0:
                        latencies[name].extend(answer.latency for answer in answers)
            return latencies
        finally:
            child.terminate()
            await child.wait()


def _summary(label: str, latencies: list[float]) -> str:
    ordered = sorted(latencies)
    cuts = statistics.quantiles(ordered, n=100)
    return (
        f"{label}: {len(ordered)} interactions, p50 {cuts[49] * 1000:.1f} ms, "
        f"p99 {cuts[98] * 1000:.1f} ms, max {ordered[-1] * 1000:.1f} ms"
    )


def main() -> None:
    if sys.argv[1:] == [SERVE_BOT]:
        asyncio.run(serve_bot())
        return
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        by_command = asyncio.run(measure(rounds, Path(folder)))
    print(
        f"rr commands, {rounds} rounds of {CONCURRENT} concurrent members (bot in its own process)"
    )
    print(_summary("all", [latency for values in by_command.values() for latency in values]))
    for name, values in by_command.items():
        print(_summary(f"/{name}", values))
    print(f"wall time {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
