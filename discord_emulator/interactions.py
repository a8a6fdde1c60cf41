"""Interactions: what the emulator dispatched, and the bot's callbacks, followups and edits.

Timing follows Discord's rules on an injectable clock (seconds, monotonic by default): the
initial callback is refused with 10062 "Unknown interaction" once 3 s have passed, and the token
(followups, ``@original``) stops working with 50027 after 15 minutes. A second initial callback is
40060. A first followup after a thinking defer (type 5) replaces the "is thinking..." message and
keeps the defer's ephemerality, as on Discord. Each interaction records when it was dispatched
and when its first callback arrived, for acknowledgement-latency measurements.
"""

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from discord_emulator import payloads
from discord_emulator.errors import (
    FormErrors,
    already_acknowledged,
    form_error,
    invalid_webhook_token,
    unknown_interaction,
    unknown_message,
    unknown_webhook,
)
from discord_emulator.events import EventBus, InteractionAcknowledged, InteractionDispatched
from discord_emulator.message_limits import (
    EDITABLE_FLAGS,
    EPHEMERAL,
    INTERACTION_MESSAGE_FLAGS,
    MessageFields,
    Upload,
    parse_message,
)
from discord_emulator.models import LOADING, Channel, InteractionRef, Message, TextChannel, User
from discord_emulator.permissions import DEFAULT_EVERYONE
from discord_emulator.state import World

Clock = Callable[[], float]
"""Seconds on a monotonic scale; the emulator's deadlines are measured with it."""

APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 2, 3, 4, 5
PONG, CHANNEL_MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE = 1, 4, 5, 6, 7
AUTOCOMPLETE_RESULT, MODAL = 8, 9

BETWEEN_1_AND_100 = "Must be between 1 and 100 in length."
INITIAL_RESPONSE_WINDOW = 3.0
TOKEN_LIFETIME = 15 * 60.0
CHAT_INPUT_COMMAND_MESSAGE = 20

ALLOWED_CALLBACKS = {
    APPLICATION_COMMAND: {PONG, CHANNEL_MESSAGE, DEFERRED_MESSAGE, MODAL},
    MESSAGE_COMPONENT: {
        PONG,
        CHANNEL_MESSAGE,
        DEFERRED_MESSAGE,
        DEFERRED_UPDATE,
        UPDATE_MESSAGE,
        MODAL,
    },
    AUTOCOMPLETE: {PONG, AUTOCOMPLETE_RESULT},
    MODAL_SUBMIT: {PONG, CHANNEL_MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE},
}


@dataclass(eq=False)
class Interaction:
    id: int
    token: str = field(repr=False)
    type: int
    name: str
    """What was used: ``/server start`` for a command, the custom_id for a component or modal."""
    user: User
    channel: Channel
    payload: payloads.InteractionPayload = field(repr=False)
    dispatched_at: float
    message: Message | None = None
    """For a component (or a modal opened from one): the message it was on."""
    acknowledged_at: float | None = None
    response_type: int | None = None
    response_data: dict[str, Any] = field(default_factory=dict)
    original: Message | None = None
    followups: list[Message] = field(default_factory=list)

    @property
    def latency(self) -> float | None:
        """Seconds from dispatch to the first callback, on the emulator's clock."""
        if self.acknowledged_at is None:
            return None
        return self.acknowledged_at - self.dispatched_at

    @property
    def messages(self) -> list[Message]:
        """The response message (with edits applied) and the followups, not deleted ones."""
        found = [self.original] if self.original is not None else []
        return [m for m in [*found, *self.followups] if not m.deleted]

    @property
    def choices(self) -> list[dict[str, Any]]:
        """The autocomplete choices the bot answered with (callback type 8)."""
        return list(self.response_data.get("choices") or [])

    @property
    def modal(self) -> dict[str, Any] | None:
        """The modal the bot opened (callback type 9)."""
        return self.response_data if self.response_type == MODAL else None


DEFAULT_KEEP_INTERACTIONS = 250
"""Interactions remembered; past that the oldest is forgotten (its token answers 10015)."""


