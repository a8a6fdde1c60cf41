"""What a test (or the sandbox page) holds after invoking a command or clicking a component."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from discord_emulator.errors import InvalidInvocation
from discord_emulator.interactions import Interaction
from discord_emulator.models import Message, User

if TYPE_CHECKING:
    from discord_emulator.server import Emulator

DEFAULT_TIMEOUT = 15.0
"""How long a test waits for the bot by default: a bound for a bot that never answers, long
enough for one that waits on other processes (a game server's agent reports every few seconds)."""


@dataclass(frozen=True)
class InitialResponse:
    """The bot's first callback: its type (4 reply, 5 defer, 6/7 update, 8 choices, 9 modal)."""

    type: int
    data: dict[str, Any]
    message: Message | None
    latency: float


class InteractionHandle:
    def __init__(self, emulator: Emulator, interaction: Interaction) -> None:
        self._emulator = emulator
        self.interaction = interaction

    def __repr__(self) -> str:
        return f"<InteractionHandle {self.interaction.name} by {self.interaction.user.name}>"

    @property
    def user(self) -> User:
        return self.interaction.user

    @property
    def messages(self) -> list[Message]:
        """The response and followups, as they are now (edits applied, deleted ones gone)."""
        return self.interaction.messages

    @property
    def latency(self) -> float | None:
        return self.interaction.latency

    def response(self, timeout: float = DEFAULT_TIMEOUT) -> Awaitable[InitialResponse]:
        """Await the bot's initial callback (at once if it already came)."""
        interaction = self.interaction

        def answered() -> InitialResponse | None:
            if interaction.response_type is None or interaction.latency is None:
                return None
            return InitialResponse(
                interaction.response_type,
                interaction.response_data,
                interaction.original,
                interaction.latency,
            )

        description = f"the bot to answer {interaction.name}"
        return self._emulator.until(answered, description, timeout)

    def message(
        self, match: Callable[[Message], bool] | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> Awaitable[Message]:
        """The first of this interaction's messages that ``match`` accepts, now or once it exists.

        Without ``match``: the first message that is not a deferred "thinking" placeholder.
        """
        accept = match or (lambda m: not m.loading)

        def found() -> Message | None:
            return next((m for m in self.messages if accept(m)), None)

        return self._emulator.until(found, f"a reply to {self.interaction.name}", timeout)

    async def click(
        self, custom_id: str, *, values: list[Any] | None = None, user: User | None = None
    ) -> InteractionHandle:
        """Click a component on the newest of this interaction's messages that carries it."""
        for message in reversed(self.messages):
            if custom_id in message.custom_ids():
                return await self._emulator.click(
                    message, custom_id, user or self.user, values=values
                )
        raise InvalidInvocation(
            f"No message of {self.interaction.name} has a component with custom_id {custom_id!r}."
        )

    async def submit_modal(self, values: Mapping[str, Any]) -> InteractionHandle:
        """Fill in and submit the modal the bot opened in answer to this interaction."""
        return await self._emulator.submit_modal(self.interaction, values)
