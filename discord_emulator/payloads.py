"""The one factory for every JSON object the emulator sends to a bot (REST bodies and dispatches).

discord.py parses dispatches inline with no error handling, so a missing key ends the bot's
``connect()`` (reference §2.6). Each crash-critical shape is a TypedDict listing the keys discord.py
2.7.1 indexes directly; ``mypy`` proves every builder fills them.
"""

from datetime import UTC, datetime
from typing import Any, NotRequired, TypedDict

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

ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024
"""Upload limit for a guild without boosts, sent as ``attachment_size_limit`` (10 MiB)."""


class UserPayload(TypedDict):
    id: str
    username: str
    discriminator: str
    global_name: str | None
    avatar: str | None
    bot: bool
    public_flags: int


class RolePayload(TypedDict):
    id: str
    name: str
    permissions: str
    position: int
    color: int
    hoist: bool
    managed: bool
    mentionable: bool
    flags: int


class MemberPayload(TypedDict):
    roles: list[str]
    flags: int
    joined_at: str
    nick: str | None
    deaf: bool
    mute: bool
    pending: bool
    user: NotRequired[UserPayload]
    permissions: NotRequired[str]


class OverwritePayload(TypedDict):
    id: str
    type: int
    allow: str
    deny: str


class TextChannelPayload(TypedDict):
    id: str
    type: int
    guild_id: str
    name: str
    position: int
    permission_overwrites: list[OverwritePayload]
    parent_id: str | None
    topic: str | None
    nsfw: bool
    rate_limit_per_user: int
    permissions: NotRequired[str]


class DMChannelPayload(TypedDict):
    id: str
    type: int
    recipients: list[UserPayload]
    last_message_id: str | None


class AttachmentPayload(TypedDict):
    id: str
    filename: str
    size: int
    url: str
    proxy_url: str
    content_type: str
    description: NotRequired[str]


class InteractionMetadataPayload(TypedDict):
    id: str
    type: int
    user: UserPayload
    authorizing_integration_owners: dict[str, str]
    name: NotRequired[str]
    original_response_message_id: NotRequired[str]
    interacted_message_id: NotRequired[str]


class MessageInteractionPayload(TypedDict):
    id: str
    type: int
    name: str
    user: UserPayload


class MessagePayload(TypedDict):
    id: str
    channel_id: str
    type: int
    content: str
    author: UserPayload
    timestamp: str
    edited_timestamp: str | None
    tts: bool
    mention_everyone: bool
    mentions: list[UserPayload]
    mention_roles: list[str]
    attachments: list[AttachmentPayload]
    embeds: list[dict[str, Any]]
    components: list[dict[str, Any]]
    pinned: bool
    flags: int
    guild_id: NotRequired[str]
    member: NotRequired[MemberPayload]
    nonce: NotRequired[str | int]
    webhook_id: NotRequired[str]
    application_id: NotRequired[str]
    interaction_metadata: NotRequired[InteractionMetadataPayload]
    interaction: NotRequired[MessageInteractionPayload]


class InteractionPayload(TypedDict):
    id: str
    application_id: str
    type: int
    token: str
    version: int
    attachment_size_limit: int
    data: dict[str, Any]
    channel: TextChannelPayload | DMChannelPayload
    channel_id: str
    app_permissions: str
    locale: str
    entitlements: list[Any]
    authorizing_integration_owners: dict[str, str]
    context: int
    guild_id: NotRequired[str]
    guild: NotRequired[dict[str, Any]]
    guild_locale: NotRequired[str]
    member: NotRequired[MemberPayload]
    user: NotRequired[UserPayload]
    message: NotRequired[MessagePayload]


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def user(u: User) -> UserPayload:
    return {
        "id": str(u.id),
        "username": u.name,
        "discriminator": "0",
        "global_name": None if u.bot else u.name,
        "avatar": None,
        "bot": u.bot,
        "public_flags": 0,
    }


def role(r: Role) -> RolePayload:
    return {
        "id": str(r.id),
        "name": r.name,
        "permissions": str(r.permissions),
        "position": r.position,
        "color": 0,
        "hoist": False,
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }


