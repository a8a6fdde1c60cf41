"""Login, command sync and READY/GUILD_CREATE with an unmodified discord.py bot."""

import aiohttp
import discord
import pytest

from discord_emulator import Emulator, patched_discord
from tests.discord_emulator.bot_app import FlightBot
from tests.discord_emulator.conftest import Squadron


async def test_bot_is_ready_with_the_guild_its_channels_roles_and_members(
    emu: Emulator, squadron: Squadron, bot: FlightBot
) -> None:
    guild = bot.get_guild(squadron.guild.id)
    assert guild is not None
    assert guild.name == "132nd Virtual Wing"
    assert guild.member_count == len(guild.members) == 4
    assert guild.default_role.id == guild.id
    assert [c.name for c in guild.text_channels] == ["general"]
    assert guild.get_member(squadron.pilot.id) is not None
    managers = guild.get_role(squadron.managers.id)
    assert managers is not None and managers.permissions.manage_guild
    assert bot.user is not None and bot.user.id == emu.bot_user.id
    assert bot.application_id == emu.application_id


async def test_sync_registers_global_and_guild_commands(
    emu: Emulator, squadron: Squadron, bot: FlightBot
) -> None:
    global_names = {c["name"] for c in emu.registered_commands()}
    guild_names = {c["name"] for c in emu.registered_commands(squadron.guild)}
    assert {"server", "mission", "remind", "announce"} <= global_names
    assert guild_names == {"admin"}
    fetched = await bot.tree.fetch_commands(guild=bot.admin_guild)
    assert [c.name for c in fetched] == ["admin"]


async def test_a_wrong_token_is_a_login_failure(emu: Emulator, squadron: Squadron) -> None:
    client = FlightBot(admin_guild_id=squadron.guild.id)
    with patched_discord(emu.base_url, emu.gateway_url):
        with pytest.raises(discord.LoginFailure):
            await client.login("not-the-token")
        await client.close()


async def test_responses_carry_exact_json_content_type_and_rate_limit_headers(
    emu: Emulator,
) -> None:
    async with aiohttp.ClientSession() as session:
        headers = {"Authorization": f"Bot {emu.token}"}
        async with session.get(f"{emu.base_url}/users/@me", headers=headers) as response:
            assert response.headers["Content-Type"] == "application/json"
            first = int(response.headers["X-RateLimit-Remaining"])
            assert float(response.headers["X-RateLimit-Reset-After"]) <= 1.0
        async with session.get(f"{emu.base_url}/users/@me", headers=headers) as response:
            assert int(response.headers["X-RateLimit-Remaining"]) == first - 1
        async with session.get(f"{emu.base_url}/nothing/here", headers=headers) as response:
            assert response.status == 404
            assert response.headers["Content-Type"] == "application/json"
            assert await response.json() == {"message": "404: Not Found", "code": 0}
