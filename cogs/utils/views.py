"""Buttons: confirm or cancel a request, buy exactly the credit that is missing (or start on the
credit there is), the persistent extend / end buttons on end-of-time warnings, and Keep running
on idle warnings.

Confirm and buy buttons live on private replies and only need to work while the bot runs, so they
are ordinary views with a timeout. Extend and end sit on channel messages that must keep working
after a restart, so they are ``DynamicItem``s whose custom id carries the session and the minutes.
"""

import re
from collections.abc import Awaitable, Callable
from typing import Any
from weakref import WeakKeyDictionary

import discord

from bot.domain.errors import InsufficientCredit
from bot.domain.money import format_cents
from cogs.utils.errors import send_error

Action = Callable[[discord.Interaction], Awaitable[None]]
Button = discord.ui.Button[Any]
CONFIRM_TIMEOUT = 300.0
SESSION_ID = r"[0-9a-f-]{36}"
PRIVATE_BUTTONS = ("confirm", "dismiss", "buy", "newer", "older")
"""The custom ids of the buttons on private prompts (``OwnedView``s)."""
_LIVE: WeakKeyDictionary[discord.Client, set[int]] = WeakKeyDictionary()
"""Per client: the ids of the messages whose owned view still answers."""


class OwnedView(discord.ui.View):
    """A view only the member who asked for it may press; errors reach them as one sentence.

    Whoever sends one passes the message id to ``shown_on``: while the view lives, its buttons
    are its own; once it has timed out or stopped, or the bot restarted, ``ExpiredButton``
    answers them instead of leaving Discord to say the interaction failed.
    """

    def __init__(self, owner_id: int) -> None:
        super().__init__(timeout=CONFIRM_TIMEOUT)
        self.owner_id = owner_id
        self._shown: list[tuple[set[int], int]] = []

    def shown_on(self, interaction: discord.Interaction, message_id: int | None) -> None:
        """The view is on message ``message_id``, sent in answer to ``interaction``."""
        if message_id is not None and not self.is_finished():
            live = _LIVE.setdefault(interaction.client, set())
            live.add(message_id)
            self._shown.append((live, message_id))

    def stop(self) -> None:
        self._forget()
        super().stop()

    async def on_timeout(self) -> None:
        self._forget()

    def _forget(self) -> None:
        for live, message_id in self._shown:
            live.discard(message_id)

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id == self.owner_id:
            return True
        await interaction.response.send_message(
            "Only the member who asked can press these buttons.", ephemeral=True
        )
        return False

    async def on_error(
        self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item[Any]
    ) -> None:
        await send_error(interaction, error)


class ConfirmView(OwnedView):
    """Confirm / Cancel under a quote or a destructive request."""

    def __init__(self, owner_id: int, on_confirm: Action, *, confirm_label: str) -> None:
        super().__init__(owner_id)
        self._on_confirm = on_confirm
        self.confirm.label = confirm_label

    @discord.ui.button(label="Confirm", style=discord.ButtonStyle.success, custom_id="confirm")
    async def confirm(self, interaction: discord.Interaction, button: Button) -> None:
        self.stop()
        await self._on_confirm(interaction)

    @discord.ui.button(label="Never mind", style=discord.ButtonStyle.secondary, custom_id="dismiss")
    async def dismiss(self, interaction: discord.Interaction, button: Button) -> None:
        self.stop()
        await interaction.response.edit_message(
            content="Nothing was changed.", embed=None, view=None
        )


class BuyView(OwnedView):
    """One button that DMs a checkout link for exactly the missing credit."""

    def __init__(self, owner_id: int, on_buy: Action, *, label: str) -> None:
        super().__init__(owner_id)
        self._on_buy = on_buy
        self.buy.label = label

    @discord.ui.button(label="Buy credit", style=discord.ButtonStyle.primary, custom_id="buy")
    async def buy(self, interaction: discord.Interaction, button: Button) -> None:
        self.stop()
        await self._on_buy(interaction)


class StartOrBuyView(OwnedView):
    """Under a start the credit only partly covers: start on the credit there is, or buy the
    rest first (the start then follows the payment)."""

    def __init__(self, owner_id: int, on_start: Action, on_buy: Action, *, buy_label: str) -> None:
        super().__init__(owner_id)
        self._on_start = on_start
        self._on_buy = on_buy
        self.buy.label = buy_label

    @discord.ui.button(label="Start anyway", style=discord.ButtonStyle.success, custom_id="confirm")
    async def start_anyway(self, interaction: discord.Interaction, button: Button) -> None:
        self.stop()
        await self._on_start(interaction)

    @discord.ui.button(label="Buy credit", style=discord.ButtonStyle.primary, custom_id="buy")
    async def buy(self, interaction: discord.Interaction, button: Button) -> None:
        self.stop()
        await self._on_buy(interaction)


