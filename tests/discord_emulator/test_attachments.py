"""Attachment options: the file is uploaded to the CDN, named by id in ``data.resolved``, and
reaches the unmodified discord.py bot as a ``discord.Attachment`` it can read."""

import aiohttp
import discord
import pytest

from discord_emulator import Emulator, InvalidInvocation, Upload
from discord_emulator.payloads import ATTACHMENT_SIZE_LIMIT
from tests.discord_emulator.bot_app import FlightBot
from tests.discord_emulator.conftest import Squadron

BRIEFING = Upload("op.miz", "application/zip", b"PK\x03\x04 briefing bytes")


async def test_an_attached_file_reaches_the_bot_as_an_attachment_it_can_read(
    emu: Emulator, squadron: Squadron, bot: FlightBot
) -> None:
    handle = await emu.invoke(
        squadron.guild, squadron.pilot, "briefing", {"file": BRIEFING, "note": "tonight"}
    )
    reply = await handle.message()

    data = handle.interaction.payload["data"]
    (option,) = [o for o in data["options"] if o["name"] == "file"]
    described = data["resolved"]["attachments"][option["value"]]
    assert option["type"] == 11
    assert described["filename"] == "op.miz"
    assert described["size"] == len(BRIEFING.data)
    assert described["content_type"] == "application/zip"
    assert reply.content == (
        f"op.miz: {len(BRIEFING.data)} bytes, application/zip, {BRIEFING.data[:20]!r} tonight"
    )
    (attachment,) = bot.attachments
    assert isinstance(attachment, discord.Attachment)
    assert str(attachment.id) == option["value"]


async def test_the_file_is_served_at_its_url_like_discords_cdn(
    emu: Emulator, squadron: Squadron, bot: FlightBot
) -> None:
    handle = await emu.invoke(squadron.guild, squadron.pilot, "briefing", {"file": BRIEFING})
    await handle.message()
    (attachment,) = bot.attachments

    async with aiohttp.ClientSession() as http, http.get(attachment.url) as answer:
        body = await answer.read()

    assert answer.status == 200
    assert body == BRIEFING.data


async def test_a_file_over_the_upload_limit_is_not_sent(
    emu: Emulator, squadron: Squadron, bot: FlightBot
) -> None:
    too_big = Upload("big.miz", "application/zip", bytes(ATTACHMENT_SIZE_LIMIT + 1))

    with pytest.raises(InvalidInvocation, match="at most 10,485,760 bytes"):
        await emu.invoke(squadron.guild, squadron.pilot, "briefing", {"file": too_big})

    assert emu.interactions == []


async def test_an_attachment_option_takes_a_file_not_text(
    emu: Emulator, squadron: Squadron, bot: FlightBot
) -> None:
    with pytest.raises(InvalidInvocation, match="expects a file"):
        await emu.invoke(squadron.guild, squadron.pilot, "briefing", {"file": "op.miz"})