def member(m: Member, *, with_user: bool = True, permissions: int | None = None) -> MemberPayload:
    """A guild member; ``permissions`` is set in interactions (computed for the channel)."""
    payload: MemberPayload = {
        "roles": [str(rid) for rid in m.role_ids],
        "flags": 0,
        "joined_at": timestamp(m.joined_at),
        "nick": None,
        "deaf": False,
        "mute": False,
        "pending": False,
    }
    if with_user:
        payload["user"] = user(m.user)
    if permissions is not None:
        payload["permissions"] = str(permissions)
    return payload


def text_channel(c: TextChannel, *, permissions: int | None = None) -> TextChannelPayload:
    payload: TextChannelPayload = {
        "id": str(c.id),
        "type": c.type,
        "guild_id": str(c.guild.id),
        "name": c.name,
        "position": c.position,
        "permission_overwrites": [
            {"id": str(o.id), "type": o.type, "allow": str(o.allow), "deny": str(o.deny)}
            for o in c.overwrites
        ],
        "parent_id": None,
        "topic": None,
        "nsfw": False,
        "rate_limit_per_user": 0,
    }
    if permissions is not None:
        payload["permissions"] = str(permissions)
    return payload


def dm_channel(c: DMChannel) -> DMChannelPayload:
    return {
        "id": str(c.id),
        "type": c.type,
        "recipients": [user(c.recipient)],
        "last_message_id": None,
    }


def channel(c: Channel) -> TextChannelPayload | DMChannelPayload:
    return text_channel(c) if isinstance(c, TextChannel) else dm_channel(c)


