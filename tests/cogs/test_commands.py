"""The rest of what squadrons and operators use: paging, operator tools, autocomplete, confirm
prompts, the end button, passwords by DM, progress edits, unexpected errors, command sync."""

import logging
from datetime import timedelta
from pathlib import Path

import pytest

from bot.domain.session import SessionState, SessionStatus
from discord_emulator import Message
from tests.cogs.conftest import World, running_world

pytestmark = pytest.mark.e2e

MINUTE = timedelta(minutes=1)


async def start_server(w: World, duration: str = "1h") -> SessionState:
    """A manager starts a server and confirms the quote; returns it once it is ready."""
    ready = w.emu.next_message(w.reminders)
    handle = await w.emu.invoke(w.guild, w.manager, "server start", {"duration": duration})
    await handle.message()
    await (await handle.click("confirm")).response()
    await w.app.services.background.drain()
    session = await w.ready()
    await w.advance(timedelta(seconds=30))
    await ready
    return session


def newest(messages: list[Message], text: str) -> Message | None:
    return next((m for m in reversed(messages) if text in m.content), None)


async def test_credit_history_pages_through_older_entries(world: World) -> None:
    w = world
    for _ in range(12):
        await w.fund(100)
    handle = await w.emu.invoke(w.guild, w.manager, "credits history")
    first = await handle.message()
    assert first.ephemeral
    assert first.embeds[0]["footer"]["text"] == "Page 1 of 2"
    assert first.embeds[0]["description"].count("$1.00") == 10
    older = await handle.click("older")
    await older.response()
    second = await w.emu.until(
        lambda: next(
            (m for m in handle.messages if m.embeds and "Page 2" in m.embeds[0]["footer"]["text"]),
            None,
        ),
        "the second page",
    )
    assert second.embeds[0]["description"].count("$1.00") == 2


async def test_operators_see_instances_prices_health_and_can_terminate(world: World) -> None:
    w = world
    await w.fund(5000)
    session = await start_server(w)

    async def admin(command: str, options: dict[str, str] | None = None) -> Message:
        handle = await w.emu.invoke(w.ops_guild, w.operator, command, options or {})
        return await handle.message()

    instances = await admin("admin instances")
    assert session.session_id[:8] in instances.content
    assert "an hour" in (await admin("admin prices")).content
    assert "store" in (await admin("admin health")).content
    assert "Synced" in (await admin("admin sync")).content
    assert (
        "Reloaded `cogs.credits`" in (await admin("admin reload", {"cog": "cogs.credits"})).content
    )
    ended = w.emu.until(
        lambda: newest(w.emu.channel_messages(w.reminders), "stopped by an operator"),
        "the end notice",
    )
    terminated = await admin("admin terminate", {"session": session.session_id})
    assert session.session_id[:8] in terminated.content
    await ended
    assert (await w.app.services.sessions.get(session.session_id)).status is SessionStatus.ENDED
    assert "everything matches" in (await admin("admin reconcile")).content


async def test_autocomplete_offers_time_zones_and_the_guilds_active_servers(world: World) -> None:
    w = world
    await w.fund(5000)
    zones = await w.emu.autocomplete(
        w.guild, w.admin, "config timezone", {"timezone": "europe/lon"}, focused="timezone"
    )
    assert zones[0]["value"] == "Europe/London"
    session = await start_server(w)
    choices = await w.emu.autocomplete(
        w.guild, w.manager, "server stop", {"server": ""}, focused="server"
    )
    assert [choice["value"] for choice in choices] == [session.session_id]
    assert "Running" in choices[0]["name"]


async def test_stop_asks_to_confirm_and_bills_what_ran(world: World) -> None:
    w = world
    await w.fund(5000)
    session = await start_server(w)
    await w.advance(20 * MINUTE)
    handle = await w.emu.invoke(w.guild, w.manager, "server stop")
    question = await handle.message()
    assert question.ephemeral
    assert "Stop this server now?" in question.content
    assert (await w.app.services.sessions.get(session.session_id)).is_active
    ended = w.emu.next_message(w.reminders)
    await (await handle.click("confirm")).response()
    notice = await ended
    assert "stopped by a member" in notice.content
    assert "21 minutes billed" in notice.content


async def test_cancel_asks_to_confirm_and_frees_the_credit(world: World) -> None:
    w = world
    await w.fund(5000)
    handle = await w.emu.invoke(
        w.guild, w.manager, "server schedule", {"start": "tomorrow 20:00", "duration": "1h"}
    )
    await handle.message()
    await (await handle.click("confirm")).response()
    await w.emu.until(lambda: newest(handle.messages, "Server booked"), "the booking")
    assert (await w.app.services.squadrons.balance(w.guild_id)).reserved_cents > 0
    cancel = await w.emu.invoke(w.guild, w.manager, "server cancel")
    await cancel.message()
    dismissed = await w.emu.invoke(w.guild, w.manager, "server cancel")
    await dismissed.message()
    await (await dismissed.click("dismiss")).response()
    assert (await w.app.services.squadrons.balance(w.guild_id)).reserved_cents > 0
    await (await cancel.click("confirm")).response()
    await w.emu.until(lambda: newest(cancel.messages, "Booking cancelled"), "the cancellation")
    balance = await w.app.services.squadrons.balance(w.guild_id)
    assert (balance.reserved_cents, balance.available_cents) == (0, 5000)


