"""The world the emulator keeps: who exists, what they can do, and what was said where.

Every change is published on the event bus; the gateway turns those events into the dispatches
a bot would receive (GUILD_MEMBER_ADD, CHANNEL_DELETE, MESSAGE_CREATE, ...), so the bot's cache
agrees with the world. Lookups used by the REST layer raise Discord's own errors.
"""

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from discord_emulator import payloads
from discord_emulator.errors import (
    InvalidInvocation,
    unknown_channel,
    unknown_guild,
    unknown_message,
    unknown_user,
)
from discord_emulator.events import (
    ChannelCreated,
    ChannelDeleted,
    ChannelUpdated,
    EventBus,
    GuildCreated,
    MemberAdded,
    MemberUpdated,
    MessageCreated,
    MessageDeleted,
    MessageEdited,
    RoleCreated,
)
from discord_emulator.message_limits import MessageFields
from discord_emulator.models import (
    Attachment,
    Channel,
    DMChannel,
    Guild,
    InteractionRef,
    Member,
    Message,
    Role,
    TextChannel,
    User,
)
from discord_emulator.permissions import DEFAULT_EVERYONE, Overwrite, Permission
from discord_emulator.snowflakes import SnowflakeFactory

_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")


def _now() -> datetime:
    return datetime.now(UTC)


DEFAULT_KEEP_MESSAGES = 250
"""Messages kept per channel (DMs included); older ones are forgotten, as if deleted long ago."""


