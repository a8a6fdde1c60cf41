"""The first minute: rr greets a guild that adds it, and refuses to start or book before the
squadron chose where its reminders go, saying what to set."""

from pathlib import Path

import pytest

from bot.domain.actor import Actor
from cogs.welcome import WELCOME_TITLE, greet
from discord_emulator import Permission
from tests.cogs.conftest import running_world

pytestmark = pytest.mark.e2e


async def test_a_guild_that_adds_rr_gets_the_first_steps_in_its_system_channel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_world(tmp_path, monkeypatch) as w:
        guild = w.emu.add_guild("Black Aces")
        welcome = await w.emu.next_message(guild.channel("general"))

    assert welcome.author is w.emu.bot_user
    [embed] = welcome.embeds
    assert embed["title"] == WELCOME_TITLE
    for step in ("/config role", "/config channel", "/credits buy", "/server start"):
        assert step in embed["description"]


async def test_the_welcome_goes_to_the_first_channel_rr_may_post_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_world(tmp_path, monkeypatch) as w:
        assert w.app.discord is not None
        updated = w.app.discord.wait_for("guild_channel_update", timeout=5)
        w.emu.deny_bot(w.general)
        await updated
        guild = w.app.discord.get_guild(w.guild.id)
        assert guild is not None

        posted = await greet(guild)

    assert posted is not None and posted.channel.id == w.reminders.id
    assert w.emu.channel_messages(w.general) == []


async def test_starting_before_the_reminder_channel_is_set_says_what_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_world(tmp_path, monkeypatch) as w:
        guild = w.emu.add_guild("New squadron")
        boss = w.emu.add_user("boss")
        guild.add_member(boss, roles=[guild.add_role("boss", permissions=Permission.MANAGE_GUILD)])
        before = len(await w.events())

        replies = []
        for command, options in [
            ("server start", {"duration": "1h"}),
            ("server schedule", {"start": "tomorrow 20:00", "duration": "1h"}),
        ]:
            reply = await (await w.emu.invoke(guild, boss, command, options)).message()
            assert reply.ephemeral
            replies.append(reply.content)
        recorded = len(await w.events()) - before

        owner = Actor(user_id=str(boss.id), guild_id=str(guild.id), is_manager=True)
        channel = guild.channel("general")
        await w.app.services.squadrons.change_settings(
            owner, {"reminder_channel_id": str(channel.id)}
        )
        answer = await (
            await w.emu.invoke(guild, boss, "server start", {"duration": "1h"})
        ).message()

    assert (
        replies
        == [
            "This squadron isn't set up yet: someone with Manage Server should first run "
            "`/config channel` (where reminders and the server's address go) and "
            "`/config role` (who may manage servers)."
        ]
        * 2
    )
    assert recorded == 0
    assert answer.content.startswith("That needs $2.00 of credit")  # set up: on to the quote