async def test_the_end_button_on_a_warning_stops_the_server_after_confirming(world: World) -> None:
    w = world
    await w.fund(5000)
    session = await start_server(w)
    warning = w.emu.next_message(w.reminders)
    await w.advance(45 * MINUTE)
    warned = await warning
    question = await w.emu.click(warned, f"rr:end:{session.session_id}", w.manager)
    await question.message()
    ended = w.emu.next_message(w.reminders)
    await (await question.click("confirm")).response()
    assert "stopped by a member" in (await ended).content


async def test_the_password_reaches_the_booker_by_dm_only(world: World) -> None:
    w = world
    await w.fund(5000)
    options = {"setting": "password", "value": "hunter2"}
    await (await w.emu.invoke(w.guild, w.admin, "config set", options)).message()
    dm = w.emu.next_message(w.manager)
    await start_server(w)
    assert "||hunter2||" in (await dm).content
    everything_public = w.emu.channel_messages(w.reminders) + w.emu.channel_messages(w.general)
    assert all("hunter2" not in m.content for m in everything_public)


async def test_the_start_announcement_is_edited_as_the_server_comes_up(world: World) -> None:
    w = world
    await w.fund(5000)
    await start_server(w)
    announcement = newest(w.emu.channel_messages(w.general), "server starting")
    assert announcement is not None
    ready = await w.emu.until(
        lambda: (
            announcement
            if announcement.embeds and "Ready" in announcement.embeds[0].get("description", "")
            else None
        ),
        "the announcement to show the server ready",
    )
    assert ready.edited_at is not None


async def test_an_unexpected_error_gets_an_apology_with_an_id_that_is_in_the_log(
    world: World, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world

    async def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("the view fell over")

    monkeypatch.setattr(w.app.services.squadrons, "balance", broken)
    with caplog.at_level(logging.ERROR, logger="rr.discord"):
        reply = await (await w.emu.invoke(w.guild, w.pilot, "credits balance")).message()
    assert reply.ephemeral
    assert "Sorry, something went wrong on our side (error id " in reply.content
    error_id = reply.content.split("error id ")[1][:8]
    [record] = [r for r in caplog.records if error_id in r.getMessage()]
    assert record.exc_info is not None
    assert "the view fell over" in str(record.exc_info[1])


async def test_a_reminder_channel_the_bot_may_not_post_in_is_reported_once(world: World) -> None:
    w = world
    w.emu.deny_bot(w.reminders)
    for _ in range(2):
        dm = w.emu.next_message(w.manager)
        handle = await w.emu.invoke(w.guild, w.manager, "credits buy", {"amount": "10"})
        await handle.message()
        await w.pay(await dm)
    await w.app.services.background.drain()
    await w.emu.until(
        lambda: (
            len([m for m in w.emu.dm_messages(w.manager) if "Receipt" in m.content]) == 2 or None
        ),
        "both receipts",
    )
    reports = [m for m in w.emu.dm_messages(w.guild.owner) if "not allowed to post" in m.content]
    assert len(reports) == 1


async def test_commands_sync_to_the_development_guild_only_when_one_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_world(tmp_path, monkeypatch, dev_guild=True) as w:
        in_guild = {command["name"] for command in w.emu.registered_commands(guild=w.guild)}
        assert {"server", "credits"} <= in_guild
        assert w.emu.registered_commands(guild=None) == []
        reply = await (await w.emu.invoke(w.guild, w.pilot, "credits balance")).message()
        assert reply.embeds[0]["title"] == "Server credit"


async def test_a_ready_message_discord_refused_is_posted_once_the_channel_works_again(
    world: World,
) -> None:
    w = world
    await w.fund(1000)
    w.emu.deny_bot(w.reminders)
    handle = await w.emu.invoke(w.guild, w.manager, "server start", {"duration": "1h"})
    await handle.message()
    await (await handle.click("confirm")).response()
    await w.app.services.background.drain()
    session = await w.ready()
    await w.advance(timedelta(seconds=30))
    assert session.status is SessionStatus.RUNNING
    await w.emu.until(
        lambda: newest(w.emu.dm_messages(w.guild.owner), "not allowed to post"),
        "the report to the owner",
    )
    assert newest(w.emu.channel_messages(w.reminders), "is ready at") is None

    w.emu.allow_bot(w.reminders)
    await w.advance(timedelta(seconds=30))
    await w.emu.until(
        lambda: newest(w.emu.channel_messages(w.reminders), "is ready at"), "the ready message"
    )
    await w.app.services.background.drain()
    await w.advance(10 * MINUTE)

    posted = [m for m in w.emu.channel_messages(w.reminders) if "is ready at" in m.content]
    assert len(posted) == 1
    events = [e.type for e in await w.events() if e.stream_id.endswith(session.session_id)]
    assert events.count("NoticeDelivered") == 1
