"""A long-running emulator stays the same size: each channel keeps its latest messages, the ledger
its latest interactions, the rate limiter only live windows; what is forgotten answers as Discord
answers for the unknown."""

from collections.abc import AsyncIterator

import aiohttp
import discord
import pytest

from discord_emulator import Emulator, Upload, running_bot
from discord_emulator.ratelimit import SWEEP_FROM, RateLimits
from tests.discord_emulator.bot_app import FlightBot
from tests.discord_emulator.conftest import Squadron
from tests.discord_emulator.conftest import squadron as squadron_fixture

squadron = squadron_fixture


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(keep_messages=3, keep_interactions=2) as emulator:
        yield emulator


@pytest.fixture
async def bot(emu: Emulator, squadron: Squadron) -> AsyncIterator[FlightBot]:
    client = FlightBot(admin_guild_id=squadron.guild.id)
    async with running_bot(client, emu):
        yield client


async def test_a_channel_keeps_only_its_latest_messages(
    emu: Emulator, squadron: Squadron, bot: FlightBot
) -> None:
    general = squadron.guild.channel("general")
    channel = bot.get_channel(general.id)
    assert isinstance(channel, discord.TextChannel)
    sent = [await channel.send(f"message {n}") for n in range(5)]

    kept = [message.content for message in emu.channel_messages(general)]
    with pytest.raises(discord.NotFound) as forgotten:
        await channel.fetch_message(sent[0].id)
    latest = await channel.fetch_message(sent[-1].id)

    assert kept == ["message 2", "message 3", "message 4"]
    assert emu.stored_message(sent[0].id) is None
    assert forgotten.value.code == 10008  # Unknown Message
    assert latest.content == "message 4"


async def test_only_the_latest_interactions_are_kept_and_a_forgotten_token_is_unknown(
    emu: Emulator, squadron: Squadron, bot: FlightBot
) -> None:
    handles = []
    for n in range(3):
        handle = await emu.invoke(squadron.guild, squadron.pilot, "remind", {"text": f"brief {n}"})
        await handle.message()
        handles.append(handle)
    first = handles[0].interaction
    followup = f"{emu.base_url}/webhooks/{emu.application_id}/{first.token}"
    async with (
        aiohttp.ClientSession() as http,
        http.post(followup, json={"content": "late"}) as answer,
    ):
        error = await answer.json()

    assert [i.id for i in emu.interactions] == [h.interaction.id for h in handles[1:]]
    assert (answer.status, error["code"]) == (404, 10015)  # Unknown Webhook


def test_keeping_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one message"):
        Emulator(keep_messages=0)
    with pytest.raises(ValueError, match="at least one interaction"):
        Emulator(keep_interactions=0)


def test_rate_limit_buckets_whose_window_passed_are_forgotten() -> None:
    """Every interaction token is a bucket of its own: they must not pile up for ever."""
    now = [0.0]
    limits = RateLimits(window=1.0, clock=lambda: now[0])
    for token in range(SWEEP_FROM):
        limits.take(f"POST /webhooks/{{id}}/{{token}} {token}")
    now[0] += 1.5

    headers = limits.take("POST /webhooks/{id}/{token} late")

    assert len(limits) == 1
    assert headers["X-RateLimit-Remaining"] == "49"


def test_rate_limit_buckets_still_in_their_window_are_kept() -> None:
    now = [0.0]
    limits = RateLimits(window=1.0, clock=lambda: now[0])
    for token in range(SWEEP_FROM):
        limits.take(f"bucket {token}")
    now[0] += 0.5

    assert limits.take("bucket 0")["X-RateLimit-Remaining"] == "48"
    assert len(limits) == SWEEP_FROM


async def test_a_forgotten_interactions_attachments_are_no_longer_served(
    emu: Emulator, squadron: Squadron, bot: FlightBot
) -> None:
    upload = Upload("op.miz", "application/zip", b"PK mission")
    first = await emu.invoke(squadron.guild, squadron.pilot, "briefing", {"file": upload})
    await first.message()
    url = bot.attachments[0].url
    for n in range(2):
        handle = await emu.invoke(squadron.guild, squadron.pilot, "remind", {"text": f"b {n}"})
        await handle.message()

    async with aiohttp.ClientSession() as http, http.get(url) as answer:
        status = answer.status

    assert status == 404
