"""Validation of a bulk command overwrite (``PUT .../commands``) against Discord's limits.

Rules from ``developers/interactions/application-commands.mdx`` (reference §5): CHAT_INPUT names
and option names match ``^[-_'\\p{L}\\p{N}\\p{sc=Deva}\\p{sc=Thai}]{1,32}$`` and are lowercase
(approximated with Python's unicode ``\\w``, as discord.py does); USER/MESSAGE names are 1-32
characters of anything; descriptions are 1-100 characters (empty for USER/MESSAGE); at most 25
options and 25 choices; choices only on string/integer/number options and never together with
autocomplete; required options before optional ones; unique names per options array; at most
command -> group -> subcommand; name + description + choice names and values (longest
localization per field) at most 8000 characters; at most 100 CHAT_INPUT, 15 USER, 15 MESSAGE and
1 PRIMARY_ENTRY_POINT commands per scope, names unique per type. Every violation found is reported
in one 400 with code 50035, paths as Discord gives them (``0.options.1.name``). Error code strings
follow Discord's where they are documented or widely reported; the rest are descriptive.
"""

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from discord_emulator.commands import CommandType, OptionType
from discord_emulator.errors import FormErrors, form_error

CHAT_INPUT, USER, MESSAGE = CommandType.CHAT_INPUT, CommandType.USER, CommandType.MESSAGE
SUB_COMMAND, SUB_COMMAND_GROUP = OptionType.SUB_COMMAND, OptionType.SUB_COMMAND_GROUP
STRING, INTEGER, NUMBER, CHANNEL = (
    OptionType.STRING,
    OptionType.INTEGER,
    OptionType.NUMBER,
    OptionType.CHANNEL,
)
OPTION_TYPES = set(OptionType)
CHOICE_TYPES: dict[int, type | tuple[type, ...]] = {
    STRING: str,
    INTEGER: int,
    NUMBER: (int, float),
}
PER_SCOPE: dict[int, int] = {
    CHAT_INPUT: 100,
    USER: 15,
    MESSAGE: 15,
    CommandType.PRIMARY_ENTRY_POINT: 1,
}
MAX_COMMAND_SIZE = 8000

INVALID_NAME = "Command name is invalid"
BETWEEN_1_AND_32 = "Must be between 1 and 32 in length."
BETWEEN_1_AND_100 = "Must be between 1 and 100 in length."

_CHAT_NAME = re.compile(r"^[-_'\w]{1,32}$")

Path = list[str | int]


def validate_commands(commands: Any) -> list[dict[str, Any]]:
    """Return ``commands`` if Discord would accept the overwrite; raise its 400 otherwise."""
    if not isinstance(commands, list) or not all(isinstance(c, dict) for c in commands):
        raise form_error([], "BASE_TYPE_ARRAY", "Must be an array of application command objects.")
    errors = FormErrors()
    definitions: list[dict[str, Any]] = commands
    seen: dict[tuple[int, str], int] = {}
    counts: dict[int, int] = {}
    for index, command in enumerate(definitions):
        kind = command.get("type") or CHAT_INPUT
        _check_command(command, kind, [index], errors)
        key = (kind, str(command.get("name")))
        if key in seen:
            errors.add(
                [index],
                "APPLICATION_COMMANDS_DUPLICATE_NAME",
                "Application command names must be unique",
            )
        seen[key] = index
        counts[kind] = counts.get(kind, 0) + 1
    for kind, count in counts.items():
        limit = PER_SCOPE.get(kind)
        if limit is not None and count > limit:
            errors.add(
                [],
                "APPLICATION_COMMANDS_LIMIT_EXCEEDED",
                f"Must be {limit} or fewer {CommandType(kind).name} commands per scope.",
            )
    errors.raise_if_any()
    return definitions


def _check_command(command: Mapping[str, Any], kind: int, path: Path, errors: FormErrors) -> None:
    if kind not in PER_SCOPE:
        errors.add([*path, "type"], "BASE_TYPE_CHOICES", "Value must be one of (1, 2, 3, 4).")
        return
    if kind == CHAT_INPUT:
        _check_chat_name(command, path, errors)
        _check_description(command, path, errors)
        _check_options(command.get("options") or [], [*path, "options"], errors, parent=None)
        if command_size(command) > MAX_COMMAND_SIZE:
            errors.add(path, "APPLICATION_COMMAND_TOO_LARGE", "Command exceeds maximum size (8000)")
        return
    for name in _texts(command, "name"):
        if not 1 <= len(name) <= 32:
            errors.add([*path, "name"], "BASE_TYPE_BAD_LENGTH", BETWEEN_1_AND_32)
    if command.get("description"):
        errors.add(
            [*path, "description"],
            "APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION",
            "Context menu commands cannot have a description.",
        )
    if command.get("options"):
        errors.add(
            [*path, "options"],
            "APPLICATION_COMMAND_CONTEXT_MENU_OPTIONS",
            "Context menu commands cannot have options.",
        )


def _texts(obj: Mapping[str, Any], key: str) -> Iterator[str]:
    """The field's default text and every localization of it."""
    yield str(obj.get(key) or "")
    yield from (str(text) for text in (obj.get(f"{key}_localizations") or {}).values())


def _check_chat_name(obj: Mapping[str, Any], path: Path, errors: FormErrors) -> None:
    for name in _texts(obj, "name"):
        if not _CHAT_NAME.match(name) or name != name.lower():
            errors.add([*path, "name"], "APPLICATION_COMMAND_INVALID_NAME", INVALID_NAME)
            return


