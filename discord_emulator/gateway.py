"""The gateway websocket: HELLO, IDENTIFY/READY, heartbeats, RESUME, and every dispatch.

Frames are always plain-text JSON (reference §1.5): the ``compress`` query parameter is ignored,
which discord.py accepts. Each session keeps its last ``REPLAY_LIMIT`` dispatches, so a bot that
lost its socket resumes with the events it missed replayed and RESUMED; a session that cannot be
resumed gets op 9 (invalid session). Dispatches honour the session's intents and shard. Deliberate
differences from Discord: heartbeats are acknowledged but never required (no zombie-connection
close), there are no presence updates, and identify is not rate limited.
"""

import asyncio
import json
import logging
import secrets
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from discord_emulator import payloads
from discord_emulator.events import (
    BotConnected,
    ChannelCreated,
    ChannelDeleted,
    ChannelUpdated,
    Event,
    EventBus,
    GuildCreated,
    InteractionDispatched,
    MemberAdded,
    MemberUpdated,
    MessageCreated,
    MessageDeleted,
    MessageEdited,
    RoleCreated,
)
from discord_emulator.models import Guild, Member, Message, TextChannel
from discord_emulator.snowflakes import shard_of
from discord_emulator.state import World

log = logging.getLogger(__name__)

DISPATCH, HEARTBEAT, IDENTIFY, PRESENCE, VOICE_STATE, RESUME = 0, 1, 2, 3, 4, 6
REQUEST_MEMBERS, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 8, 9, 10, 11

GUILDS, GUILD_MEMBERS = 1 << 0, 1 << 1
GUILD_MESSAGES, DIRECT_MESSAGES = 1 << 9, 1 << 12

REPLAY_LIMIT = 1000
HEARTBEAT_INTERVAL_MS = 41250


@dataclass(eq=False)
class Connection:
    socket: web.WebSocketResponse
    outbox: asyncio.Queue[str] = field(default_factory=asyncio.Queue)


@dataclass(eq=False)
class Session:
    id: str
    intents: int
    shard: tuple[int, int] | None
    seq: int = 0
    frames: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=REPLAY_LIMIT))
    connection: Connection | None = None

    def covers(self, guild_id: int | None) -> bool:
        """Whether this session's shard receives the guild's events (DMs go to shard 0)."""
        if self.shard is None:
            return True
        shard_id, count = self.shard
        return shard_id == (0 if guild_id is None else shard_of(guild_id, count))


