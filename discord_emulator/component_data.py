"""Building the ``data`` of a component click or a modal submission, as a Discord client would.

A click names a component on a message by custom_id; disabled components cannot be clicked; a
select menu's values are checked against its options and its min/max count, and user, role,
mentionable and channel selects get ``data.resolved``. A modal submission mirrors the modal the
bot sent (action rows or labels around text inputs and selects) with the values filled in.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from discord_emulator.errors import InvalidInvocation
from discord_emulator.invocation import CommandBuilder
from discord_emulator.models import (
    ComponentType,
    Message,
    Role,
    TextChannel,
    User,
    walk_components,
)


def component_data(
    builder: CommandBuilder, message: Message, custom_id: str, values: Sequence[Any] | None
) -> dict[str, Any]:
    """``data`` for a click on a button or a choice in a select menu of ``message``."""
    component = find_component(message, custom_id)
    kind = int(component["type"])
    if component.get("disabled"):
        raise InvalidInvocation(f"The component {custom_id!r} is disabled.")
    data: dict[str, Any] = {"custom_id": custom_id, "component_type": kind}
    if kind == ComponentType.BUTTON:
        if values:
            raise InvalidInvocation(f"{custom_id!r} is a button; it takes no values.")
        return data
    chosen = list(values or [])
    low, high = component.get("min_values", 1), component.get("max_values", 1)
    if not low <= len(chosen) <= high:
        raise InvalidInvocation(
            f"The select menu {custom_id!r} takes {low} to {high} values; {len(chosen)} were given."
        )
    if kind == ComponentType.STRING_SELECT:
        offered = [str(o["value"]) for o in component.get("options") or []]
        for value in chosen:
            if str(value) not in offered:
                raise InvalidInvocation(
                    f"{value!r} is not an option of the select menu {custom_id!r}; "
                    f"its options are: {', '.join(offered)}."
                )
        data["values"] = [str(v) for v in chosen]
        return data
    selects: dict[int, Callable[[Any], User | Role | TextChannel]] = {
        ComponentType.USER_SELECT: builder.user_value,
        ComponentType.ROLE_SELECT: builder.role_value,
        ComponentType.MENTIONABLE_SELECT: builder.mentionable_value,
        ComponentType.CHANNEL_SELECT: builder.channel_value,
    }
    convert = selects.get(kind)
    if convert is None:
        raise InvalidInvocation(f"The component {custom_id!r} (type {kind}) cannot be clicked.")
    try:
        data["values"] = [str(convert(value).id) for value in chosen]
    except (TypeError, ValueError):
        raise InvalidInvocation(
            f"A value given to the select menu {custom_id!r} does not fit it."
        ) from None
    data["resolved"] = builder.resolved_payload()
    return data


def find_component(message: Message, custom_id: str) -> dict[str, Any]:
    for component in walk_components(message.components):
        if component.get("custom_id") == custom_id:
            return component
    raise InvalidInvocation(
        f"The message has no component with custom_id {custom_id!r}; "
        f"it has: {', '.join(message.custom_ids()) or 'none'}."
    )


def modal_data(modal: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` for submitting ``modal`` (as the bot sent it) with the given field values."""
    unknown = set(values) - set(_modal_fields(modal.get("components") or []))
    if unknown:
        raise InvalidInvocation(
            f"The modal {modal.get('title')!r} has no field {sorted(unknown)[0]!r}; "
            f"its fields are: {', '.join(_modal_fields(modal.get('components') or []))}."
        )
    return {
        "custom_id": modal["custom_id"],
        "components": [_submitted(c, values) for c in modal.get("components") or []],
    }


def _modal_fields(components: Sequence[Mapping[str, Any]]) -> list[str]:
    found: list[str] = []
    for component in components:
        if "custom_id" in component:
            found.append(str(component["custom_id"]))
        found.extend(_modal_fields(component.get("components") or []))
        if component.get("component"):
            found.extend(_modal_fields([component["component"]]))
    return found


def _submitted(component: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    kind = component["type"]
    if kind == ComponentType.ACTION_ROW:
        return {
            "type": kind,
            "components": [_submitted(c, values) for c in component["components"]],
        }
    if kind == ComponentType.LABEL:
        return {"type": kind, "component": _submitted(component["component"], values)}
    custom_id = component.get("custom_id")
    value = values.get(str(custom_id))
    if kind == ComponentType.TEXT_INPUT:
        text = "" if value is None else str(value)
        if component.get("required", True) and not text:
            raise InvalidInvocation(f"The modal field {custom_id!r} is required.")
        low, high = component.get("min_length") or 0, component.get("max_length") or 4000
        if text and not low <= len(text) <= high:
            raise InvalidInvocation(
                f"The modal field {custom_id!r} takes {low} to {high} characters, not {len(text)}."
            )
        return {"type": kind, "custom_id": custom_id, "value": text}
    chosen = (
        [] if value is None else [str(v) for v in (value if isinstance(value, list) else [value])]
    )
    return {"type": kind, "custom_id": custom_id, "values": chosen}
