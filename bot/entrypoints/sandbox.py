"""The offline sandbox: with no DISCORD_TOKEN, rr runs against a local Discord a person can click.

`Sandbox.open` starts the Discord API emulator on loopback and seeds a small world:

- "Sandbox Squadron", owned by Ada, with Mia in the "Squadron managers" role, Pete as a plain
  member, #general and #reminders; the squadron's settings (recorded through the services, as
  ``/config`` would) make that role the manager role and #reminders the reminder channel;
- "rr Operators", owned by Olga, an rr operator, where the /admin commands are registered.

`console_routes` mounts the emulator's web console on the bot's web app under `CONSOLE_PATH`
(same origin as the sandbox checkout page the DM'd payment links open) and sends the web app's
``/`` there; `connect` runs the unmodified Discord client against the emulator until `close`, and
has rr greet the squadron in #general (its system channel) as it greets a guild that adds it.
Every run seeds the same world (the same Discord ids), so the squadron's credit and bookings carry
over from one run to the next.
"""

import ipaddress
import logging
from collections.abc import Iterable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime

import discord
from aiohttp import web

from bot.clock import Clock
from bot.domain.actor import Actor
from bot.services.squadrons import SquadronService
from cogs.welcome import greet
from discord_emulator import Emulator, Guild, Role, TextChannel, User, running_bot
from discord_emulator.console import console_app

log = logging.getLogger("rr.sandbox")

CONSOLE_PATH = "/sandbox/discord/"
CONSOLE_TITLE = "rr · Discord sandbox"
GUILD_READY_TIMEOUT = 0.1
"""Seconds discord.py waits for more guilds before it is ready; the emulator sends them at once."""
SANDBOX_PASSWORD = "sandbox"
"""The squadron's server password, so the ready DM shows how rr keeps it out of channels."""


WORLD_IDS_FROM = datetime(2026, 1, 1, tzinfo=UTC)
"""The sandbox's ids count up from here, so its guilds and members are the same in every run and
the squadron's credit and bookings in the store carry over from one ``make run`` to the next."""


@dataclass(frozen=True)
class SandboxWorld:
    squadron: Guild
    managers: Role
    general: TextChannel
    reminders: TextChannel
    owner: User
    manager: User
    member: User
    operators: Guild
    operator: User


def seed_world(emulator: Emulator) -> SandboxWorld:
    """The guilds, roles, channels and people a person tries rr with."""
    owner = emulator.add_user("Ada (owner)")
    squadron = emulator.add_guild("Sandbox Squadron", owner=owner)
    managers = squadron.add_role("Squadron managers")
    manager = emulator.add_user("Mia (manager)")
    member = emulator.add_user("Pete (member)")
    squadron.add_member(manager, roles=[managers])
    squadron.add_member(member)
    reminders = squadron.add_text_channel("reminders")
    operator = emulator.add_user("Olga (operator)")
    operators = emulator.add_guild("rr Operators", owner=operator)
    return SandboxWorld(
        squadron=squadron,
        managers=managers,
        general=squadron.channel("general"),
        reminders=reminders,
        owner=owner,
        manager=manager,
        member=member,
        operators=operators,
        operator=operator,
    )


class Sandbox:
    """The emulator, its world and console, and the Discord client's session against it."""

    def __init__(
        self, clock: Clock, time_scale: float, links: Sequence[tuple[str, str]] = ()
    ) -> None:
        """``links`` are (label, address) of the sandbox's other pages, listed on the console."""
        self.emulator = Emulator(stable_ids_from=WORLD_IDS_FROM)
        self._clock = clock
        self._time_scale = time_scale
        self._links = links
        self._session = AsyncExitStack()
        self._world: SandboxWorld | None = None

    @property
    def world(self) -> SandboxWorld:
        if self._world is None:
            raise RuntimeError("The sandbox has not been opened.")
        return self._world

    async def open(self, squadrons: SquadronService) -> SandboxWorld:
        """Start the emulator, seed the world and record the squadron's settings."""
        await self.emulator.start()
        world = self._world = seed_world(self.emulator)
        owner = Actor(
            user_id=str(world.owner.id),
            guild_id=str(world.squadron.id),
            is_manager=True,
            source="sandbox",
        )
        await squadrons.change_settings(
            owner,
            {
                "server_name": world.squadron.name,
                "manager_role_id": str(world.managers.id),
                "reminder_channel_id": str(world.reminders.id),
                "password": SANDBOX_PASSWORD,
            },
        )
        log.info("sandbox world seeded", extra={"guild_id": str(world.squadron.id)})
        return world

    def console_routes(self, app: web.Application) -> None:
        """Mount the console on the bot's web app (a route registrar for `create_web_app`)."""
        console = console_app(
            self.emulator,
            title=CONSOLE_TITLE,
            now=self._clock.now,
            time_scale=self._time_scale,
            links=self._links,
        )
        # Before the sub-app: its prefix also matches the bare path and would answer 404.
        app.router.add_get(CONSOLE_PATH.rstrip("/"), _to_console)
        app.router.add_get("/", _to_console)
        app.add_subapp(CONSOLE_PATH.rstrip("/"), console)

    def operator_ids(self, configured: Iterable[str]) -> frozenset[str]:
        """The configured operators and the sandbox's own."""
        return frozenset(configured) | {str(self.world.operator.id)}

    @property
    def operator_guild_id(self) -> str:
        return str(self.world.operators.id)

    async def connect(self, client: discord.Client) -> None:
        """Log ``client`` in to the emulator and return once it is ready (commands synced)."""
        await self._session.enter_async_context(running_bot(client, self.emulator))
        guild = client.get_guild(self.world.squadron.id)
        if guild is not None:
            await greet(guild)

    async def close(self) -> None:
        await self._session.aclose()
        await self.emulator.close()


def is_loopback(host: str) -> bool:
    """Whether the web app listening on ``host`` is reached from this machine only: the console
    lets whoever opens it act as any member, operators included."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _to_console(_: web.Request) -> web.Response:
    raise web.HTTPFound(CONSOLE_PATH)


def announce(console_url: str) -> None:
    """The one line a person running ``make run`` needs: where to click."""
    log.info("discord sandbox ready", extra={"url": console_url})
    print(f"rr is running against a local Discord sandbox: open {console_url}", flush=True)