def _check_description(obj: Mapping[str, Any], path: Path, errors: FormErrors) -> None:
    for text in _texts(obj, "description"):
        if not 1 <= len(text) <= 100:
            errors.add(
                [*path, "description"],
                "BASE_TYPE_BAD_LENGTH",
                BETWEEN_1_AND_100,
            )
            return


def _check_options(
    options: Sequence[Mapping[str, Any]], path: Path, errors: FormErrors, parent: int | None
) -> None:
    """Check one options array; ``parent`` is the enclosing option's type (None at the top)."""
    if len(options) > 25:
        errors.add(path, "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    kinds = [option.get("type") for option in options]
    nested = [k in (SUB_COMMAND, SUB_COMMAND_GROUP) for k in kinds]
    if any(nested) and not all(nested):
        errors.add(
            path,
            "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
            "Subcommands and subcommand groups cannot be mixed with other options.",
        )
    names: set[str] = set()
    optional_seen = False
    for index, option in enumerate(options):
        here: Path = [*path, index]
        name = str(option.get("name"))
        if name in names:
            errors.add(
                [*here, "name"],
                "APPLICATION_COMMAND_OPTIONS_DUPLICATE_NAME",
                "Option names must be unique within one command or subcommand.",
            )
        names.add(name)
        if option.get("required"):
            if optional_seen:
                errors.add(
                    here,
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        else:
            optional_seen = True
        _check_option(option, here, errors, parent)


def _check_option(
    option: Mapping[str, Any], path: Path, errors: FormErrors, parent: int | None
) -> None:
    kind = option.get("type")
    if not isinstance(kind, int) or kind not in OPTION_TYPES:
        errors.add([*path, "type"], "BASE_TYPE_CHOICES", "Value must be one of (1, 2, ..., 11).")
        return
    _check_chat_name(option, path, errors)
    _check_description(option, path, errors)
    if parent == SUB_COMMAND_GROUP and kind != SUB_COMMAND:
        errors.add(
            [*path, "type"],
            "APPLICATION_COMMAND_OPTION_NESTING_INVALID",
            "A subcommand group may contain only subcommands.",
        )
    elif parent == SUB_COMMAND and kind in (SUB_COMMAND, SUB_COMMAND_GROUP):
        errors.add(
            [*path, "type"],
            "APPLICATION_COMMAND_OPTION_NESTING_INVALID",
            "A subcommand cannot contain subcommands or groups.",
        )
    if kind in (SUB_COMMAND, SUB_COMMAND_GROUP):
        _check_options(option.get("options") or [], [*path, "options"], errors, parent=kind)
        return
    _check_choices(option, kind, path, errors)
    _check_ranges(option, kind, path, errors)


def _check_choices(option: Mapping[str, Any], kind: int, path: Path, errors: FormErrors) -> None:
    choices = option.get("choices") or []
    if option.get("autocomplete") and kind not in CHOICE_TYPES:
        errors.add(
            [*path, "autocomplete"],
            "APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_INVALID",
            "Autocomplete is only available on string, integer and number options.",
        )
    if not choices:
        return
    if option.get("autocomplete"):
        errors.add(
            [*path, "autocomplete"],
            "APPLICATION_COMMAND_OPTION_CHOICES_AND_AUTOCOMPLETE",
            "Autocomplete cannot be set on an option that has choices.",
        )
    if kind not in CHOICE_TYPES:
        errors.add(
            [*path, "choices"],
            "APPLICATION_COMMAND_OPTION_CHOICES_INVALID",
            "Choices are only available on string, integer and number options.",
        )
        return
    if len(choices) > 25:
        errors.add([*path, "choices"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    for number, choice in enumerate(choices):
        here: Path = [*path, "choices", number]
        if any(not 1 <= len(text) <= 100 for text in _texts(choice, "name")):
            errors.add([*here, "name"], "BASE_TYPE_BAD_LENGTH", BETWEEN_1_AND_100)
        value = choice.get("value")
        if isinstance(value, bool) or not isinstance(value, CHOICE_TYPES[kind]):
            errors.add([*here, "value"], "BASE_TYPE_INVALID", "The value has the wrong type.")
        elif isinstance(value, str) and len(value) > 100:
            errors.add([*here, "value"], "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")


def _check_ranges(option: Mapping[str, Any], kind: int, path: Path, errors: FormErrors) -> None:
    for key, minimum in (("min_length", 0), ("max_length", 1)):
        value = option.get(key)
        if value is None:
            continue
        if kind != STRING:
            errors.add([*path, key], "BASE_TYPE_INVALID", f"{key} is only valid on string options.")
        elif not minimum <= int(value) <= 6000:
            errors.add([*path, key], "NUMBER_TYPE_MAX", f"Must be between {minimum} and 6000.")
    low, high = option.get("min_value"), option.get("max_value")
    if low is not None and high is not None and low > high:
        errors.add([*path, "min_value"], "NUMBER_TYPE_MAX", "Must be at most max_value.")
    if option.get("channel_types") and kind != CHANNEL:
        errors.add(
            [*path, "channel_types"],
            "BASE_TYPE_INVALID",
            "channel_types is only valid on channel options.",
        )


def command_size(command: Mapping[str, Any]) -> int:
    """Characters counted towards the 8000 limit: name, description, choice names and values."""

    def longest(obj: Mapping[str, Any], key: str) -> int:
        return max(len(text) for text in _texts(obj, key))

    total = longest(command, "name") + longest(command, "description")
    pending = list(command.get("options") or [])
    while pending:
        option = pending.pop()
        total += longest(option, "name") + longest(option, "description")
        for choice in option.get("choices") or []:
            total += longest(choice, "name") + len(str(choice.get("value", "")))
        pending.extend(option.get("options") or [])
    return total