class InteractionLedger:
    """Every interaction dispatched, up to the latest ``keep`` of them (so the emulator does not
    grow for ever under a long soak); a forgotten one's token is an unknown webhook."""

    def __init__(
        self, world: World, bus: EventBus, clock: Clock, keep: int = DEFAULT_KEEP_INTERACTIONS
    ) -> None:
        if keep < 1:
            raise ValueError("The ledger must keep at least one interaction.")
        self._world = world
        self._bus = bus
        self._clock = clock
        self._keep = keep
        self._by_id: dict[int, Interaction] = {}
        self._by_token: dict[str, Interaction] = {}

    @property
    def all(self) -> list[Interaction]:
        return list(self._by_id.values())

    def dispatch(
        self,
        *,
        kind: int,
        name: str,
        user: User,
        channel: Channel,
        data: dict[str, Any],
        message: Message | None = None,
    ) -> Interaction:
        world = self._world
        interaction_id = world.ids.next()
        token = secrets.token_urlsafe(48)
        if isinstance(channel, TextChannel):
            member_permissions = channel.guild.permissions_for(user, channel)
            app_permissions = channel.guild.permissions_for(world.bot, channel)
        else:
            member_permissions = app_permissions = int(DEFAULT_EVERYONE)
        payload = payloads.interaction(
            interaction_id=interaction_id,
            application_id=world.application_id,
            interaction_type=kind,
            token=token,
            data=data,
            invoker=user,
            channel=channel,
            app_permissions=app_permissions,
            member_permissions=member_permissions,
            message=world.message_payload(message) if message is not None else None,
        )
        interaction = Interaction(
            id=interaction_id,
            token=token,
            type=kind,
            name=name,
            user=user,
            channel=channel,
            payload=payload,
            dispatched_at=self._clock(),
            message=message,
        )
        self._by_id[interaction_id] = interaction
        self._by_token[token] = interaction
        while len(self._by_id) > self._keep:
            forgotten = self._by_id.pop(next(iter(self._by_id)))
            del self._by_token[forgotten.token]
            for attachment_id in _uploaded(forgotten):
                world.attachments.pop(attachment_id, None)
        self._bus.publish(InteractionDispatched(interaction))
        return interaction

    # -- lookups ----------------------------------------------------------------------------

    def by_id(self, interaction_id: int, token: str) -> Interaction:
        interaction = self._by_id.get(interaction_id)
        if interaction is None or not secrets.compare_digest(interaction.token, token):
            raise unknown_interaction()
        return interaction

    def by_token(self, token: str) -> Interaction:
        interaction = self._by_token.get(token)
        if interaction is None:
            raise unknown_webhook()
        if self._clock() - interaction.dispatched_at > TOKEN_LIFETIME:
            raise invalid_webhook_token()
        return interaction

    # -- the initial callback ---------------------------------------------------------------

    def respond(
        self, interaction: Interaction, body: Mapping[str, Any], uploads: Mapping[int, Upload]
    ) -> dict[str, Any]:
        """Handle ``POST /interactions/{id}/{token}/callback``; returns Discord's response body."""
        now = self._clock()
        if interaction.response_type is not None:
            raise already_acknowledged()
        if now - interaction.dispatched_at > INITIAL_RESPONSE_WINDOW:
            raise unknown_interaction()
        kind = _callback_type(interaction, body)
        data = body.get("data") or {}
        if not isinstance(data, dict):
            raise form_error(["data"], "MODEL_TYPE_CONVERT", "Only dictionaries may be used here.")
        if kind == CHANNEL_MESSAGE:
            fields = self._parse(data, uploads)
            self._post(interaction, fields, original=True)
        elif kind == DEFERRED_MESSAGE:
            flags = LOADING | (int(data.get("flags") or 0) & EPHEMERAL)
            self._post(interaction, MessageFields(flags=flags), original=True)
        elif kind in (DEFERRED_UPDATE, UPDATE_MESSAGE) and interaction.message is not None:
            if kind == UPDATE_MESSAGE:
                self._edit(interaction.message, data, uploads)
            interaction.original = interaction.message
        elif kind == AUTOCOMPLETE_RESULT:
            _check_choices(data)
        elif kind == MODAL:
            _check_modal(data)
        interaction.response_type = kind
        interaction.response_data = dict(data)
        interaction.acknowledged_at = now
        self._bus.publish(InteractionAcknowledged(interaction))
        return self._callback_body(interaction, kind)

    def _callback_body(self, interaction: Interaction, kind: int) -> dict[str, Any]:
        original = interaction.original
        summary: dict[str, Any] = {
            "id": str(interaction.id),
            "type": interaction.type,
            "response_message_loading": kind == DEFERRED_MESSAGE,
            "response_message_ephemeral": bool(original and original.ephemeral),
        }
        resource: dict[str, Any] = {"type": kind}
        if original is not None:
            summary["response_message_id"] = str(original.id)
            if kind in (CHANNEL_MESSAGE, DEFERRED_MESSAGE, UPDATE_MESSAGE):
                resource["message"] = self._world.message_payload(original)
        return {"interaction": summary, "resource": resource}

    # -- followups and edits through the token -----------------------------------------------

    def followup(
        self, interaction: Interaction, body: Mapping[str, Any], uploads: Mapping[int, Upload]
    ) -> Message:
        if interaction.response_type is None:
            raise unknown_webhook()
        original = interaction.original
        if interaction.response_type == DEFERRED_MESSAGE and original and original.loading:
            fields = self._parse(body, uploads)
            fields.flags = (fields.flags & ~EPHEMERAL) | (original.flags & EPHEMERAL)
            return self._world.edit_message(original, fields)
        return self._post(interaction, self._parse(body, uploads), original=False)

    def message(self, interaction: Interaction, reference: str) -> Message:
        """``@original`` or the id of one of this interaction's messages."""
        if reference == "@original":
            found = interaction.original
        else:
            found = next((m for m in interaction.messages if str(m.id) == reference), None)
        if found is None or found.deleted:
            raise unknown_message()
        return found

    def edit(
        self,
        interaction: Interaction,
        reference: str,
        body: Mapping[str, Any],
        uploads: Mapping[int, Upload],
    ) -> Message:
        return self._edit(self.message(interaction, reference), body, uploads)

    def delete(self, interaction: Interaction, reference: str) -> None:
        self._world.delete_message(self.message(interaction, reference))

    # -- helpers ----------------------------------------------------------------------------

    def _parse(self, body: Mapping[str, Any], uploads: Mapping[int, Upload]) -> MessageFields:
        return parse_message(
            body, uploads, allowed_flags=INTERACTION_MESSAGE_FLAGS, new_id=self._world.ids.next
        )

    def _edit(
        self, message: Message, body: Mapping[str, Any], uploads: Mapping[int, Upload]
    ) -> Message:
        fields = parse_message(
            body,
            uploads,
            allowed_flags=EDITABLE_FLAGS,
            new_id=self._world.ids.next,
            current=self._world.fields_of(message),
        )
        fields.flags &= ~LOADING
        return self._world.edit_message(message, fields)

    def _post(self, interaction: Interaction, fields: MessageFields, *, original: bool) -> Message:
        """Post a response (``original``) or followup, recorded on the interaction first."""
        command = interaction.type == APPLICATION_COMMAND
        responded_with = interaction.original if not original else None
        ref = InteractionRef(
            id=interaction.id,
            type=interaction.type,
            name=interaction.name.removeprefix("/"),
            user=interaction.user,
            original_response_message_id=responded_with.id if responded_with else None,
            interacted_message_id=interaction.message.id if interaction.message else None,
        )
        message = self._world.new_message(
            interaction.channel,
            fields,
            author=self._world.bot,
            message_type=CHAT_INPUT_COMMAND_MESSAGE if command and original else 0,
            interaction=ref,
            webhook_id=self._world.application_id,
        )
        if original:
            interaction.original = message
        else:
            interaction.followups.append(message)
        self._world.add_message(message)
        return message


