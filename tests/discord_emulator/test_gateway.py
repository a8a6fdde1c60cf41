"""The gateway handshake, heartbeats, resume with replay, and invalid sessions."""

import json
from typing import Any

import aiohttp

from discord_emulator import BotConnected, Emulator
from tests.discord_emulator.bot_app import FlightBot
from tests.discord_emulator.conftest import Squadron


async def _receive(socket: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    message = await socket.receive(timeout=5)
    assert message.type is aiohttp.WSMsgType.TEXT
    frame: dict[str, Any] = json.loads(message.data)
    return frame


async def test_resume_after_a_dropped_socket_replays_missed_events(
    emu: Emulator, squadron: Squadron, bot: FlightBot
) -> None:
    connected = emu.wait_for(
        lambda e: e if isinstance(e, BotConnected) else None, "the bot to reconnect"
    )
    closing = emu.drop_connections()
    goose = emu.add_user("Goose")
    squadron.guild.add_member(goose)
    joined = await bot.wait_for("member_join", timeout=5)
    await closing
    assert joined.id == goose.id
    assert (await connected).resumed
    handle = await emu.invoke(squadron.guild, goose, "mission", {"name": "Syria Strike"})
    assert (await handle.message()).content == "Mission Syria Strike."


async def test_hello_heartbeat_ack_and_identify_over_a_raw_socket(emu: Emulator) -> None:
    emu.add_guild("Raw")
    async with aiohttp.ClientSession() as session, session.ws_connect(emu.gateway_url) as socket:
        hello = await _receive(socket)
        assert hello["op"] == 10 and hello["d"]["heartbeat_interval"] > 0
        await socket.send_json({"op": 1, "d": None})
        assert (await _receive(socket))["op"] == 11
        await socket.send_json({"op": 2, "d": {"token": emu.token, "intents": 1}})
        ready = await _receive(socket)
        assert (ready["t"], ready["s"]) == ("READY", 1)
        assert ready["d"]["resume_gateway_url"] == emu.gateway_url
        guild = await _receive(socket)
        assert guild["t"] == "GUILD_CREATE"
        assert guild["d"]["member_count"] == 2
        assert [m["user"]["username"] for m in guild["d"]["members"]] == ["rr"]


async def test_identify_with_a_wrong_token_closes_with_4004(emu: Emulator) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(emu.gateway_url) as socket:
        await _receive(socket)
        await socket.send_json({"op": 2, "d": {"token": "wrong", "intents": 1}})
        closed = await socket.receive(timeout=5)
        assert closed.type is aiohttp.WSMsgType.CLOSE
        assert closed.data == 4004


async def test_resuming_an_unknown_session_gets_invalid_session(emu: Emulator) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(emu.gateway_url) as socket:
        await _receive(socket)
        resume = {"token": emu.token, "session_id": "nope", "seq": 3}
        await socket.send_json({"op": 6, "d": resume})
        assert await _receive(socket) == {"op": 9, "d": False, "s": None, "t": None}
