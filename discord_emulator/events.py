"""Everything observable in the emulator, as events, and the bus that carries them.

Three ways to observe, all event-driven (no polling): ``subscribe()`` gives a live feed of every
event (the sandbox page streams it); ``wait_for(probe)`` resolves on the first *future* event the
probe accepts; ``until(check)`` resolves as soon as a condition over the current state holds,
re-checking after each event, so it cannot miss something that already happened.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from discord_emulator.models import Guild, Member, Message, Role, TextChannel

if TYPE_CHECKING:
    from discord_emulator.interactions import Interaction

T = TypeVar("T")


@dataclass(frozen=True)
class MessageCreated:
    message: Message


@dataclass(frozen=True)
class MessageEdited:
    message: Message


@dataclass(frozen=True)
class MessageDeleted:
    message: Message


@dataclass(frozen=True)
class CommandsSynced:
    """The bot overwrote its commands globally (``guild`` None) or for one guild."""

    guild: Guild | None
    commands: list[dict[str, Any]]


@dataclass(frozen=True)
class InteractionDispatched:
    interaction: Interaction


@dataclass(frozen=True)
class InteractionAcknowledged:
    """The bot's initial callback arrived; ``interaction.latency`` is dispatch-to-callback time."""

    interaction: Interaction


@dataclass(frozen=True)
class BotConnected:
    """A bot session finished IDENTIFY (READY sent) or RESUME (missed events replayed)."""

    session_id: str
    resumed: bool


@dataclass(frozen=True)
class GuildCreated:
    guild: Guild


@dataclass(frozen=True)
class MemberAdded:
    member: Member


@dataclass(frozen=True)
class MemberUpdated:
    member: Member


@dataclass(frozen=True)
class RoleCreated:
    role: Role


@dataclass(frozen=True)
class ChannelCreated:
    channel: TextChannel


@dataclass(frozen=True)
class ChannelUpdated:
    channel: TextChannel


@dataclass(frozen=True)
class ChannelDeleted:
    channel: TextChannel


Event = (
    MessageCreated
    | MessageEdited
    | MessageDeleted
    | CommandsSynced
    | InteractionDispatched
    | InteractionAcknowledged
    | BotConnected
    | GuildCreated
    | MemberAdded
    | MemberUpdated
    | RoleCreated
    | ChannelCreated
    | ChannelUpdated
    | ChannelDeleted
)


class Waiter(Generic[T]):
    """Registered when created, so it sees events that happen before it is awaited."""

    def __init__(
        self, bus: EventBus, probe: Callable[[Event], T | None], description: str, timeout: float
    ) -> None:
        self._bus = bus
        self._probe = probe
        self._description = description
        self._timeout = timeout
        self._future: asyncio.Future[T] = asyncio.get_running_loop().create_future()

    def offer(self, event: Event) -> None:
        if self._future.done():
            return
        try:
            result = self._probe(event)
        except Exception as error:
            self._future.set_exception(error)
            return
        if result is not None:
            self._future.set_result(result)

    def __await__(self) -> Generator[Any, None, T]:
        return self._result().__await__()

    async def _result(self) -> T:
        try:
            return await asyncio.wait_for(self._future, self._timeout)
        except TimeoutError:
            raise TimeoutError(
                f"Waited {self._timeout:g} s for {self._description}, but it did not happen."
            ) from None
        finally:
            self._bus.discard(self)


class Subscription:
    """A live feed of every event published after subscribing: ``async for event in feed``."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue()

    def put(self, event: Event) -> None:
        self._queue.put_nowait(event)

    def close(self) -> None:
        self._bus.unsubscribe(self)
        self._queue.put_nowait(None)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        item = await self._queue.get()
        if item is None:
            raise StopAsyncIteration
        return item


class EventBus:
    """Delivers each event, in order, to listeners (synchronously), feeds and waiters."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[Event], None]] = []
        self._subscriptions: list[Subscription] = []
        self._waiters: list[Waiter[Any]] = []

    def add_listener(self, listener: Callable[[Event], None]) -> None:
        """Call ``listener`` for every event before any feed or waiter sees it."""
        self._listeners.append(listener)

    def publish(self, event: Event) -> None:
        for listener in self._listeners:
            listener(event)
        for subscription in self._subscriptions:
            subscription.put(event)
        for waiter in list(self._waiters):
            waiter.offer(event)

    def subscribe(self) -> Subscription:
        subscription = Subscription(self)
        self._subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)

    def wait_for(
        self, probe: Callable[[Event], T | None], description: str, timeout: float
    ) -> Waiter[T]:
        """An awaitable for the first future event for which ``probe`` returns something."""
        waiter = Waiter(self, probe, description, timeout)
        self._waiters.append(waiter)
        return waiter

    def discard(self, waiter: Waiter[Any]) -> None:
        if waiter in self._waiters:
            self._waiters.remove(waiter)

    def until(
        self, check: Callable[[], T | None], description: str, timeout: float
    ) -> Awaitable[T]:
        """Resolve with ``check()`` as soon as it returns something, now or after a later event."""
        current = check()
        if current is not None:
            return _ready(current)
        return self.wait_for(lambda _event: check(), description, timeout)


async def _ready(value: T) -> T:
    return value