def buy_label(amount_cents: int, currency: str) -> str:
    return f"Buy {format_cents(amount_cents, currency)}"


def shortfall_text(error: InsufficientCredit, amount_cents: int) -> str:
    amount = format_cents(amount_cents, error.currency)
    return f"{error} Press the button to get a payment link for {amount} by DM."


async def _with_servers_cog(
    interaction: discord.Interaction, act: Callable[[Any], Awaitable[None]]
) -> None:
    """Run a persistent button's action on the servers cog (looked up at press time, so a
    reloaded cog is used); its errors reach the member as one sentence."""
    cog = interaction.client.get_cog("ServersCog")  # type: ignore[attr-defined]
    try:
        await act(cog)
    except Exception as error:
        await send_error(interaction, error)


class ExtendButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=rf"rr:extend:(?P<session>{SESSION_ID}):(?P<minutes>\d{{1,4}})",
):
    """Adds minutes to a running server; lives on end warnings, survives restarts."""

    def __init__(self, session_id: str, minutes: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=f"Extend {minutes} min",
                style=discord.ButtonStyle.primary,
                custom_id=f"rr:extend:{session_id}:{minutes}",
            )
        )
        self.session_id = session_id
        self.minutes = minutes

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> "ExtendButton":
        return cls(match["session"], int(match["minutes"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await _with_servers_cog(
            interaction,
            lambda cog: cog.extend_from_button(interaction, self.session_id, self.minutes),
        )


class EndButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=rf"rr:end:(?P<session>{SESSION_ID})",
):
    """Ends a server now instead of waiting for its booked end; asks to confirm first."""

    def __init__(self, session_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="End now",
                style=discord.ButtonStyle.danger,
                custom_id=f"rr:end:{session_id}",
            )
        )
        self.session_id = session_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> "EndButton":
        return cls(match["session"])

    async def callback(self, interaction: discord.Interaction) -> None:
        await _with_servers_cog(
            interaction, lambda cog: cog.ask_to_stop(interaction, self.session_id)
        )


class KeepRunningButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=rf"rr:keep:(?P<session>{SESSION_ID})",
):
    """Holds off the idle stop a server was warned of; lives on idle warnings, survives
    restarts."""

    def __init__(self, session_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Keep running",
                style=discord.ButtonStyle.primary,
                custom_id=f"rr:keep:{session_id}",
            )
        )
        self.session_id = session_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> "KeepRunningButton":
        return cls(match["session"])

    async def callback(self, interaction: discord.Interaction) -> None:
        await _with_servers_cog(
            interaction, lambda cog: cog.keep_running_from_button(interaction, self.session_id)
        )


class ExpiredButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=rf"(?P<name>{'|'.join(PRIVATE_BUTTONS)})",
):
    """Answers a private prompt's button whose view no longer lives (timed out, already used,
    or from before a restart): the prompt becomes one sentence asking to run the command again.

    discord.py hands such a click both to this item and to a live view; this item's first step
    runs first (its task is created first) and leaves the click to a live view."""

    def __init__(self, name: str) -> None:
        super().__init__(discord.ui.Button(label=name, custom_id=name))

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> "ExpiredButton":
        return cls(match["name"])

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        message = interaction.message
        return message is not None and message.id not in _LIVE.get(interaction.client, ())

    async def callback(self, interaction: discord.Interaction) -> None:
        message = interaction.message
        quoted = message is not None and any(
            field.name == "Cost" for embed in message.embeds for field in embed.fields
        )
        what = "This quote" if quoted or self.item.custom_id == "buy" else "This"
        await interaction.response.edit_message(
            content=f"{what} has expired; run the command again.", embed=None, view=None
        )


def end_warning_view(
    session_id: str, extensions: tuple[int, ...] = (30, 60), *, disabled: bool = False
) -> discord.ui.View:
    """Extend and end buttons; ``disabled`` once the warning no longer applies."""
    view = discord.ui.View(timeout=None)
    buttons: list[ExtendButton | EndButton] = [ExtendButton(session_id, m) for m in extensions]
    buttons.append(EndButton(session_id))
    for button in buttons:
        button.item.disabled = disabled
        view.add_item(button)
    return view


def idle_warning_view(session_id: str, *, disabled: bool = False) -> discord.ui.View:
    """The Keep running button; ``disabled`` once the warning no longer applies."""
    view = discord.ui.View(timeout=None)
    button = KeepRunningButton(session_id)
    button.item.disabled = disabled
    view.add_item(button)
    return view
