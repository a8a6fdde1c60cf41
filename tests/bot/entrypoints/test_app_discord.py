"""The app with DISCORD_TOKEN set, against the local Discord API emulator."""

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.config import Settings
from bot.entrypoints.app import App, FatalError
from discord_emulator import BotConnected, CommandsSynced, Emulator, patched_discord

pytestmark = pytest.mark.e2e


@pytest.fixture
async def emulator(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AsyncIterator[Emulator]:
    for name in list(os.environ):
        if name.startswith(("RR_", "DISCORD_", "STRIPE_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RR_EVENT_STORE", "memory://")
    monkeypatch.setenv("RR_WEB_PORT", "0")
    monkeypatch.setenv("RR_SANDBOX_PAYMENTS", "true")
    async with Emulator() as emu:
        with patched_discord(emu.base_url, emu.gateway_url):
            yield emu


async def test_app_connects_to_discord_and_counts_interactions(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    guild = emulator.add_guild("Squadron")
    pilot = emulator.add_user("pilot")
    guild.add_member(pilot)
    monkeypatch.setenv("DISCORD_TOKEN", emulator.token)
    synced = emulator.wait_for(lambda e: e if isinstance(e, CommandsSynced) else None, "sync")
    connected = emulator.wait_for(lambda e: e if isinstance(e, BotConnected) else None, "READY")
    app = App(Settings())
    await app.start()
    try:
        await synced
        await connected
        handle = await emulator.invoke(guild, pilot, "credits balance")
        await handle.response()
        async with (
            aiohttp.ClientSession() as session,
            session.get(app.base_url + "/metrics") as response,
        ):
            metrics = await response.text()
    finally:
        await app.stop()

    assert 'rr_discord_interactions_total{type="application_command"} 1' in metrics


async def test_a_refused_discord_token_stops_start_up_with_one_line(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "not-the-token")
    tasks_before = asyncio.all_tasks()

    with pytest.raises(FatalError) as refused:
        await App(Settings()).start()

    assert str(refused.value) == "Discord refused DISCORD_TOKEN; check the bot token."
    assert asyncio.all_tasks() == tasks_before


async def test_a_discord_connection_that_ends_for_good_asks_for_the_app_to_stop(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", emulator.token)
    connected = emulator.wait_for(lambda e: e if isinstance(e, BotConnected) else None, "READY")
    fatal = asyncio.Event()
    app = App(Settings(), on_fatal=fatal.set)
    await app.start()
    try:
        await connected
        await emulator.drop_connections(code=4004)  # authentication failed: no reconnecting
        async with asyncio.timeout(10):
            await fatal.wait()
    finally:
        await app.stop()

    assert app.failure is not None
    assert app.failure.startswith("the Discord connection ended:")
