"""The live event feed, JSON descriptions of events, DM invocations and attachments."""

import io
import json

import discord

from discord_emulator import (
    Emulator,
    InteractionAcknowledged,
    InteractionDispatched,
    MessageCreated,
)
from tests.discord_emulator.bot_app import FlightBot
from tests.discord_emulator.conftest import Squadron


async def test_the_feed_reports_dispatch_reply_and_acknowledgement_in_order(
    emu: Emulator, squadron: Squadron, bot: FlightBot
) -> None:
    with emu.subscribe() as feed:
        handle = await emu.invoke(
            squadron.guild, squadron.pilot, "mission", {"name": "Syria Strike"}
        )
        await handle.response()
        seen = [await anext(feed) for _ in range(3)]
    assert [type(e) for e in seen] == [
        InteractionDispatched,
        MessageCreated,
        InteractionAcknowledged,
    ]
    described = [json.loads(json.dumps(emu.describe(e))) for e in seen]
    assert described[1]["message"]["content"] == "Mission Syria Strike."
    assert described[1]["interaction_id"] == str(handle.interaction.id)
    assert described[2]["interaction"]["response_type"] == 4


async def test_a_command_in_the_bots_dm_is_answered_there(
    emu: Emulator, squadron: Squadron, bot: FlightBot
) -> None:
    handle = await emu.invoke(None, squadron.pilot, "mission", {"name": "Nevada Red Flag"})
    reply = await handle.message()
    assert reply.content == "Mission Nevada Red Flag."
    assert emu.dm_messages(squadron.pilot) == [reply]
    assert "member" not in handle.interaction.payload


async def test_uploaded_files_become_attachments_the_bot_can_read_back(
    emu: Emulator, squadron: Squadron, bot: FlightBot
) -> None:
    general = bot.get_channel(squadron.guild.channel("general").id)
    assert isinstance(general, discord.TextChannel)
    sent = await general.send(file=discord.File(io.BytesIO(b"-- mission"), "op.miz"))
    [stored] = emu.channel_messages(squadron.guild.channel("general"))
    assert [a.filename for a in stored.attachments] == ["op.miz"]
    assert await sent.attachments[0].read() == b"-- mission"
