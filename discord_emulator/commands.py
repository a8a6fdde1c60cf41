"""The application commands a bot has registered, per scope (global or one guild).

A ``PUT`` overwrites a whole scope, as Discord's bulk overwrite does; a command keeps its id while
its (name, type) stays registered in that scope.
"""

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any


class CommandType(IntEnum):
    CHAT_INPUT = 1
    USER = 2
    MESSAGE = 3
    PRIMARY_ENTRY_POINT = 4


class OptionType(IntEnum):
    SUB_COMMAND = 1
    SUB_COMMAND_GROUP = 2
    STRING = 3
    INTEGER = 4
    BOOLEAN = 5
    USER = 6
    CHANNEL = 7
    ROLE = 8
    MENTIONABLE = 9
    NUMBER = 10
    ATTACHMENT = 11


SUBCOMMAND_TYPES = (OptionType.SUB_COMMAND, OptionType.SUB_COMMAND_GROUP)


@dataclass(frozen=True)
class RegisteredCommand:
    id: int
    guild_id: int | None
    payload: dict[str, Any]
    """The command as Discord returns it: the bot's definition plus id, version and scope."""

    @property
    def name(self) -> str:
        return str(self.payload["name"])

    @property
    def type(self) -> int:
        return int(self.payload.get("type") or CommandType.CHAT_INPUT)

    @property
    def options(self) -> list[dict[str, Any]]:
        return list(self.payload.get("options") or [])


class CommandRegistry:
    def __init__(self, new_id: Callable[[], int], application_id: int) -> None:
        self._new_id = new_id
        self._application_id = application_id
        self._scopes: dict[int | None, list[RegisteredCommand]] = {}

    def overwrite(
        self, guild_id: int | None, definitions: list[dict[str, Any]]
    ) -> list[RegisteredCommand]:
        """Replace a scope's commands with ``definitions`` (already validated)."""
        previous = {(c.name, c.type): c.id for c in self._scopes.get(guild_id, [])}
        version = str(self._new_id())
        registered = []
        for definition in definitions:
            kind = int(definition.get("type") or CommandType.CHAT_INPUT)
            command_id = previous.get((str(definition["name"]), kind)) or self._new_id()
            payload = definition | {
                "id": str(command_id),
                "application_id": str(self._application_id),
                "type": kind,
                "version": version,
                "description": definition.get("description") or "",
                "default_member_permissions": definition.get("default_member_permissions"),
            }
            if guild_id is not None:
                payload["guild_id"] = str(guild_id)
            registered.append(RegisteredCommand(command_id, guild_id, payload))
        self._scopes[guild_id] = registered
        return registered

    def scope(self, guild_id: int | None) -> list[RegisteredCommand]:
        return list(self._scopes.get(guild_id, []))

    def slash_commands_for(self, guild_id: int | None) -> list[RegisteredCommand]:
        """The slash commands a user sees in a guild (its own, then global) or in the bot's DM."""
        scopes = [guild_id, None] if guild_id is not None else [None]
        seen: set[str] = set()
        visible = []
        for scope in scopes:
            for command in self._scopes.get(scope, []):
                usable = scope is not None or _usable_in(command, in_guild=guild_id is not None)
                if command.type == CommandType.CHAT_INPUT and usable and command.name not in seen:
                    seen.add(command.name)
                    visible.append(command)
        return visible

    def find(self, guild_id: int | None, name: str) -> RegisteredCommand | None:
        for command in self.slash_commands_for(guild_id):
            if command.name == name:
                return command
        return None


def _usable_in(command: RegisteredCommand, *, in_guild: bool) -> bool:
    """Whether a global command may be used in a guild (context 0) or the bot's DM (context 1)."""
    contexts = command.payload.get("contexts")
    if contexts is None:
        return in_guild or command.payload.get("dm_permission") is not False
    return (0 if in_guild else 1) in contexts