def guild(g: Guild) -> dict[str, Any]:
    """The guild object of ``GET /guilds/{id}`` (no members or channels)."""
    return {
        "id": str(g.id),
        "name": g.name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "owner_id": str(g.owner.id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "preferred_locale": "en-US",
        "system_channel_id": str(g.system_channel.id) if g.system_channel else None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "vanity_url_code": None,
        "roles": [role(r) for r in sorted(g.roles.values(), key=lambda r: r.position)],
        "emojis": [],
        "stickers": [],
        "features": [],
        "premium_progress_bar_enabled": False,
    }


def guild_create(
    g: Guild, members: list[Member], joined_at: datetime, *, joined_now: bool
) -> dict[str, Any]:
    """GUILD_CREATE: the guild with its channels and the members this session may see.

    ``member_count`` is always the true count; discord.py chunks only when it differs from
    ``len(members)`` and the bot asked for members (reference §2.5). A guild listed in READY
    comes with ``unavailable: false`` (discord.py: ``guild_available``); a guild the bot joins
    later comes without it (``guild_join``).
    """
    availability = {} if joined_now else {"unavailable": False}
    return (
        guild(g)
        | availability
        | {
            "joined_at": timestamp(joined_at),
            "member_count": len(g.members),
            "large": len(g.members) > 250,
            "channels": [text_channel(c) for c in g.text_channels],
            "members": [member(m) for m in members],
            "threads": [],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }
    )


def ready(
    *,
    bot: User,
    guilds: list[Guild],
    session_id: str,
    resume_gateway_url: str,
    application_id: int,
    shard: tuple[int, int] | None,
) -> dict[str, Any]:
    """READY: the keys discord.py reads (``user``, ``guilds``, ``session_id``,
    ``resume_gateway_url``, ``shard`` for sharded sessions) plus Discord's usual empty lists."""
    payload: dict[str, Any] = {
        "v": 10,
        "user": user(bot),
        "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
        "session_id": session_id,
        "resume_gateway_url": resume_gateway_url,
        "application": {"id": str(application_id), "flags": 0},
        "private_channels": [],
        "relationships": [],
        "presences": [],
        "guild_join_requests": [],
        "geo_ordered_rtc_regions": [],
        "session_type": "normal",
        "user_settings": {},
        "auth": {},
    }
    if shard is not None:
        payload["shard"] = list(shard)
    return payload


def attachment(a: Attachment, cdn_url: str) -> AttachmentPayload:
    url = f"{cdn_url}/attachments/{a.id}/{a.filename}"
    payload: AttachmentPayload = {
        "id": str(a.id),
        "filename": a.filename,
        "size": len(a.data),
        "url": url,
        "proxy_url": url,
        "content_type": a.content_type,
    }
    if a.description is not None:
        payload["description"] = a.description
    return payload


def interaction_metadata(ref: InteractionRef, guild_id: int | None) -> InteractionMetadataPayload:
    owner = {"0": str(guild_id)} if guild_id is not None else {"1": str(ref.user.id)}
    payload: InteractionMetadataPayload = {
        "id": str(ref.id),
        "type": ref.type,
        "user": user(ref.user),
        "authorizing_integration_owners": owner,
    }
    if ref.type == 2:
        payload["name"] = ref.name
    if ref.original_response_message_id is not None:
        payload["original_response_message_id"] = str(ref.original_response_message_id)
    if ref.interacted_message_id is not None:
        payload["interacted_message_id"] = str(ref.interacted_message_id)
    return payload


def message(m: Message, *, application_id: int, cdn_url: str) -> MessagePayload:
    payload: MessagePayload = {
        "id": str(m.id),
        "channel_id": str(m.channel.id),
        "type": m.type,
        "content": m.content,
        "author": user(m.author),
        "timestamp": timestamp(m.created_at),
        "edited_timestamp": timestamp(m.edited_at) if m.edited_at else None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [user(u) for u in m.mentions],
        "mention_roles": [str(r.id) for r in m.mention_roles],
        "attachments": [attachment(a, cdn_url) for a in m.attachments],
        "embeds": m.embeds,
        "components": m.components,
        "pinned": False,
        "flags": m.flags,
    }
    g = m.guild
    if g is not None:
        payload["guild_id"] = str(g.id)
        author = g.members.get(m.author.id)
        if author is not None and m.webhook_id is None:
            payload["member"] = member(author, with_user=False)
    if m.nonce is not None:
        payload["nonce"] = m.nonce
    if m.webhook_id is not None:
        payload["webhook_id"] = str(m.webhook_id)
        payload["application_id"] = str(application_id)
    if m.interaction is not None:
        payload["interaction_metadata"] = interaction_metadata(m.interaction, g.id if g else None)
        payload["interaction"] = {
            "id": str(m.interaction.id),
            "type": m.interaction.type,
            "name": m.interaction.name,
            "user": user(m.interaction.user),
        }
    return payload


def application(application_id: int, name: str, owner: User) -> dict[str, Any]:
    """``GET /oauth2/applications/@me``: the keys ``discord.AppInfo`` requires (reference §2.1)."""
    return {
        "id": str(application_id),
        "name": name,
        "description": "",
        "icon": None,
        "bot_public": True,
        "bot_require_code_grant": False,
        "owner": user(owner),
        "team": None,
        "verify_key": "0" * 64,
        "flags": 0,
        "interactions_endpoint_url": None,
        "summary": "",
    }


def interaction(
    *,
    interaction_id: int,
    application_id: int,
    interaction_type: int,
    token: str,
    data: dict[str, Any],
    invoker: User,
    channel: Channel,
    app_permissions: int,
    member_permissions: int,
    message: MessagePayload | None,
) -> InteractionPayload:
    """INTERACTION_CREATE as Discord sends it in a guild (``member``) or the bot's DM (``user``)."""
    payload: InteractionPayload = {
        "id": str(interaction_id),
        "application_id": str(application_id),
        "type": interaction_type,
        "token": token,
        "version": 1,
        "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
        "data": data,
        "channel": text_channel(channel, permissions=member_permissions)
        if isinstance(channel, TextChannel)
        else dm_channel(channel),
        "channel_id": str(channel.id),
        "app_permissions": str(app_permissions),
        "locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {},
        "context": 1,
    }
    if isinstance(channel, TextChannel):
        g = channel.guild
        payload["guild_id"] = str(g.id)
        payload["guild"] = {"id": str(g.id), "locale": "en-US", "features": []}
        payload["guild_locale"] = "en-US"
        payload["member"] = member(g.members[invoker.id], permissions=member_permissions)
        payload["authorizing_integration_owners"] = {"0": str(g.id)}
        payload["context"] = 0
    else:
        payload["user"] = user(invoker)
        payload["authorizing_integration_owners"] = {"0": "0", "1": str(invoker.id)}
    if message is not None:
        payload["message"] = message
    return payload