def _uploaded(interaction: Interaction) -> list[int]:
    """The ids of the files the user attached to the interaction's options."""
    resolved = interaction.payload["data"].get("resolved") or {}
    return [int(attachment_id) for attachment_id in resolved.get("attachments") or {}]


def _callback_type(interaction: Interaction, body: Mapping[str, Any]) -> int:
    """The callback type, if Discord accepts it for this kind of interaction."""
    kind = body.get("type")
    allowed = ALLOWED_CALLBACKS[interaction.type]
    if interaction.message is None:
        allowed = allowed - {DEFERRED_UPDATE, UPDATE_MESSAGE}
    if not isinstance(kind, int) or kind not in allowed:
        raise form_error(["type"], "INTERACTION_RESPONSE_TYPE_INVALID", "Invalid response type.")
    return kind


def _check_choices(data: Mapping[str, Any]) -> None:
    errors = FormErrors()
    choices = data.get("choices") or []
    if len(choices) > 25:
        errors.add(["data", "choices"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    for index, choice in enumerate(choices):
        if not 1 <= len(str(choice.get("name") or "")) <= 100:
            errors.add(
                ["data", "choices", index, "name"],
                "BASE_TYPE_BAD_LENGTH",
                BETWEEN_1_AND_100,
            )
    errors.raise_if_any()


def _check_modal(data: Mapping[str, Any]) -> None:
    errors = FormErrors()
    if not 1 <= len(str(data.get("custom_id") or "")) <= 100:
        errors.add(["data", "custom_id"], "BASE_TYPE_BAD_LENGTH", BETWEEN_1_AND_100)
    if not 1 <= len(str(data.get("title") or "")) <= 45:
        errors.add(["data", "title"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 45 in length.")
    if not 1 <= len(data.get("components") or []) <= 5:
        errors.add(
            ["data", "components"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length."
        )
    errors.raise_if_any()
