"""Channel messages, DMs and the failure switches, seen through the bot's discord.py calls."""

import discord

from discord_emulator import Emulator, Permission
from tests.discord_emulator.bot_app import FlightBot
from tests.discord_emulator.conftest import Squadron


async def test_dm_reaches_the_user(emu: Emulator, squadron: Squadron, bot: FlightBot) -> None:
    dm = emu.next_message(squadron.pilot)
    handle = await emu.invoke(squadron.guild, squadron.pilot, "remind", {"text": "Brief at 19:30"})
    assert (await dm).content == "Brief at 19:30"
    assert (await handle.message()).content == "Sent you a DM."
    assert [m.content for m in emu.dm_messages(squadron.pilot)] == ["Brief at 19:30"]


async def test_closed_dms_make_the_bots_send_raise_forbidden(
    emu: Emulator, squadron: Squadron, bot: FlightBot
) -> None:
    emu.close_dms(squadron.pilot)
    handle = await emu.invoke(squadron.guild, squadron.pilot, "remind", {"text": "Brief"})
    assert (await handle.message()).content == "Your DMs are closed."
    [error] = bot.failures
    assert isinstance(error, discord.Forbidden)
    assert error.code == 50007
    assert emu.dm_messages(squadron.pilot) == []


async def _announce(emu: Emulator, squadron: Squadron, text: str) -> str:
    handle = await emu.invoke(squadron.guild, squadron.manager, "announce", {"text": text})
    return (await handle.message()).content


async def test_announcement_posts_to_the_configured_channel(
    emu: Emulator, squadron: Squadron, bot: FlightBot
) -> None:
    ops = squadron.guild.add_text_channel("ops")
    bot.announce_channel_id = ops.id
    posted = emu.next_message(ops)
    assert await _announce(emu, squadron, "Tonight: Red Flag") == "Posted."
    message = await posted
    assert message.content == "Tonight: Red Flag"
    assert message.embeds[0]["title"] == "Announcement"
    assert emu.channel_messages(ops) == [message]


async def test_posting_where_the_bot_lacks_permission_is_forbidden(
    emu: Emulator, squadron: Squadron, bot: FlightBot
) -> None:
    ops = squadron.guild.add_text_channel("ops")
    emu.deny_bot(ops)
    bot.announce_channel_id = ops.id
    assert await _announce(emu, squadron, "Tonight") == "Could not post (50013)."
    assert isinstance(bot.failures[0], discord.Forbidden)
    cached = bot.get_channel(ops.id)
    assert isinstance(cached, discord.TextChannel)
    assert not cached.permissions_for(cached.guild.me).send_messages


async def test_posting_to_a_deleted_channel_is_not_found_and_the_cache_forgets_it(
    emu: Emulator, squadron: Squadron, bot: FlightBot
) -> None:
    ops = squadron.guild.add_text_channel("ops")
    bot.announce_channel_id = ops.id
    emu.delete_channel(ops)
    await bot.wait_for("guild_channel_delete", timeout=5)
    assert bot.get_channel(ops.id) is None
    assert await _announce(emu, squadron, "Tonight") == "Could not post (10003)."
    assert isinstance(bot.failures[0], discord.NotFound)


async def test_content_over_2000_characters_is_rejected_like_discord(
    emu: Emulator, squadron: Squadron, bot: FlightBot
) -> None:
    bot.announce_channel_id = squadron.guild.channel("general").id
    assert await _announce(emu, squadron, "x" * 2001) == "Could not post (50035)."
    error = bot.failures[0]
    assert isinstance(error, discord.HTTPException) and error.status == 400
    assert "content: Must be 2000 or fewer in length." in error.text


async def test_members_and_roles_added_after_ready_reach_the_bots_cache(
    emu: Emulator, squadron: Squadron, bot: FlightBot
) -> None:
    guild = squadron.guild
    newcomer = emu.add_user("Goose")
    guild.add_member(newcomer)
    wingmen = guild.add_role("wingmen", permissions=Permission.SEND_MESSAGES)
    guild.set_member_roles(newcomer, [wingmen])
    _, after = await bot.wait_for("member_update", timeout=5)
    assert after.id == newcomer.id
    assert [role.name for role in after.roles] == ["@everyone", "wingmen"]
    cached = bot.get_guild(guild.id)
    assert cached is not None and cached.member_count == 5