class Gateway:
    def __init__(self, world: World, bus: EventBus, *, token: str) -> None:
        self._world = world
        self._token = token
        self._sessions: dict[str, Session] = {}
        self.url = ""
        """The websocket URL, also sent as ``resume_gateway_url``; set once the server is bound."""
        self._publish = bus.publish
        bus.add_listener(self._on_event)

    @property
    def has_session(self) -> bool:
        return bool(self._sessions)

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(max_msg_size=0)
        await socket.prepare(request)
        connection = Connection(socket)
        writer = asyncio.create_task(self._write(connection))
        self._send_op(connection, HELLO, {"heartbeat_interval": HEARTBEAT_INTERVAL_MS})
        session: Session | None = None
        try:
            async for message in socket:
                if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    break
                try:
                    frame = json.loads(message.data)
                    op, data = frame["op"], frame.get("d")
                except (ValueError, KeyError, TypeError):
                    await socket.close(code=4002, message=b"Error while decoding payload.")
                    break
                session = await self._receive(connection, session, op, data)
        finally:
            if session is not None and session.connection is connection:
                session.connection = None
                if socket.close_code in (1000, 1001):
                    self._sessions.pop(session.id, None)
            writer.cancel()
        return socket

    async def _receive(
        self, connection: Connection, session: Session | None, op: int, data: Any
    ) -> Session | None:
        socket = connection.socket
        if op in (IDENTIFY, RESUME, REQUEST_MEMBERS) and not isinstance(data, dict):
            await socket.close(code=4002, message=b"Error while decoding payload.")
        elif op == HEARTBEAT:
            self._send_op(connection, HEARTBEAT_ACK, None)
        elif op in (IDENTIFY, RESUME) and session is not None:
            await socket.close(code=4005, message=b"Already authenticated.")
        elif op == IDENTIFY:
            return await self._identify(connection, data)
        elif op == RESUME:
            return self._resume(connection, data)
        elif session is None:
            await socket.close(code=4003, message=b"Not authenticated.")
        elif op == REQUEST_MEMBERS:
            self._send_member_chunk(session, data)
        elif op not in (PRESENCE, VOICE_STATE):
            await socket.close(code=4001, message=b"Unknown opcode.")
        return session

    async def _identify(self, connection: Connection, data: dict[str, Any]) -> Session | None:
        if not self._token_matches(data.get("token")):
            await connection.socket.close(code=4004, message=b"Authentication failed.")
            return None
        shard = data.get("shard")
        valid_shard = isinstance(shard, list) and len(shard) == 2 and 0 <= shard[0] < shard[1]
        if shard is not None and not valid_shard:
            await connection.socket.close(code=4010, message=b"Invalid shard.")
            return None
        session = Session(
            id=secrets.token_hex(16),
            intents=int(data.get("intents", 0)),
            shard=(int(shard[0]), int(shard[1])) if shard else None,
            connection=connection,
        )
        self._sessions[session.id] = session
        guilds = [g for g in self._world.guilds.values() if session.covers(g.id)]
        ready = payloads.ready(
            bot=self._world.bot,
            guilds=guilds,
            session_id=session.id,
            resume_gateway_url=self.url,
            application_id=self._world.application_id,
            shard=session.shard,
        )
        self._send(session, "READY", ready)
        for guild in guilds:
            self._send_guild_create(session, guild, joined_now=False)
        self._publish(BotConnected(session.id, resumed=False))
        return session

    def _resume(self, connection: Connection, data: dict[str, Any]) -> Session | None:
        session = self._sessions.get(str(data.get("session_id")))
        seq = int(data.get("seq") or 0)
        oldest = session.frames[0][0] if session and session.frames else None
        replayable = session is not None and (oldest is None or seq >= oldest - 1)
        if session is None or not self._token_matches(data.get("token")) or not replayable:
            self._send_op(connection, INVALID_SESSION, False)
            return None
        session.connection = connection
        for frame_seq, frame in session.frames:
            if frame_seq > seq:
                connection.outbox.put_nowait(frame)
        self._send(session, "RESUMED", {})
        self._publish(BotConnected(session.id, resumed=True))
        return session

    def _token_matches(self, token: object) -> bool:
        return isinstance(token, str) and secrets.compare_digest(token, self._token)

    def drop_connections(self, code: int = 4000) -> Awaitable[list[bool]]:
        """Detach every session from its socket now and close the sockets (await the closing).

        Dispatches from now until the bot resumes are kept for replay.
        """
        closing = []
        for session in self._sessions.values():
            if session.connection is not None:
                connection, session.connection = session.connection, None
                closing.append(
                    connection.socket.close(code=code, message=b"Reset by the emulator.")
                )
        return asyncio.gather(*closing)

    async def close(self) -> None:
        for session in list(self._sessions.values()):
            if session.connection is not None:
                await session.connection.socket.close(code=1001, message=b"Emulator shutting down.")
        self._sessions.clear()

    # -- sending ----------------------------------------------------------------------------

    @staticmethod
    async def _write(connection: Connection) -> None:
        while True:
            frame = await connection.outbox.get()
            try:
                await connection.socket.send_str(frame)
            except ConnectionError:
                return

    @staticmethod
    def _send_op(connection: Connection, op: int, data: Any) -> None:
        connection.outbox.put_nowait(json.dumps({"op": op, "d": data, "s": None, "t": None}))

    def _send(self, session: Session, event: str, data: Any) -> None:
        session.seq += 1
        frame = json.dumps({"op": DISPATCH, "t": event, "s": session.seq, "d": data})
        session.frames.append((session.seq, frame))
        if session.connection is not None:
            session.connection.outbox.put_nowait(frame)

    def _dispatch(self, event: str, data: Any, *, guild_id: int | None, intent: int = 0) -> None:
        for session in self._sessions.values():
            if session.covers(guild_id) and (not intent or session.intents & intent):
                self._send(session, event, data)

    def _send_guild_create(self, session: Session, guild: Guild, *, joined_now: bool) -> None:
        if not session.intents & GUILDS:
            return
        visible = (
            list(guild.members.values())
            if session.intents & GUILD_MEMBERS
            else [guild.members[self._world.bot.id]]
        )
        joined = guild.members[self._world.bot.id].joined_at
        data = payloads.guild_create(guild, visible, joined, joined_now=joined_now)
        self._send(session, "GUILD_CREATE", data)

    def _send_member_chunk(self, session: Session, data: dict[str, Any]) -> None:
        guild = self._world.guilds.get(int(data.get("guild_id", 0)))
        if guild is None:
            return
        query = str(data.get("query") or "").lower()
        wanted = {int(i) for i in data.get("user_ids") or []}
        members = [
            m
            for m in guild.members.values()
            if m.user.name.lower().startswith(query) and (not wanted or m.user.id in wanted)
        ]
        limit = int(data.get("limit") or 0)
        chunk: dict[str, Any] = {
            "guild_id": str(guild.id),
            "members": [payloads.member(m) for m in members[: limit or None]],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        self._send(session, "GUILD_MEMBERS_CHUNK", chunk)

    # -- world events -> dispatches ---------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        match event:
            case GuildCreated(guild=guild):
                for session in self._sessions.values():
                    if session.covers(guild.id):
                        self._send_guild_create(session, guild, joined_now=True)
            case MemberAdded(member=member):
                self._member_event("GUILD_MEMBER_ADD", member)
            case MemberUpdated(member=member):
                self._member_event("GUILD_MEMBER_UPDATE", member)
            case RoleCreated(role=role):
                data = {"guild_id": str(role.guild_id), "role": payloads.role(role)}
                self._dispatch("GUILD_ROLE_CREATE", data, guild_id=role.guild_id, intent=GUILDS)
            case ChannelCreated(channel=channel):
                self._channel_event("CHANNEL_CREATE", channel)
            case ChannelUpdated(channel=channel):
                self._channel_event("CHANNEL_UPDATE", channel)
            case ChannelDeleted(channel=channel):
                self._channel_event("CHANNEL_DELETE", channel)
            case MessageCreated(message=message):
                self._message_event("MESSAGE_CREATE", message, self._world.message_payload(message))
            case MessageEdited(message=message):
                self._message_event("MESSAGE_UPDATE", message, self._world.message_payload(message))
            case MessageDeleted(message=message):
                data = {"id": str(message.id), "channel_id": str(message.channel.id)}
                if message.guild is not None:
                    data["guild_id"] = str(message.guild.id)
                self._message_event("MESSAGE_DELETE", message, data)
            case InteractionDispatched(interaction=interaction):
                place = interaction.channel
                guild_id = place.guild.id if isinstance(place, TextChannel) else None
                self._dispatch("INTERACTION_CREATE", interaction.payload, guild_id=guild_id)

    def _member_event(self, name: str, member: Member) -> None:
        data = {**payloads.member(member), "guild_id": str(member.guild.id)}
        self._dispatch(name, data, guild_id=member.guild.id, intent=GUILD_MEMBERS)

    def _channel_event(self, name: str, channel: TextChannel) -> None:
        self._dispatch(
            name, payloads.text_channel(channel), guild_id=channel.guild.id, intent=GUILDS
        )

    def _message_event(self, name: str, message: Message, data: Any) -> None:
        if message.ephemeral:
            return
        guild = message.guild
        intent = GUILD_MESSAGES if guild is not None else DIRECT_MESSAGES
        self._dispatch(name, data, guild_id=guild.id if guild else None, intent=intent)
