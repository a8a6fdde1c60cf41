"""The emulator: an aiohttp server on 127.0.0.1 and the driver API tests and the sandbox use."""

from __future__ import annotations

import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from discord_emulator.access import check_can_use, locate_command
from discord_emulator.commands import CommandRegistry
from discord_emulator.component_data import component_data, modal_data
from discord_emulator.core import API, CORE, Core
from discord_emulator.describe import describe
from discord_emulator.errors import InvalidInvocation
from discord_emulator.events import Event, EventBus, MessageCreated, Subscription, Waiter
from discord_emulator.gateway import Gateway
from discord_emulator.handles import DEFAULT_TIMEOUT, InteractionHandle
from discord_emulator.http import bot_authorization, discord_errors
from discord_emulator.interactions import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    AUTOCOMPLETE_RESULT,
    DEFAULT_KEEP_INTERACTIONS,
    MESSAGE_COMPONENT,
    MODAL_SUBMIT,
    Clock,
    Interaction,
    InteractionLedger,
)
from discord_emulator.invocation import CommandBuilder
from discord_emulator.models import (
    Channel,
    DMChannel,
    Guild,
    Message,
    TextChannel,
    User,
)
from discord_emulator.ratelimit import RateLimits
from discord_emulator.rest_channels import routes as channel_routes
from discord_emulator.rest_commands import routes as command_routes
from discord_emulator.rest_guilds import routes as guild_routes
from discord_emulator.rest_session import routes as session_routes
from discord_emulator.rest_webhooks import routes as webhook_routes
from discord_emulator.snowflakes import SnowflakeFactory
from discord_emulator.state import DEFAULT_KEEP_MESSAGES, World

T = TypeVar("T")


