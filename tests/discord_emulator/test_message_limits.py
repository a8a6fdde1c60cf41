"""Message bodies checked against Discord's documented message limits."""

from typing import Any

import pytest

from discord_emulator import DiscordError
from discord_emulator.message_limits import INTERACTION_MESSAGE_FLAGS, MessageFields, parse_message


def parse(body: dict[str, Any], current: MessageFields | None = None) -> MessageFields:
    ids = iter(range(1, 100))
    return parse_message(
        body, {}, allowed_flags=INTERACTION_MESSAGE_FLAGS, new_id=lambda: next(ids), current=current
    )


def rejected(body: dict[str, Any]) -> DiscordError:
    with pytest.raises(DiscordError) as raised:
        parse(body)
    return raised.value


def button(custom_id: str) -> dict[str, Any]:
    return {"type": 2, "style": 1, "label": custom_id, "custom_id": custom_id}


def test_content_of_exactly_2000_characters_is_accepted() -> None:
    assert parse({"content": "x" * 2000}).content == "x" * 2000


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"content": "x" * 2001}, ["content"]),
        ({"embeds": [{"title": "t"}] * 11}, ["embeds"]),
        ({"embeds": [{"title": "t" * 257}]}, ["embeds", "0", "title"]),
        ({"embeds": [{"description": "d" * 4097}]}, ["embeds", "0", "description"]),
        ({"embeds": [{"fields": [{"name": "n", "value": "v"}] * 26}]}, ["embeds", "0", "fields"]),
        (
            {"embeds": [{"fields": [{"name": "n", "value": "v" * 1025}]}]},
            ["embeds", "0", "fields", "0", "value"],
        ),
        ({"embeds": [{"footer": {"text": "f" * 2049}}]}, ["embeds", "0", "footer", "text"]),
        ({"embeds": [{"author": {"name": "a" * 257}}]}, ["embeds", "0", "author", "name"]),
        ({"embeds": [{"description": "d" * 3000}, {"description": "d" * 3001}]}, ["embeds"]),
        ({"components": [{"type": 1, "components": [button("a")]}] * 6}, ["components"]),
        (
            {"components": [{"type": 1, "components": [button(f"b{n}") for n in range(6)]}]},
            ["components", "0", "components"],
        ),
        (
            {"components": [{"type": 1, "components": [button("same"), button("same")]}]},
            ["components", "0", "components", "1", "custom_id"],
        ),
    ],
)
def test_over_limit_messages_get_a_form_error_at_the_field(
    body: dict[str, Any], path: list[str]
) -> None:
    error = rejected(body)
    assert (error.status, error.code) == (400, 50035)
    node: Any = error.errors
    for key in path:
        node = node[key]
    assert node["_errors"]


def test_an_empty_message_is_refused_with_50006() -> None:
    error = rejected({"content": ""})
    assert (error.code, error.message) == (50006, "Cannot send an empty message")


def test_an_edit_keeps_the_fields_it_does_not_mention() -> None:
    current = parse({"content": "hello", "embeds": [{"title": "t"}]})
    edited = parse({"content": "bye"}, current)
    assert edited.content == "bye"
    assert edited.embeds == [{"type": "rich", "title": "t"}]
