"""Two rr apps on one SQLite file: the first to start is the active one (Discord, scheduler), the
second a standby that says so on /healthz (200) and takes over when the first stops or dies.

In one test process the apps share a fake clock and the Discord emulator; the last test runs
two real ``python -m bot`` processes in the sandbox and kills the active one with SIGKILL.
"""

import asyncio
import os
import signal
import tempfile
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from bench.failover import CONNECTED, FAILOVER_TIMEOUT, RrProcess, active_and_ticking, role
from bot.config import Settings
from bot.domain.actor import Actor
from bot.entrypoints.app import App
from bot.leadership import RETRY_EVERY, FencedStore
from bot.notify import CreditsLandedNotice
from bot.view import Balance
from discord_emulator import Emulator, patched_discord
from eventstore import LeaseLost
from tests.fakes.clock import FakeClock

pytestmark = pytest.mark.e2e

WAIT_LIMIT_SECONDS = 30.0
OPERATOR = Actor(user_id="1", guild_id=None, is_operator=True)


@pytest.fixture
async def emulator(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AsyncIterator[Emulator]:
    for name in list(os.environ):
        if name.startswith(("RR_", "DISCORD_", "STRIPE_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RR_EVENT_STORE", f"sqlite:///{tmp_path}/rr.db")
    monkeypatch.setenv("RR_WEB_PORT", "0")
    monkeypatch.setenv("RR_LOCAL_INSTANCES_DIR", str(tmp_path / "instances"))
    monkeypatch.setenv("RR_SANDBOX_PAYMENTS", "true")
    async with Emulator() as emu:
        monkeypatch.setenv("DISCORD_TOKEN", emu.token)
        emu.add_guild("Squadron").add_member(emu.add_user("buyer"))
        with patched_discord(emu.base_url, emu.gateway_url):
            yield emu


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


async def health(app: App) -> tuple[int, dict[str, dict[str, object]]]:
    async with aiohttp.ClientSession() as http, http.get(app.base_url + "/healthz") as response:
        return response.status, (await response.json())["checks"]


async def until(condition: Callable[[], bool], clock: FakeClock, step: timedelta) -> None:
    """Move the clock on by ``step`` until ``condition`` holds, letting the store (SQLite, in
    its thread) answer in between; fails the test past the wait limit."""
    async with asyncio.timeout(WAIT_LIMIT_SECONDS):
        while not condition():
            await clock.advance(step)
            await asyncio.sleep(0.01)


async def test_the_second_app_is_a_standby_until_the_first_stops_then_takes_over(
    emulator: Emulator, clock: FakeClock
) -> None:
    first = App(Settings(_env_file=None), clock=clock, guild_ready_timeout=0.05)
    second = App(Settings(_env_file=None), clock=clock, guild_ready_timeout=0.05)
    await first.start()
    try:
        await second.start()
        try:
            first_status, first_checks = await health(first)
            second_status, second_checks = await health(second)
            assert first.discord is not None and second.discord is None
            assert (first_status, second_status) == (200, 200)
            assert str(first_checks["role"]["detail"]).startswith("active")
            assert str(second_checks["role"]["detail"]).startswith("standby")
            assert second_checks["scheduler"] == {
                "ok": True,
                "detail": "standby: the active process runs it",
            }
            # A webhook the standby answers tells the buyer, through Discord's REST API.
            [buyer] = [user for user in emulator.users if user.name == "buyer"]
            guild_id = str(emulator.guilds[0].id)
            landed = CreditsLandedNotice(guild_id, str(buyer.id), 2_000, Balance(2_000, 0, 2_000))
            await second.services.notifier.notify(landed)
            [dm] = emulator.dm_messages(buyer)

            await first.stop()  # gives the lease up: the standby need not wait for its term
            await until(lambda: second.discord is not None, clock, RETRY_EVERY)
            assert second.discord is not None
            await asyncio.wait_for(second.discord.wait_until_ready(), WAIT_LIMIT_SECONDS)
            status, checks = await health(second)
        finally:
            await second.stop()
    finally:
        await first.stop()

    assert status == 200
    assert str(checks["role"]["detail"]).startswith("active")
    assert checks["scheduler"]["ok"] is True
    assert "$20.00" in dm.content + str(dm.embeds)


async def test_a_deposed_app_asks_to_be_stopped_and_its_late_writes_are_refused(
    emulator: Emulator, clock: FakeClock
) -> None:
    deposed = asyncio.Event()
    first = App(Settings(_env_file=None), deposed.set, clock=clock, guild_ready_timeout=0.05)
    second = App(Settings(_env_file=None), clock=clock, guild_ready_timeout=0.05)
    await first.start()
    try:
        await second.start()
        try:
            fenced = first.services.store
            assert isinstance(fenced, FencedStore) and fenced.fence is not None
            # As if the first app had been paused past its term: its lease ends under it.
            await fenced.release_lease(fenced.fence)
            await until(lambda: second.discord is not None, clock, RETRY_EVERY)
            await until(deposed.is_set, clock, RETRY_EVERY)

            with pytest.raises(LeaseLost):
                await first.services.squadrons.grant(OPERATOR, "42", 500, "late")
            await second.services.squadrons.grant(OPERATOR, "42", 500, "on time")
            balance = await second.services.squadrons.balance("42")
            status, checks = await health(first)
        finally:
            await second.stop()
    finally:
        await first.stop()

    assert first.failure is not None
    assert first.failure.startswith("this process stopped acting: another process took the lease")
    assert first.failure.endswith("start it again to run as a standby")
    assert balance.available_cents == 500
    assert status == 503 and str(checks["role"]["detail"]).startswith("stopping")


async def test_kill_9_of_the_active_process_hands_over_to_the_standby() -> None:
    """Two real processes in the sandbox (each with its own local Discord) on one SQLite file."""
    with tempfile.TemporaryDirectory(prefix="rr-standby-") as folder:
        processes: list[RrProcess] = []
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
                active = await RrProcess.start(Path(folder))
                processes.append(active)
                await active.until_health(http, active_and_ticking)
                standby = await RrProcess.start(Path(folder))
                processes.append(standby)
                _, waiting = await standby.until_health(http, lambda body: role(body) == "standby")
                connected_before = [line for _, line in standby.lines if CONNECTED in line]

                active.process.send_signal(signal.SIGKILL)
                async with asyncio.timeout(FAILOVER_TIMEOUT):
                    _, took_over = await standby.until_health(http, active_and_ticking)
                    await standby.line_with(CONNECTED)
        finally:
            for process in processes:
                await process.stop()

    assert waiting["http_status"] == 200 and connected_before == []
    assert took_over["http_status"] == 200
    assert active.process.returncode == -signal.SIGKILL
    assert "Traceback" not in standby.output()
