"""The emulated Discord world: users, guilds, roles, members, channels and messages.

Plain objects compared by identity. ``Guild`` carries the driver methods that change a guild
(``add_member``, ``add_role``, ...); it hands them to the world so the bot is told over the gateway.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Any, ClassVar, Protocol

from discord_emulator.permissions import Overwrite, apply_overwrites, base_permissions

EPHEMERAL = 1 << 6
LOADING = 1 << 7


@dataclass(eq=False)
class User:
    id: int
    name: str
    bot: bool = False
    dms_open: bool = True

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"


@dataclass(eq=False)
class Role:
    id: int
    guild_id: int
    name: str
    permissions: int
    position: int

    @property
    def mention(self) -> str:
        return f"<@&{self.id}>"


@dataclass(eq=False)
class Member:
    user: User
    guild: Guild
    roles: list[Role]
    joined_at: datetime

    @property
    def role_ids(self) -> list[int]:
        return [role.id for role in self.roles]


@dataclass(eq=False)
class TextChannel:
    type: ClassVar[int] = 0
    id: int
    guild: Guild
    name: str
    position: int
    overwrites: list[Overwrite] = field(default_factory=list)
    deleted: bool = False

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"


@dataclass(eq=False)
class DMChannel:
    """The bot's direct-message channel with one user."""

    type: ClassVar[int] = 1
    id: int
    recipient: User


Channel = TextChannel | DMChannel


@dataclass(eq=False)
class Attachment:
    id: int
    filename: str
    content_type: str
    data: bytes
    description: str | None = None


@dataclass(frozen=True)
class InteractionRef:
    """What a message records about the interaction that produced it (``interaction_metadata``)."""

    id: int
    type: int
    name: str
    user: User
    original_response_message_id: int | None = None
    interacted_message_id: int | None = None


@dataclass(eq=False)
class Message:
    id: int
    channel: Channel
    author: User
    created_at: datetime
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    flags: int = 0
    type: int = 0
    nonce: str | int | None = None
    interaction: InteractionRef | None = None
    webhook_id: int | None = None
    mentions: list[User] = field(default_factory=list)
    mention_roles: list[Role] = field(default_factory=list)
    edited_at: datetime | None = None
    deleted: bool = False

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def loading(self) -> bool:
        """A deferred interaction response still showing "<bot> is thinking..."."""
        return bool(self.flags & LOADING)

    @property
    def guild(self) -> Guild | None:
        return self.channel.guild if isinstance(self.channel, TextChannel) else None

    def custom_ids(self) -> list[str]:
        """Every component custom_id on the message, outermost first."""
        return [str(c["custom_id"]) for c in walk_components(self.components) if "custom_id" in c]


class ComponentType(IntEnum):
    ACTION_ROW = 1
    BUTTON = 2
    STRING_SELECT = 3
    TEXT_INPUT = 4
    USER_SELECT = 5
    ROLE_SELECT = 6
    MENTIONABLE_SELECT = 7
    CHANNEL_SELECT = 8
    LABEL = 18


def walk_components(components: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every component, outermost first: rows, their children, accessories, labelled ones."""
    pending = list(components)
    while pending:
        component = pending.pop(0)
        yield component
        pending.extend(component.get("components") or [])
        pending.extend(c for c in (component.get("accessory"), component.get("component")) if c)


class GuildEditor(Protocol):
    """The world's side of the guild driver methods (it records the change and tells the bot)."""

    def add_member(self, guild: Guild, user: User, roles: Sequence[Role]) -> Member: ...

    def add_role(self, guild: Guild, name: str, permissions: int) -> Role: ...

    def add_text_channel(self, guild: Guild, name: str) -> TextChannel: ...

    def set_member_roles(self, guild: Guild, user: User, roles: Sequence[Role]) -> Member: ...


@dataclass(eq=False)
class Guild:
    id: int
    name: str
    owner: User
    editor: GuildEditor = field(repr=False)
    roles: dict[int, Role] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)
    channels: dict[int, TextChannel] = field(default_factory=dict)
    system_channel: TextChannel | None = None
    """Where Discord posts join notices (``system_channel_id``): #general in a new guild."""

    @property
    def everyone(self) -> Role:
        return self.roles[self.id]

    @property
    def text_channels(self) -> list[TextChannel]:
        return sorted(self.channels.values(), key=lambda channel: channel.position)

    def add_member(self, user: User, roles: Sequence[Role] = ()) -> Member:
        return self.editor.add_member(self, user, roles)

    def add_role(self, name: str, permissions: int = 0) -> Role:
        return self.editor.add_role(self, name, permissions)

    def add_text_channel(self, name: str) -> TextChannel:
        return self.editor.add_text_channel(self, name)

    def set_member_roles(self, user: User, roles: Sequence[Role]) -> Member:
        return self.editor.set_member_roles(self, user, roles)

    def member(self, user: User) -> Member | None:
        return self.members.get(user.id)

    def role(self, name: str) -> Role:
        for role in self.roles.values():
            if role.name == name:
                return role
        raise KeyError(f"{self.name} has no role named {name!r}.")

    def channel(self, name: str) -> TextChannel:
        for channel in self.text_channels:
            if channel.name == name:
                return channel
        raise KeyError(f"{self.name} has no text channel named {name!r}.")

    def permissions_for(self, user: User, channel: TextChannel | None = None) -> int:
        """The user's permissions in the guild, or in one channel once overwrites apply."""
        member = self.members.get(user.id)
        role_ids = member.role_ids if member else []
        base = base_permissions(
            is_owner=user is self.owner,
            everyone=self.everyone.permissions,
            role_permissions=[self.roles[rid].permissions for rid in role_ids],
        )
        if channel is None:
            return base
        return apply_overwrites(
            base, channel.overwrites, guild_id=self.id, role_ids=role_ids, member_id=user.id
        )