class Emulator:
    """A local Discord for one bot: REST under ``/api/v10``, the gateway at ``/gateway``.

    ``clock`` (seconds, monotonic) times the interaction deadlines (3 s to answer, 15 min token);
    inject a fake one to test lateness without sleeping. ``stable_ids_from`` makes the ids of the
    world itself (users, guilds, roles, channels) count up from that instant instead of the wall
    clock, so a world built in the same order has the same ids in every run and a bot's stored data
    about its guilds and members still applies; messages and interactions get fresh ids as on
    Discord, where a bot may use an interaction's id as an idempotency key. It keeps the latest
    ``keep_messages`` messages of each channel and the latest ``keep_interactions`` interactions,
    so a long-running emulator does not grow without end.
    """

    def __init__(
        self,
        *,
        bot_name: str = "rr",
        clock: Clock = time.monotonic,
        stable_ids_from: datetime | None = None,
        keep_messages: int = DEFAULT_KEEP_MESSAGES,
        keep_interactions: int = DEFAULT_KEEP_INTERACTIONS,
    ) -> None:
        self._bus = EventBus()
        places = SnowflakeFactory(stable_ids_from) if stable_ids_from else None
        self._world = World(
            ids=SnowflakeFactory(),
            place_ids=places,
            bus=self._bus,
            bot_name=bot_name,
            keep_messages=keep_messages,
        )
        self.token = secrets.token_urlsafe(32)
        """The bot token to log in with; the emulator refuses any other."""
        self._gateway = Gateway(self._world, self._bus, token=self.token)
        self._ledger = InteractionLedger(self._world, self._bus, clock, keep_interactions)
        self._commands = CommandRegistry(self._world.ids.next, self._world.application_id)
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        """``http://127.0.0.1:<port>/api/v10``: what discord.py's ``Route.BASE`` must be."""
        self.gateway_url = ""
        """``ws://127.0.0.1:<port>/gateway``: what ``DiscordWebSocket.DEFAULT_GATEWAY`` must be."""

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        rate_limits = RateLimits()
        app = web.Application(
            middlewares=[rate_limits.middleware, discord_errors, bot_authorization]
        )
        app[CORE] = Core(
            world=self._world,
            bus=self._bus,
            gateway=self._gateway,
            interactions=self._ledger,
            commands=self._commands,
            token=self.token,
        )
        for routes in (
            session_routes,
            guild_routes,
            channel_routes,
            command_routes,
            webhook_routes,
        ):
            app.add_routes(routes)
        app.router.add_get("/gateway", self._gateway.handle)
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.SockSite(self._runner, listener).start()
        origin = f"127.0.0.1:{port}"
        self.base_url = f"http://{origin}{API}"
        self.gateway_url = f"ws://{origin}/gateway"
        self._world.cdn_url = f"http://{origin}"
        self._gateway.url = self.gateway_url

    async def close(self) -> None:
        await self._gateway.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    # -- the world --------------------------------------------------------------------------

    @property
    def bot_user(self) -> User:
        return self._world.bot

    @property
    def application_id(self) -> int:
        return self._world.application_id

    @property
    def application_owner(self) -> User:
        return self._world.application_owner

    @property
    def guilds(self) -> list[Guild]:
        return list(self._world.guilds.values())

    @property
    def users(self) -> list[User]:
        return list(self._world.users.values())

    def add_user(self, name: str) -> User:
        return self._world.add_user(name)

    def add_guild(self, name: str, owner: User | None = None) -> Guild:
        """A guild with @everyone, #general, the bot, and ``owner`` (a new user when omitted)."""
        return self._world.add_guild(name, owner)

    def close_dms(self, user: User) -> None:
        self._world.close_dms(user)

    def delete_channel(self, channel: TextChannel) -> None:
        self._world.delete_channel(channel)

    def deny_bot(self, channel: TextChannel) -> None:
        self._world.deny_bot(channel)

    def allow_bot(self, channel: TextChannel) -> None:
        self._world.allow_bot(channel)

    def channel_messages(self, channel: TextChannel) -> list[Message]:
        """What everyone sees in the channel, oldest first."""
        return self._world.channel_messages(channel)

    def dm_messages(self, user: User) -> list[Message]:
        """The bot's DMs to ``user``, oldest first."""
        channel = self._world.dm_channels.get(user.id)
        return self._world.channel_messages(channel) if channel else []

    def history(self, where: TextChannel | User) -> list[Message]:
        """Every message a channel (or the bot's DM with a user) keeps, ephemeral and deleted ones
        too, oldest first."""
        channel = self._world.dm_channels.get(where.id) if isinstance(where, User) else where
        return self._world.history(channel) if channel else []

    def stored_message(self, message_id: int) -> Message | None:
        """A message the emulator still keeps, wherever it is."""
        return self._world.messages.get(message_id)

    def slash_commands(self, guild: Guild | None) -> list[dict[str, Any]]:
        """The slash commands a member sees in ``guild`` (or in the bot's DM), as registered."""
        return [c.payload for c in self._commands.slash_commands_for(guild.id if guild else None)]

    def registered_commands(self, guild: Guild | None = None) -> list[dict[str, Any]]:
        """Everything the bot registered in one scope: global, or ``guild``'s own."""
        return [c.payload for c in self._commands.scope(guild.id if guild else None)]

    @property
    def interactions(self) -> list[Interaction]:
        """Every interaction dispatched so far, with its timing and responses."""
        return self._ledger.all

    # -- observing --------------------------------------------------------------------------

    def subscribe(self) -> Subscription:
        """A live feed of every event from now on (``async for event in feed``; close when done)."""
        return self._bus.subscribe()

    def wait_for(
        self, probe: Callable[[Event], T | None], description: str, timeout: float = DEFAULT_TIMEOUT
    ) -> Waiter[T]:
        """An awaitable, registered now, for the first later event ``probe`` returns a value for."""
        return self._bus.wait_for(probe, description, timeout)

    def until(
        self, check: Callable[[], T | None], description: str, timeout: float = DEFAULT_TIMEOUT
    ) -> Awaitable[T]:
        """Resolve with ``check()`` once it returns a value: now, or after some later event."""
        return self._bus.until(check, description, timeout)

    def next_message(
        self, where: TextChannel | User, timeout: float = DEFAULT_TIMEOUT
    ) -> Waiter[Message]:
        """The next message posted after this call in a channel, or in the bot's DM with a user.

        Call it before the action that causes the message, then await it.
        """

        def probe(event: Event) -> Message | None:
            if not isinstance(event, MessageCreated) or event.message.ephemeral:
                return None
            channel = event.message.channel
            if isinstance(where, User):
                in_dm = isinstance(channel, DMChannel) and channel.recipient is where
                return event.message if in_dm else None
            return event.message if channel is where else None

        place = (
            f"a DM to {where.name}" if isinstance(where, User) else f"a message in #{where.name}"
        )
        return self._bus.wait_for(probe, place, timeout)

    def describe(self, event: Event) -> dict[str, Any]:
        """An event as JSON-ready data (what a web page needs to render it)."""
        return describe(event, self._world)

    def drop_connections(self, code: int = 4000) -> Awaitable[list[bool]]:
        """Cut the bot's gateway sockets now (await to finish closing them).

        Events from now on are kept; the bot resumes and gets them replayed, then RESUMED.
        """
        return self._gateway.drop_connections(code)

    # -- acting as users --------------------------------------------------------------------

    async def invoke(
        self,
        guild: Guild | None,
        user: User,
        command: str,
        options: Mapping[str, Any] | None = None,
        *,
        channel: TextChannel | None = None,
    ) -> InteractionHandle:
        """``user`` runs slash command ``command`` ("server start") with ``options``.

        In ``guild`` (in ``channel``, by default its first text channel), or in the bot's DM when
        ``guild`` is None. Returns at once; await ``handle.response()`` for the bot's answer.
        """
        registered, path, where = locate_command(self._commands, guild, user, command, channel)
        data = CommandBuilder(self._world, user, where).build(registered, path, options or {})
        return self._dispatch(APPLICATION_COMMAND, f"/{command}", user, where, data)

    def autocomplete(
        self,
        guild: Guild | None,
        user: User,
        command: str,
        options: Mapping[str, Any] | None = None,
        *,
        focused: str,
        channel: TextChannel | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> Awaitable[list[dict[str, Any]]]:
        """Await the choices the bot suggests while ``user`` types ``options[focused]``."""
        registered, path, where = locate_command(self._commands, guild, user, command, channel)
        builder = CommandBuilder(self._world, user, where)
        data = builder.build(registered, path, options or {}, focused=focused)
        handle = self._dispatch(AUTOCOMPLETE, f"/{command}", user, where, data)
        return self._choices(handle, timeout)

    @staticmethod
    async def _choices(handle: InteractionHandle, within: float) -> list[dict[str, Any]]:
        answer = await handle.response(within)
        if answer.type != AUTOCOMPLETE_RESULT:
            raise InvalidInvocation(
                f"The bot answered autocomplete on {handle.interaction.name} "
                f"with callback type {answer.type}, not 8."
            )
        return handle.interaction.choices

    async def click(
        self, message: Message, custom_id: str, user: User, *, values: list[Any] | None = None
    ) -> InteractionHandle:
        """``user`` clicks button ``custom_id`` on ``message`` (or picks ``values`` in a select)."""
        if message.deleted:
            raise InvalidInvocation("The message was deleted; nobody can click it any more.")
        owner = message.interaction.user if message.interaction else None
        if message.ephemeral and owner is not user:
            raise InvalidInvocation(
                f"Only {owner.name if owner else 'its recipient'} sees that ephemeral message."
            )
        channel = message.channel
        if isinstance(channel, TextChannel):
            check_can_use(channel, user)
        elif channel.recipient is not user:
            raise InvalidInvocation(f"Only {channel.recipient.name} sees the bot's DMs to them.")
        guild_channel = channel if isinstance(channel, TextChannel) else None
        builder = CommandBuilder(self._world, user, guild_channel)
        data = component_data(builder, message, custom_id, values)
        return self._dispatch(MESSAGE_COMPONENT, custom_id, user, channel, data, message)

    async def submit_modal(
        self, opened_by: Interaction, values: Mapping[str, Any]
    ) -> InteractionHandle:
        """Submit, as its user, the modal the bot opened in answer to ``opened_by``."""
        modal = opened_by.modal
        if modal is None:
            raise InvalidInvocation(f"The bot did not open a modal in answer to {opened_by.name}.")
        data = modal_data(modal, values)
        custom_id = str(modal["custom_id"])
        return self._dispatch(
            MODAL_SUBMIT, custom_id, opened_by.user, opened_by.channel, data, opened_by.message
        )

    # -- helpers ----------------------------------------------------------------------------

    def _dispatch(
        self,
        kind: int,
        name: str,
        user: User,
        channel: Channel | None,
        data: dict[str, Any],
        message: Message | None = None,
    ) -> InteractionHandle:
        if not self._gateway.has_session:
            raise InvalidInvocation("No bot is connected to the emulator's gateway yet.")
        if channel is None:
            channel = self._world.dm_channel(user)
        interaction = self._ledger.dispatch(
            kind=kind, name=name, user=user, channel=channel, data=data, message=message
        )
        return InteractionHandle(self, interaction)
