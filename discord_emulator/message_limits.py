"""Message bodies as a bot sends them, checked against Discord's documented message limits.

Limits (``developers/resources/message.mdx``, components reference): content 2000 characters; at
most 10 embeds; per embed title 256, description 4096, 25 fields (name 256, value 1024), footer
2048, author 256; at most 6000 characters across all embeds; at most 5 action rows of at most 5
components (a select menu fills its row); custom ids of 1-100 characters, unique per message;
at most 40 components in a Components V2 message. A violation is a 400 with code 50035 and the
field path, or code 50006 for an empty message, as from Discord. Other message features
(stickers, polls, replies) are not emulated.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from discord_emulator.errors import FormErrors, empty_message
from discord_emulator.models import Attachment, ComponentType

SUPPRESS_EMBEDS = 1 << 2
EPHEMERAL = 1 << 6
SUPPRESS_NOTIFICATIONS = 1 << 12
IS_COMPONENTS_V2 = 1 << 15
CHANNEL_MESSAGE_FLAGS = SUPPRESS_EMBEDS | SUPPRESS_NOTIFICATIONS | IS_COMPONENTS_V2
INTERACTION_MESSAGE_FLAGS = CHANNEL_MESSAGE_FLAGS | EPHEMERAL
EDITABLE_FLAGS = SUPPRESS_EMBEDS | IS_COMPONENTS_V2

LINK_STYLE, PREMIUM_STYLE = 5, 6
"""Button styles without a custom_id: a link has a ``url``, a premium button a ``sku_id``."""
EMBED_TEXT_LIMITS = {"title": 256, "description": 4096}


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request (``files[n]``)."""

    filename: str
    content_type: str
    data: bytes


@dataclass
class MessageFields:
    """The parts of a message its author controls (what a create sets and an edit changes)."""

    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    flags: int = 0


def parse_message(
    body: Mapping[str, Any],
    uploads: Mapping[int, Upload],
    *,
    allowed_flags: int,
    new_id: Callable[[], int],
    current: MessageFields | None = None,
) -> MessageFields:
    """The message a create (``current`` None) or an edit of ``current`` produces, validated."""
    base = current or MessageFields()
    errors = FormErrors()
    content = body.get("content", base.content) if current else body.get("content")
    if content is None:
        content = ""
    if not isinstance(content, str):
        errors.add(["content"], "BASE_TYPE_STRING", "Could not interpret the value as string.")
        content = ""
    embeds = _list_of_objects(body, "embeds", base.embeds, errors)
    components = _list_of_objects(body, "components", base.components, errors)
    flags = base.flags
    if "flags" in body and body["flags"] is not None:
        flags = (base.flags & ~allowed_flags) | (int(body["flags"]) & allowed_flags)
    fields = MessageFields(
        content=content,
        embeds=[{"type": "rich", **embed} for embed in embeds],
        components=components,
        attachments=_attachments(body, uploads, base.attachments, new_id),
        flags=flags,
    )
    _check_limits(fields, errors)
    _check_allowed_mentions(body.get("allowed_mentions"), errors)
    errors.raise_if_any()
    if not (fields.content or fields.embeds or fields.components or fields.attachments):
        raise empty_message()
    return fields


def _list_of_objects(
    body: Mapping[str, Any], key: str, default: list[dict[str, Any]], errors: FormErrors
) -> list[dict[str, Any]]:
    value = body.get(key, default)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        errors.add([key], "BASE_TYPE_ARRAY", "Must be an array of objects.")
        return []
    return value


def _attachments(
    body: Mapping[str, Any],
    uploads: Mapping[int, Upload],
    kept: Sequence[Attachment],
    new_id: Callable[[], int],
) -> list[Attachment]:
    """Existing attachments named in ``attachments`` stay; ``files[n]`` uploads are added."""
    entries = body.get("attachments")
    if entries is None:
        result = list(kept)
        described: dict[int, Mapping[str, Any]] = {}
    else:
        kept_ids = {str(entry.get("id")) for entry in entries}
        result = [a for a in kept if str(a.id) in kept_ids]
        described = {int(e["id"]): e for e in entries if str(e.get("id", "")).isdigit()}
    for index, upload in sorted(uploads.items()):
        entry = described.get(index, {})
        result.append(
            Attachment(
                id=new_id(),
                filename=str(entry.get("filename") or upload.filename),
                content_type=upload.content_type,
                data=upload.data,
                description=entry.get("description"),
            )
        )
    return result


