"""The REST reads and message edits a bot makes, through discord.py's own methods."""

import aiohttp
import discord
import pytest

from discord_emulator import Emulator, MessageDeleted
from tests.discord_emulator.bot_app import FlightBot
from tests.discord_emulator.conftest import Squadron


async def test_guild_member_channel_and_user_reads(
    emu: Emulator, squadron: Squadron, bot: FlightBot
) -> None:
    guild = await bot.fetch_guild(squadron.guild.id)
    assert (guild.id, guild.name, guild.owner_id) == (
        squadron.guild.id,
        "132nd Virtual Wing",
        squadron.guild.owner.id,
    )
    member = await guild.fetch_member(squadron.manager.id)
    assert [r.id for r in member.roles if not r.is_default()] == [squadron.managers.id]
    assert [c.name for c in await guild.fetch_channels()] == ["general"]
    general = await bot.fetch_channel(squadron.guild.channel("general").id)
    assert isinstance(general, discord.TextChannel) and general.name == "general"
    assert (await bot.fetch_user(squadron.pilot.id)).name == "Maverick"
    with pytest.raises(discord.NotFound):
        await bot.fetch_user(12345)
    with pytest.raises(discord.NotFound):
        await guild.fetch_member(emu.application_owner.id)


async def test_the_bot_edits_lists_and_deletes_its_channel_messages(
    emu: Emulator, squadron: Squadron, bot: FlightBot
) -> None:
    general = bot.get_channel(squadron.guild.channel("general").id)
    assert isinstance(general, discord.TextChannel)
    first = await general.send("Wheels up 19:00")
    second = await general.send("Bring the tanker")
    await first.edit(content="Wheels up 19:30")
    history = [m.content async for m in general.history(limit=10)]
    assert history == ["Bring the tanker", "Wheels up 19:30"]
    assert (await general.fetch_message(first.id)).edited_at is not None
    deleted = emu.wait_for(
        lambda e: e.message if isinstance(e, MessageDeleted) else None, "a deletion"
    )
    await second.delete()
    assert (await deleted).id == second.id
    assert [m.content for m in emu.channel_messages(squadron.guild.channel("general"))] == [
        "Wheels up 19:30"
    ]


async def test_original_and_followup_messages_through_the_interaction_webhook(
    emu: Emulator, squadron: Squadron, bot: FlightBot
) -> None:
    handle = await emu.invoke(squadron.guild, squadron.pilot, "server status")
    details = await handle.message(lambda m: m.content == "Details")
    base = f"{emu.base_url}/webhooks/{emu.application_id}/{handle.interaction.token}/messages"
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/@original") as original:
            assert (await original.json())["content"] == "Ready at 127.0.0.1:10308."
        async with session.delete(f"{base}/{details.id}") as removed:
            assert removed.status == 204
            assert "Content-Type" not in removed.headers
        async with session.get(f"{base}/{details.id}") as missing:
            assert missing.status == 404
            assert (await missing.json())["code"] == 10008
    assert [m.content for m in handle.messages] == ["Ready at 127.0.0.1:10308."]
