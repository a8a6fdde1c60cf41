"""Turning failures into replies.

A member's mistake gets one plain sentence; anything unexpected gets a short apology with an
error id that is in the log beside the traceback.
"""

import logging
import uuid

import discord
from discord import app_commands

from bot.domain.errors import Conflict, DomainError, NotFound
from bot.domain.settings import SettingsError
from bot.services.saves import SaveRefused
from cogs.utils.parsing import InputError

log = logging.getLogger("rr.discord")

PLAIN_ERRORS = (InputError, SettingsError, SaveRefused)
STARTING_UP = "rr is starting up; try again in a few seconds."


class NotPermitted(app_commands.CheckFailure):
    """The member may not use this command here; the message says who may."""


def unwrap(error: BaseException) -> BaseException:
    """The exception a command or button raised, without discord.py's invoke wrappers."""
    while isinstance(error, app_commands.CommandInvokeError | app_commands.TransformerError):
        if error.__cause__ is None:
            break
        error = error.__cause__
    if isinstance(error, app_commands.CommandInvokeError):
        return error.original
    return error


def refusal_text(error: DomainError) -> str:
    """The member's sentence for a domain refusal: the errors that carry facts are worded here,
    with the commands to use; the rest say what is wrong themselves."""
    if isinstance(error, NotFound) and error.what == "session":
        return "There is no session with that id; check it with /server list."
    if isinstance(error, NotFound) and error.what == "mission":
        return "The squadron's library has no mission by that name; see /mission list."
    if isinstance(error, Conflict) and error.reason == "session_exists":
        return "That session is already booked; check it with /server status."
    return str(error)


def reply_text(error: BaseException, interaction: discord.Interaction) -> str:
    """What the member is told about ``error``; unexpected errors are logged with an id."""
    original = unwrap(error)
    if isinstance(original, DomainError):
        return refusal_text(original)
    if isinstance(original, (*PLAIN_ERRORS, NotPermitted)):
        return str(original)
    if isinstance(original, app_commands.CommandOnCooldown):
        return f"Slow down a little; try again in {original.retry_after:.0f} seconds."
    if isinstance(original, app_commands.CheckFailure):
        return "You can't use that command here."
    error_id = uuid.uuid4().hex[:8]
    log.error(
        "unexpected error id=%s guild=%s user=%s command=%s",
        error_id,
        interaction.guild_id,
        interaction.user.id,
        interaction.command.qualified_name if interaction.command else None,
        exc_info=original,
    )
    return f"Sorry, something went wrong on our side (error id {error_id}). Please try again."


async def send_error(interaction: discord.Interaction, error: BaseException) -> None:
    """Tell the member what went wrong, privately, whether or not the interaction was answered."""
    text = reply_text(error, interaction)
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not deliver an error reply guild=%s", interaction.guild_id)


class ReportingTree(app_commands.CommandTree):
    """A command tree whose failures always reach the member as one private sentence, and
    that answers "starting up" instead of running a command while the client is
    ``starting_up`` (a refusal then could rest on state the process has not read yet)."""

    starting_up = False

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if not self.starting_up:
            return True
        if interaction.type is discord.InteractionType.autocomplete:
            await interaction.response.autocomplete([])
        else:
            await interaction.response.send_message(STARTING_UP, ephemeral=True)
        return False

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        await send_error(interaction, error)