def _check_limits(fields: MessageFields, errors: FormErrors) -> None:
    if len(fields.content) > 2000:
        errors.add(["content"], "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
    if len(fields.embeds) > 10:
        errors.add(["embeds"], "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    total = sum(_check_embed(index, embed, errors) for index, embed in enumerate(fields.embeds))
    if total > 6000:
        errors.add(["embeds"], "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")
    if fields.flags & IS_COMPONENTS_V2:
        _check_v2_components(fields.components, errors)
    else:
        _check_action_rows(fields.components, errors)


def _too_long(errors: FormErrors, path: list[str | int], text: str, limit: int) -> None:
    if len(text) > limit:
        errors.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def _check_embed(index: int, embed: Mapping[str, Any], errors: FormErrors) -> int:
    """Check one embed's field limits and return the characters it counts towards 6000."""
    path: list[str | int] = ["embeds", index]
    counted = 0
    for key, limit in EMBED_TEXT_LIMITS.items():
        text = str(embed.get(key) or "")
        _too_long(errors, [*path, key], text, limit)
        counted += len(text.strip())
    for key, inner, limit in (("footer", "text", 2048), ("author", "name", 256)):
        text = str((embed.get(key) or {}).get(inner) or "")
        _too_long(errors, [*path, key, inner], text, limit)
        counted += len(text.strip())
    embed_fields = embed.get("fields") or []
    if len(embed_fields) > 25:
        errors.add([*path, "fields"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    for number, embed_field in enumerate(embed_fields):
        for key, limit in (("name", 256), ("value", 1024)):
            text = str(embed_field.get(key) or "")
            if not text.strip():
                errors.add(
                    [*path, "fields", number, key], "BASE_TYPE_REQUIRED", "This field is required"
                )
            _too_long(errors, [*path, "fields", number, key], text, limit)
            counted += len(text.strip())
    return counted


def _check_custom_id(
    component: Mapping[str, Any], path: list[str | int], seen: set[str], errors: FormErrors
) -> None:
    custom_id = component.get("custom_id")
    if custom_id is None:
        return
    if not 1 <= len(str(custom_id)) <= 100:
        errors.add(
            [*path, "custom_id"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
        )
    if custom_id in seen:
        errors.add(
            [*path, "custom_id"],
            "COMPONENT_CUSTOM_ID_DUPLICATED",
            "Component custom id cannot be duplicated",
        )
    seen.add(str(custom_id))


def _check_action_rows(rows: Sequence[Mapping[str, Any]], errors: FormErrors) -> None:
    if len(rows) > 5:
        errors.add(["components"], "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
    seen: set[str] = set()
    for index, row in enumerate(rows):
        path: list[str | int] = ["components", index]
        if row.get("type") != ComponentType.ACTION_ROW:
            errors.add(
                [*path, "type"], "UNION_TYPE_CHOICES", 'Value of field "type" must be one of (1,).'
            )
            continue
        children = row.get("components") or []
        if not 1 <= len(children) <= 5:
            errors.add(
                [*path, "components"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length."
            )
        if len(children) > 1 and any(c.get("type") != ComponentType.BUTTON for c in children):
            errors.add(
                [*path, "components"],
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "The specified component exceeds the maximum width",
            )
        for number, child in enumerate(children):
            _check_interactive(child, [*path, "components", number], seen, errors)


def _check_interactive(
    component: Mapping[str, Any], path: list[str | int], seen: set[str], errors: FormErrors
) -> None:
    _check_custom_id(component, path, seen, errors)
    if component.get("type") == ComponentType.BUTTON:
        link = component.get("style") == LINK_STYLE
        needed = "url" if link else "custom_id"
        if component.get("style") != PREMIUM_STYLE and not component.get(needed):
            errors.add([*path, needed], "BASE_TYPE_REQUIRED", "This field is required")
        _too_long(errors, [*path, "label"], str(component.get("label") or ""), 80)
    elif component.get("type") == ComponentType.STRING_SELECT:
        options = component.get("options") or []
        if not 1 <= len(options) <= 25:
            errors.add(
                [*path, "options"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 25 in length."
            )


def _check_v2_components(components: Sequence[Mapping[str, Any]], errors: FormErrors) -> None:
    seen: set[str] = set()
    count = 0
    pending: list[tuple[Mapping[str, Any], list[str | int]]] = [
        (component, ["components", index]) for index, component in enumerate(components)
    ]
    while pending:
        component, path = pending.pop(0)
        count += 1
        _check_interactive(component, path, seen, errors)
        for number, child in enumerate(component.get("components") or []):
            pending.append((child, [*path, "components", number]))
        for key in ("accessory", "component"):
            if component.get(key):
                pending.append((component[key], [*path, key]))
    if count > 40:
        errors.add(["components"], "BASE_TYPE_MAX_LENGTH", "Must be 40 or fewer in total.")


def _check_allowed_mentions(allowed: Any, errors: FormErrors) -> None:
    if not isinstance(allowed, dict):
        return
    for key in ("users", "roles"):
        if len(allowed.get(key) or []) > 100:
            errors.add(
                ["allowed_mentions", key], "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length."
            )