class World:
    """``ids`` number what happens (messages, interactions); ``place_ids`` number the world itself
    (the application, users, guilds, roles, channels), by default from the same sequence.

    Each channel keeps its latest ``keep_messages`` messages (ephemeral ones included): a
    long-running sandbox stays the same size however much is said in it.
    """

    def __init__(
        self,
        *,
        ids: SnowflakeFactory,
        bus: EventBus,
        bot_name: str,
        place_ids: SnowflakeFactory | None = None,
        keep_messages: int = DEFAULT_KEEP_MESSAGES,
    ) -> None:
        if keep_messages < 1:
            raise ValueError("A channel must keep at least one message.")
        self.keep_messages = keep_messages
        self._history: dict[int, dict[int, Message]] = {}
        """Per channel id, its stored messages by id, oldest first."""
        self.ids = ids
        self.place_ids = place_ids or ids
        self.bus = bus
        self.application_id = self.place_ids.next()
        self.cdn_url = ""
        """Where attachments are served (the emulator's origin); set once it is bound."""
        self.users: dict[int, User] = {}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.dm_channels: dict[int, DMChannel] = {}
        self.messages: dict[int, Message] = {}
        self.attachments: dict[int, Attachment] = {}
        self.bot = self.add_user(bot_name, bot=True)
        self.application_owner = self.add_user(f"{bot_name} owner")
        """The application's owner (discord.py's ``is_owner`` is true for this user)."""

    # -- people and places ------------------------------------------------------------------

    def add_user(self, name: str, *, bot: bool = False) -> User:
        user = User(id=self.place_ids.next(), name=name, bot=bot)
        self.users[user.id] = user
        return user

    def add_guild(self, name: str, owner: User | None = None) -> Guild:
        """A guild with an @everyone role, a #general channel (its system channel), its owner and
        the bot as members."""
        owner = owner or self.add_user(f"{name} owner")
        guild = Guild(id=self.place_ids.next(), name=name, owner=owner, editor=self)
        guild.roles[guild.id] = Role(guild.id, guild.id, "@everyone", int(DEFAULT_EVERYONE), 0)
        for user in (owner, self.bot):
            guild.members[user.id] = Member(user, guild, [], _now())
        general = TextChannel(id=self.place_ids.next(), guild=guild, name="general", position=0)
        guild.channels[general.id] = general
        guild.system_channel = general  # as Discord sets up a new guild
        self.channels[general.id] = general
        self.guilds[guild.id] = guild
        self.bus.publish(GuildCreated(guild))
        return guild

    def add_member(self, guild: Guild, user: User, roles: Sequence[Role] = ()) -> Member:
        if user.id in guild.members:
            raise InvalidInvocation(f"{user.name} is already a member of {guild.name}.")
        member = Member(user, guild, self._own_roles(guild, roles), _now())
        guild.members[user.id] = member
        self.bus.publish(MemberAdded(member))
        return member

    def set_member_roles(self, guild: Guild, user: User, roles: Sequence[Role]) -> Member:
        member = guild.members.get(user.id)
        if member is None:
            raise InvalidInvocation(f"{user.name} is not a member of {guild.name}; add them first.")
        member.roles = self._own_roles(guild, roles)
        self.bus.publish(MemberUpdated(member))
        return member

    def add_role(self, guild: Guild, name: str, permissions: int = 0) -> Role:
        role = Role(self.place_ids.next(), guild.id, name, int(permissions), len(guild.roles))
        guild.roles[role.id] = role
        self.bus.publish(RoleCreated(role))
        return role

    def add_text_channel(self, guild: Guild, name: str) -> TextChannel:
        position = max((c.position for c in guild.channels.values()), default=-1) + 1
        channel = TextChannel(id=self.place_ids.next(), guild=guild, name=name, position=position)
        guild.channels[channel.id] = channel
        self.channels[channel.id] = channel
        self.bus.publish(ChannelCreated(channel))
        return channel

    def _own_roles(self, guild: Guild, roles: Sequence[Role]) -> list[Role]:
        for role in roles:
            if guild.roles.get(role.id) is not role or role.id == guild.id:
                raise InvalidInvocation(
                    f"The role {role.name!r} cannot be given in {guild.name}: "
                    "use one of that guild's own roles other than @everyone."
                )
        return list(roles)

    # -- failure switches -------------------------------------------------------------------

    def close_dms(self, user: User) -> None:
        """From now on the bot's DMs to ``user`` fail with 50007 (closed privacy settings)."""
        user.dms_open = False

    def delete_channel(self, channel: TextChannel) -> None:
        """Delete a channel: the bot gets CHANNEL_DELETE and any later use is 10003."""
        if channel.deleted:
            raise InvalidInvocation(f"#{channel.name} is already deleted.")
        channel.deleted = True
        del channel.guild.channels[channel.id]
        self.bus.publish(ChannelDeleted(channel))

    def deny_bot(self, channel: TextChannel) -> None:
        """Take Send Messages from the bot in ``channel``: its posts there fail with 50013."""
        denied = Overwrite(id=self.bot.id, type=1, allow=0, deny=int(Permission.SEND_MESSAGES))
        channel.overwrites = [o for o in channel.overwrites if (o.type, o.id) != (1, self.bot.id)]
        channel.overwrites.append(denied)
        self.bus.publish(ChannelUpdated(channel))

    def allow_bot(self, channel: TextChannel) -> None:
        """Undo ``deny_bot``: the bot may post in ``channel`` again."""
        channel.overwrites = [o for o in channel.overwrites if (o.type, o.id) != (1, self.bot.id)]
        self.bus.publish(ChannelUpdated(channel))

    # -- lookups (Discord's errors) ---------------------------------------------------------

    def user(self, user_id: int) -> User:
        try:
            return self.users[user_id]
        except KeyError:
            raise unknown_user() from None

    def guild(self, guild_id: int) -> Guild:
        try:
            return self.guilds[guild_id]
        except KeyError:
            raise unknown_guild() from None

    def channel(self, channel_id: int) -> Channel:
        channel = self.channels.get(channel_id)
        if channel is None or (isinstance(channel, TextChannel) and channel.deleted):
            raise unknown_channel()
        return channel

    def message(self, channel: Channel, message_id: int) -> Message:
        message = self.messages.get(message_id)
        if (
            message is None
            or message.channel is not channel
            or message.deleted
            or message.ephemeral
        ):
            raise unknown_message()
        return message

    def dm_channel(self, user: User) -> DMChannel:
        """The bot's DM channel with ``user``, opened on first use (as POST /users/@me/channels)."""
        channel = self.dm_channels.get(user.id)
        if channel is None:
            channel = DMChannel(id=self.place_ids.next(), recipient=user)
            self.dm_channels[user.id] = channel
            self.channels[channel.id] = channel
        return channel

    def shares_guild_with_bot(self, user: User) -> bool:
        return any(user.id in guild.members for guild in self.guilds.values())

    def channel_messages(self, channel: Channel) -> list[Message]:
        """Messages everyone in the channel sees, oldest first (no ephemeral or deleted ones)."""
        return [m for m in self.history(channel) if not m.deleted and not m.ephemeral]

    def history(self, channel: Channel) -> list[Message]:
        """Every message the channel keeps, ephemeral and deleted ones too, oldest first."""
        return list(self._history.get(channel.id, {}).values())

    # -- messages ---------------------------------------------------------------------------

    def create_message(
        self,
        channel: Channel,
        fields: MessageFields,
        *,
        author: User,
        nonce: str | int | None = None,
    ) -> Message:
        message = self.new_message(channel, fields, author=author, nonce=nonce)
        self.add_message(message)
        return message

    def new_message(
        self,
        channel: Channel,
        fields: MessageFields,
        *,
        author: User,
        message_type: int = 0,
        nonce: str | int | None = None,
        interaction: InteractionRef | None = None,
        webhook_id: int | None = None,
    ) -> Message:
        """A message not posted yet: ``add_message`` posts it (stores it, tells everyone)."""
        message = Message(
            id=self.ids.next(),
            channel=channel,
            author=author,
            created_at=_now(),
            type=message_type,
            nonce=nonce,
            interaction=interaction,
            webhook_id=webhook_id,
        )
        self._apply(message, fields)
        return message

    def add_message(self, message: Message) -> None:
        self.messages[message.id] = message
        kept = self._history.setdefault(message.channel.id, {})
        kept[message.id] = message
        while len(kept) > self.keep_messages:
            self._forget(kept.pop(next(iter(kept))))
        self.bus.publish(MessageCreated(message))

    def _forget(self, message: Message) -> None:
        del self.messages[message.id]
        for attachment in message.attachments:
            self.attachments.pop(attachment.id, None)

    def edit_message(self, message: Message, fields: MessageFields) -> Message:
        self._apply(message, fields)
        message.edited_at = _now()
        self.bus.publish(MessageEdited(message))
        return message

    def delete_message(self, message: Message) -> None:
        message.deleted = True
        self.bus.publish(MessageDeleted(message))

    def message_payload(self, message: Message) -> payloads.MessagePayload:
        return payloads.message(message, application_id=self.application_id, cdn_url=self.cdn_url)

    def _apply(self, message: Message, fields: MessageFields) -> None:
        message.content = fields.content
        message.embeds = fields.embeds
        message.components = fields.components
        message.attachments = fields.attachments
        message.flags = fields.flags
        for attachment in fields.attachments:
            self.attachments[attachment.id] = attachment
        mentioned = (int(i) for i in _USER_MENTION.findall(fields.content))
        message.mentions = [self.users[i] for i in dict.fromkeys(mentioned) if i in self.users]
        guild = message.guild
        role_ids = (int(i) for i in _ROLE_MENTION.findall(fields.content))
        message.mention_roles = [
            guild.roles[i] for i in dict.fromkeys(role_ids) if guild and i in guild.roles
        ]

    def fields_of(self, message: Message) -> MessageFields:
        """The editable part of a message, as the base for an edit."""
        return MessageFields(
            content=message.content,
            embeds=list(message.embeds),
            components=list(message.components),
            attachments=list(message.attachments),
            flags=message.flags,
        )
