"""The whole bot, end to end: the real ``App`` (store, services, view, scheduler, web app with the
sandbox checkout, local compute) with the unmodified discord.py client connected to the Discord
emulator on loopback, all on a fake clock so that timers are driven without sleeping."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import aiohttp
import pytest

from bot.agentapi import ServerReport
from bot.config import Settings
from bot.domain.actor import Actor
from bot.domain.session import SessionState, SessionStatus
from bot.entrypoints.app import App
from discord_emulator import (
    Emulator,
    Guild,
    Message,
    Permission,
    TextChannel,
    User,
    patched_discord,
)
from eventstore import StoredEvent
from tests.fakes.clock import FakeClock, settle

REAL_TIME_LIMIT_SECONDS = 30.0
POLL_SECONDS = 0.05

T = TypeVar("T")


@dataclass
class World:
    emu: Emulator
    app: App
    clock: FakeClock
    guild: Guild
    general: TextChannel
    reminders: TextChannel
    manager: User
    """Holds the squadron's manager role."""
    admin: User
    """Has Manage Server."""
    pilot: User
    """A plain member."""
    operator: User
    ops_guild: Guild

    @property
    def guild_id(self) -> str:
        return str(self.guild.id)

    async def events(self) -> list[StoredEvent]:
        """Every event the store holds, in order."""
        return [event async for event in self.app.services.store.read_all()]

    async def fund(self, cents: int) -> None:
        operator = Actor(user_id=str(self.operator.id), guild_id=None, is_operator=True)
        await self.app.services.squadrons.grant(operator, self.guild_id, cents, "test credit")

    async def advance(self, delta: timedelta) -> None:
        """Move the bot's clock on and let everything that became due run."""
        await self.clock.advance(delta)
        await settle()

    async def until(self, check: Callable[[], Awaitable[T | None]], what: str) -> T:
        """``check()``'s first value that is not None. rr's state moves in real time as the
        stand-in's agent reports, so this polls (a bound on waiting, not a timer)."""
        for _ in range(int(REAL_TIME_LIMIT_SECONDS / POLL_SECONDS)):
            found = await check()
            if found is not None:
                return found
            await asyncio.sleep(POLL_SECONDS)
        raise AssertionError(f"{what} did not come within {REAL_TIME_LIMIT_SECONDS:g} s")

    async def ready(self) -> SessionState:
        """The guild's session once its server is ready: when the stand-in's mission runs."""

        async def ready_session() -> SessionState | None:
            sessions = await self.app.services.sessions.for_guild(self.guild_id)
            return next((s for s in sessions if s.is_active and s.ready_at is not None), None)

        return await self.until(ready_session, "a ready server")

    async def ended(self, session_id: str) -> SessionState:
        """The session once it has ended: a stop ends the mission first, and the stand-in's
        agent reports it over."""

        async def ended_session() -> SessionState | None:
            session = await self.app.services.sessions.get(session_id)
            return session if session.status is SessionStatus.ENDED else None

        return await self.until(ended_session, "the session's end")

    async def reported(
        self, session_id: str, check: Callable[[ServerReport], bool], what: str
    ) -> ServerReport:
        """The latest report of the session's server once ``check`` holds for it."""

        async def matching() -> ServerReport | None:
            report = self.app.services.agents.heartbeats.latest(session_id)
            return report if report is not None and check(report) else None

        return await self.until(matching, f"a report {what}")

    async def pay(self, link_message: Message) -> None:
        """Open the checkout link in a DM and press Pay, as a person in a browser would."""
        url = next(word for word in link_message.content.split() if word.startswith("http"))
        async with aiohttp.ClientSession() as http:
            async with http.get(url) as page:
                assert page.status == 200, await page.text()
            async with http.post(f"{url}/pay") as paid:
                assert paid.status == 200, await paid.text()


@pytest.fixture
async def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    async with running_world(tmp_path, monkeypatch) as started:
        yield started


@asynccontextmanager
async def running_world(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    dev_guild: bool = False,
    env: Mapping[str, str] | None = None,
) -> AsyncIterator[World]:
    """The world; with ``dev_guild`` the commands are synced to the squadron's guild only, as
    with DISCORD_GUILD_ID in development; ``env`` sets more settings."""
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    async with Emulator() as emu:
        guild = emu.add_guild("Jolly Rogers")
        general = guild.channel("general")
        reminders = guild.add_text_channel("reminders")
        managers = guild.add_role("Squadron managers")
        admins = guild.add_role("Admins", permissions=Permission.MANAGE_GUILD)
        manager, admin, pilot = (
            emu.add_user("maverick"),
            emu.add_user("viper"),
            emu.add_user("goose"),
        )
        guild.add_member(manager, roles=[managers])
        guild.add_member(admin, roles=[admins])
        guild.add_member(pilot)
        operator = emu.add_user("operator")
        ops_guild = emu.add_guild("rr operators", owner=operator)
        for name, value in {
            "RR_EVENT_STORE": "memory://",
            "RR_WEB_PORT": "0",
            "RR_LOCAL_INSTANCES_DIR": str(tmp_path / "instances"),
            "RR_OPERATOR_IDS": str(operator.id),
            "RR_OPERATOR_GUILD_ID": str(ops_guild.id),
            "DISCORD_TOKEN": emu.token,
            "RR_SANDBOX_PAYMENTS": "true",
            "RR_FILES_STORE": f"file://{tmp_path / 'files'}",
            **({"DISCORD_GUILD_ID": str(guild.id)} if dev_guild else {}),
            **(env or {}),
        }.items():
            monkeypatch.setenv(name, value)
        with patched_discord(emu.base_url, emu.gateway_url):
            app = App(Settings(_env_file=None), clock=clock, guild_ready_timeout=0.05)
            await app.start()
            try:
                assert app.discord is not None
                await app.discord.wait_until_ready()
                owner = Actor(user_id=str(admin.id), guild_id=str(guild.id), is_manager=True)
                await app.services.squadrons.change_settings(
                    owner,
                    {"reminder_channel_id": str(reminders.id), "manager_role_id": str(managers.id)},
                )
                yield World(
                    emu,
                    app,
                    clock,
                    guild,
                    general,
                    reminders,
                    manager,
                    admin,
                    pilot,
                    operator,
                    ops_guild,
                )
            finally:
                await app.services.background.drain()
                provider = app.services.provider
                for instance in await provider.list_managed():
                    await provider.terminate(instance.instance_id)
                await app.stop()
