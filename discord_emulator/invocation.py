"""Building the ``data`` of an INTERACTION_CREATE the way a Discord client would.

A slash command is resolved against the command tree the bot registered (guild scope first, then
global): the subcommand path is walked, each option value is checked and converted for its
declared type, choices and ranges, and users, members, roles and channels named by options are
put in ``data.resolved``. ``data.guild_id`` is set iff the command is guild-scoped (reference
§3.3). An attachment option takes an ``Upload``: as Discord does, the file is stored on the CDN
(served at its ``url`` until the interaction is forgotten), its id is the option's value and
``data.resolved.attachments`` describes it. Anything a real client would not let a user send
raises ``InvalidInvocation`` with one plain sentence.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from discord_emulator import payloads
from discord_emulator.commands import SUBCOMMAND_TYPES, OptionType, RegisteredCommand
from discord_emulator.errors import InvalidInvocation
from discord_emulator.message_limits import Upload
from discord_emulator.models import (
    Attachment,
    Guild,
    Member,
    Role,
    TextChannel,
    User,
)
from discord_emulator.state import World

MAX_SAFE_INTEGER = 2**53
TYPE_WORDS = {
    OptionType.STRING: "text",
    OptionType.INTEGER: "a whole number",
    OptionType.BOOLEAN: "true or false",
    OptionType.USER: "a user",
    OptionType.CHANNEL: "a channel",
    OptionType.ROLE: "a role",
    OptionType.MENTIONABLE: "a user or a role",
    OptionType.NUMBER: "a number",
    OptionType.ATTACHMENT: "a file",
}


@dataclass
class Resolved:
    """``data.resolved``: the full objects behind snowflake option values."""

    users: dict[str, Any] = field(default_factory=dict)
    members: dict[str, Any] = field(default_factory=dict)
    roles: dict[str, Any] = field(default_factory=dict)
    channels: dict[str, Any] = field(default_factory=dict)
    attachments: dict[str, Any] = field(default_factory=dict)

    def as_payload(self) -> dict[str, Any]:
        return {key: value for key, value in vars(self).items() if value}


class CommandBuilder:
    """Builds command and autocomplete data for one invoker in one channel."""

    def __init__(self, world: World, user: User, channel: TextChannel | None) -> None:
        self._world = world
        self._user = user
        self._channel = channel
        self._guild: Guild | None = channel.guild if channel else None
        self._resolved = Resolved()
        self._uploads: list[Attachment] = []

    def build(
        self,
        command: RegisteredCommand,
        path: Sequence[str],
        options: Mapping[str, Any],
        *,
        focused: str | None = None,
    ) -> dict[str, Any]:
        label = "/" + " ".join([command.name, *path])
        declared = command.options
        chain: list[dict[str, Any]] = []
        for part in path:
            step = next(
                (o for o in declared if o["name"] == part and o["type"] in SUBCOMMAND_TYPES), None
            )
            if step is None:
                raise InvalidInvocation(
                    f"/{' '.join([command.name, *[c['name'] for c in chain]])} has no subcommand "
                    f"{part!r}; choose one of: {_names(declared)}."
                )
            chain.append(step)
            declared = list(step.get("options") or [])
        if any(o["type"] in SUBCOMMAND_TYPES for o in declared):
            raise InvalidInvocation(f"{label} needs a subcommand: {_names(declared)}.")
        leaves = self._leaf_options(label, declared, options, focused)
        for step in reversed(chain):
            leaves = [{"name": step["name"], "type": step["type"], "options": leaves}]
        data: dict[str, Any] = {
            "id": str(command.id),
            "name": command.name,
            "type": command.type,
            "options": leaves,
        }
        resolved = self._resolved.as_payload()
        if resolved:
            data["resolved"] = resolved
        if command.guild_id is not None:
            data["guild_id"] = str(command.guild_id)
        for attachment in self._uploads:
            self._world.attachments[attachment.id] = attachment
        return data

    def _leaf_options(
        self,
        label: str,
        declared: list[dict[str, Any]],
        given: Mapping[str, Any],
        focused: str | None,
    ) -> list[dict[str, Any]]:
        by_name = {o["name"]: o for o in declared}
        for name in given:
            if name not in by_name:
                raise InvalidInvocation(
                    f"{label} has no option {name!r}; "
                    f"its options are: {_names(declared) or 'none'}."
                )
        if focused is not None:
            target = by_name.get(focused)
            if target is None or not target.get("autocomplete"):
                raise InvalidInvocation(f"The option {focused!r} of {label} has no autocomplete.")
        leaves = []
        for option in declared:
            name = option["name"]
            if name == focused:
                value = given.get(name, "")
                leaves.append(
                    {"name": name, "type": option["type"], "value": str(value), "focused": True}
                )
            elif name in given:
                value = self._value(label, option, given[name])
                leaves.append({"name": name, "type": option["type"], "value": value})
            elif option.get("required") and focused is None:
                raise InvalidInvocation(f"{label} needs a value for its required option {name!r}.")
        return leaves

    def _value(self, label: str, option: Mapping[str, Any], raw: Any) -> Any:
        kind = option["type"]
        where = f"The option {option['name']!r} of {label}"
        if kind == OptionType.ATTACHMENT:
            return self._attachment(where, raw)
        try:
            value = self._convert(kind, raw)
        except (TypeError, ValueError):
            raise InvalidInvocation(
                f"{where} expects {TYPE_WORDS.get(kind, 'another type')}, not {raw!r}."
            ) from None
        allowed_channels = option.get("channel_types")
        if (
            kind == OptionType.CHANNEL
            and allowed_channels
            and TextChannel.type not in allowed_channels
        ):
            raise InvalidInvocation(f"{where} does not accept text channels.")
        if kind in (OptionType.STRING, OptionType.INTEGER, OptionType.NUMBER):
            return _check_scalar(where, option, value)
        return value

    def _convert(self, kind: int, raw: Any) -> Any:
        if kind == OptionType.STRING:
            if not isinstance(raw, str):
                raise TypeError
            return raw
        if kind in (OptionType.INTEGER, OptionType.NUMBER):
            if isinstance(raw, bool) or not isinstance(raw, int | float | str):
                raise TypeError
            if kind == OptionType.NUMBER:
                return float(raw)
            if isinstance(raw, float):
                raise TypeError
            return int(raw)
        if kind == OptionType.BOOLEAN:
            if isinstance(raw, bool):
                return raw
            if isinstance(raw, str) and raw.lower() in ("true", "false"):
                return raw.lower() == "true"
            raise TypeError
        by_type: dict[int, Callable[[Any], User | Role | TextChannel]] = {
            OptionType.USER: self.user_value,
            OptionType.ROLE: self.role_value,
            OptionType.CHANNEL: self.channel_value,
            OptionType.MENTIONABLE: self.mentionable_value,
        }
        snowflake = by_type.get(kind)
        if snowflake is None:
            raise TypeError
        return str(snowflake(raw).id)

    def _attachment(self, where: str, raw: Any) -> str:
        """Upload ``raw`` as a Discord client does before it sends the command."""
        if not isinstance(raw, Upload):
            raise InvalidInvocation(f"{where} expects a file, not {raw!r}.")
        if len(raw.data) > payloads.ATTACHMENT_SIZE_LIMIT:
            raise InvalidInvocation(
                f"{where}: {raw.filename} is {len(raw.data):,} bytes; Discord uploads at most "
                f"{payloads.ATTACHMENT_SIZE_LIMIT:,} bytes here."
            )
        if not raw.filename or "/" in raw.filename or "\\" in raw.filename:
            raise InvalidInvocation(f"{where}: {raw.filename!r} is not a file name.")
        attachment = Attachment(
            id=self._world.ids.next(),
            filename=raw.filename,
            content_type=raw.content_type,
            data=raw.data,
        )
        self._uploads.append(attachment)
        self._resolved.attachments[str(attachment.id)] = payloads.attachment(
            attachment, self._world.cdn_url
        )
        return str(attachment.id)

    def user_value(self, raw: Any) -> User:
        """The user named by ``raw`` (a User, Member or id), added to ``resolved``."""
        if isinstance(raw, Member):
            raw = raw.user
        user = raw if isinstance(raw, User) else self._world.users.get(int(raw))
        if user is None:
            raise ValueError
        self._resolved.users[str(user.id)] = payloads.user(user)
        member = self._guild.members.get(user.id) if self._guild else None
        if member is not None and self._channel is not None:
            permissions = self._channel.guild.permissions_for(user, self._channel)
            self._resolved.members[str(user.id)] = payloads.member(
                member, with_user=False, permissions=permissions
            )
        return user

    def role_value(self, raw: Any) -> Role:
        role_id = raw.id if isinstance(raw, Role) else int(raw)
        role = self._guild.roles.get(role_id) if self._guild else None
        if role is None:
            raise ValueError
        self._resolved.roles[str(role.id)] = payloads.role(role)
        return role

    def mentionable_value(self, raw: Any) -> User | Role:
        if isinstance(raw, Role):
            return self.role_value(raw)
        if not isinstance(raw, User | Member) and self._guild and int(raw) in self._guild.roles:
            return self.role_value(raw)
        return self.user_value(raw)

    def channel_value(self, raw: Any) -> TextChannel:
        channel_id = raw.id if isinstance(raw, TextChannel) else int(raw)
        channel = self._guild.channels.get(channel_id) if self._guild else None
        if channel is None:
            raise ValueError
        permissions = channel.guild.permissions_for(self._user, channel)
        self._resolved.channels[str(channel.id)] = payloads.text_channel(
            channel, permissions=permissions
        )
        return channel

    def resolved_payload(self) -> dict[str, Any]:
        return self._resolved.as_payload()


def _names(options: Sequence[Mapping[str, Any]]) -> str:
    return ", ".join(str(o["name"]) for o in options)


def _check_scalar(where: str, option: Mapping[str, Any], value: Any) -> Any:
    choices = option.get("choices") or []
    if choices:
        for choice in choices:
            if value in (choice["value"], choice["name"]):
                return choice["value"]
        allowed = ", ".join(str(c["value"]) for c in choices)
        raise InvalidInvocation(f"{where} must be one of {allowed}; {value!r} is not.")
    if isinstance(value, str):
        size, low, high = len(value), option.get("min_length"), option.get("max_length")
        unit = " characters"
    else:
        size, low, high = value, option.get("min_value"), option.get("max_value")
        unit = ""
        if abs(value) > MAX_SAFE_INTEGER:
            raise InvalidInvocation(f"{where} must be between -2^53 and 2^53, not {value}.")
    if low is not None and size < low:
        raise InvalidInvocation(f"{where} must be at least {low}{unit}, not {size}.")
    if high is not None and size > high:
        raise InvalidInvocation(f"{where} must be at most {high}{unit}, not {size}.")
    return value
