"""Command sync validation against Discord's documented limits."""

from typing import Any

import pytest
from discord import app_commands

from discord_emulator import DiscordError, Emulator
from discord_emulator.command_limits import validate_commands
from tests.discord_emulator.bot_app import FlightBot
from tests.discord_emulator.conftest import Squadron


def option(name: str = "size", kind: int = 3, **extra: Any) -> dict[str, Any]:
    return {"name": name, "description": "An option", "type": kind, **extra}


def command(name: str = "server", **extra: Any) -> dict[str, Any]:
    return {"name": name, "description": "A command", "type": 1, **extra}


def choices(count: int) -> list[dict[str, Any]]:
    return [{"name": f"choice {n}", "value": f"c{n}"} for n in range(count)]


def errors_of(commands: list[dict[str, Any]]) -> dict[str, Any]:
    with pytest.raises(DiscordError) as raised:
        validate_commands(commands)
    assert (raised.value.status, raised.value.code) == (400, 50035)
    assert raised.value.errors is not None
    return raised.value.errors


def codes_at(errors: dict[str, Any], *path: str) -> list[str]:
    node = errors
    for key in path:
        node = node[key]
    return [entry["code"] for entry in node["_errors"]]


def test_a_valid_nested_command_is_accepted() -> None:
    start = option("start", 1, options=[option(required=True), option("duration")])
    group = option("booking", 2, options=[option("make", 1), option("cancel", 1)])
    valid = [
        command(options=[start, group]),
        {"name": "Inspect Pilot", "type": 2, "description": ""},
    ]
    assert validate_commands(valid) == valid


@pytest.mark.parametrize("name", ["Server", "server start", "s" * 33, "", "über!"])
def test_invalid_or_uppercase_chat_input_names_are_rejected(name: str) -> None:
    assert codes_at(errors_of([command(name)]), "0", "name") == ["APPLICATION_COMMAND_INVALID_NAME"]


def test_unicode_lowercase_names_are_accepted() -> None:
    assert validate_commands([command("über-flug")])


@pytest.mark.parametrize("description", ["", "d" * 101])
def test_descriptions_must_have_1_to_100_characters(description: str) -> None:
    errors = errors_of([command(description=description)])
    assert codes_at(errors, "0", "description") == ["BASE_TYPE_BAD_LENGTH"]


def test_more_than_25_options_are_rejected() -> None:
    errors = errors_of([command(options=[option(f"o{n}") for n in range(26)])])
    assert codes_at(errors, "0", "options") == ["BASE_TYPE_MAX_LENGTH"]


def test_more_than_25_choices_are_rejected() -> None:
    errors = errors_of([command(options=[option(choices=choices(26))])])
    assert codes_at(errors, "0", "options", "0", "choices") == ["BASE_TYPE_MAX_LENGTH"]


def test_autocomplete_cannot_be_combined_with_choices() -> None:
    errors = errors_of([command(options=[option(choices=choices(2), autocomplete=True)])])
    assert codes_at(errors, "0", "options", "0", "autocomplete") == [
        "APPLICATION_COMMAND_OPTION_CHOICES_AND_AUTOCOMPLETE"
    ]


def test_required_options_must_come_before_optional_ones() -> None:
    errors = errors_of([command(options=[option("a"), option("b", required=True)])])
    assert codes_at(errors, "0", "options", "1") == ["APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID"]


def test_option_names_must_be_unique() -> None:
    errors = errors_of([command(options=[option("a"), option("a")])])
    assert codes_at(errors, "0", "options", "1", "name") == [
        "APPLICATION_COMMAND_OPTIONS_DUPLICATE_NAME"
    ]


def test_groups_nest_at_most_command_group_subcommand() -> None:
    too_deep = option("outer", 2, options=[option("inner", 2, options=[option("leaf", 1)])])
    errors = errors_of([command(options=[too_deep])])
    assert codes_at(errors, "0", "options", "0", "options", "0", "type") == [
        "APPLICATION_COMMAND_OPTION_NESTING_INVALID"
    ]


def test_the_combined_size_is_limited_to_8000_characters() -> None:
    big = [
        option(f"o{n}", choices=[{"name": "n" * 100, "value": "v" * 100}] * 2) for n in range(20)
    ]
    errors = errors_of([command(options=big)])
    assert codes_at(errors, "0") == ["APPLICATION_COMMAND_TOO_LARGE"]


def test_at_most_100_chat_input_commands_per_scope() -> None:
    assert codes_at(errors_of([command(f"c{n}") for n in range(101)])) == [
        "APPLICATION_COMMANDS_LIMIT_EXCEEDED"
    ]


def test_at_most_15_user_commands_per_scope() -> None:
    user_commands = [{"name": f"User {n}", "type": 2} for n in range(16)]
    assert codes_at(errors_of(user_commands)) == ["APPLICATION_COMMANDS_LIMIT_EXCEEDED"]


def test_command_names_are_unique_per_type_in_a_scope() -> None:
    assert codes_at(errors_of([command("a"), command("a")]), "1") == [
        "APPLICATION_COMMANDS_DUPLICATE_NAME"
    ]


async def test_the_bots_sync_fails_with_command_sync_failure_naming_the_field(
    emu: Emulator, squadron: Squadron, bot: FlightBot
) -> None:
    async def callback(interaction: Any) -> None: ...

    wordy: app_commands.Command[Any, ..., None] = app_commands.Command(
        name="wordy", description="w" * 101, callback=callback
    )
    bot.tree.add_command(wordy)
    with pytest.raises(app_commands.CommandSyncFailure) as raised:
        await bot.tree.sync()
    assert "description: Must be between 1 and 100 in length." in str(raised.value)
    assert "wordy" not in {c["name"] for c in emu.registered_commands()}
