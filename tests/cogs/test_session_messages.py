"""What a squadron sees of a session stays true: extensions, ends, cancellations and stops show
on the public messages and reach a channel the squadron reads."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.cloud.base import InstanceInfo, LaunchError, LaunchRequest
from bot.domain.actor import Actor
from cogs.utils.notifier import GRACEFUL_END_TOLD
from discord_emulator import Message
from discord_emulator.models import walk_components
from tests.bot.services.agent_reports import instructions, kinds, report
from tests.cogs.conftest import World
from tests.cogs.test_commands import newest, start_server

pytestmark = pytest.mark.e2e

MINUTE = timedelta(minutes=1)


def field(message: Message, name: str) -> str:
    [embed] = message.embeds
    return next(str(f["value"]) for f in embed["fields"] if f["name"] == name)


def buttons_disabled(message: Message) -> list[bool]:
    return [
        bool(c.get("disabled")) for c in walk_components(message.components) if "custom_id" in c
    ]


async def test_an_extension_is_announced_shown_on_the_public_messages_and_warned_again(
    world: World,
) -> None:
    w = world
    await w.fund(5000)
    session = await start_server(w)
    started = newest(w.emu.channel_messages(w.general), "server starting")
    ready = newest(w.emu.channel_messages(w.reminders), "is ready at")
    assert started is not None and ready is not None
    assert started.content.endswith(
        "server starting: Server #1 · " + f"{session.start_at:%a %H:%M}."
    )
    warning = w.emu.next_message(w.reminders)
    await w.advance(45 * MINUTE)
    warned = await warning
    assert "Server #1" in warned.content and "ends in 15 minutes" in warned.content

    announced = w.emu.next_message(w.reminders)
    extend = await w.emu.click(warned, f"rr:extend:{session.session_id}:30", w.manager)
    await extend.message()
    announcement = await announced
    assert f"<@{w.manager.id}> extended Server #1" in announcement.content
    assert "by 30 minutes; it now ends" in announcement.content

    new_end = f"<t:{int((session.end_at + 30 * MINUTE).timestamp())}:f>"
    assert new_end in field(ready, "Ends")
    assert new_end in field(started, "Ends")
    assert buttons_disabled(warned) == [True, True, True]

    again = w.emu.next_message(w.reminders)
    await w.advance(30 * MINUTE)
    rewarned = await again
    assert "ends in 15 minutes" in rewarned.content
    assert buttons_disabled(rewarned) == [False, False, False]


async def test_without_a_reminder_channel_the_end_is_told_where_the_server_was_started(
    world: World,
) -> None:
    w = world
    owner = Actor(user_id=str(w.admin.id), guild_id=w.guild_id, is_manager=True)
    await w.fund(5000)
    handle = await w.emu.invoke(w.guild, w.manager, "server start", {"duration": "1h"})
    await handle.message()
    await (await handle.click("confirm")).response()
    # The reminder channel is unset while the server boots (a start needs one to be set).
    await w.app.services.squadrons.change_settings(owner, {"reminder_channel_id": ""})
    await w.app.services.background.drain()
    await w.advance(timedelta(seconds=30))
    await w.emu.until(lambda: newest(w.emu.channel_messages(w.general), "is ready at"), "ready")
    await w.advance(10 * MINUTE)

    stop = await w.emu.invoke(w.guild, w.manager, "server stop")
    await stop.message()
    await (await stop.click("confirm")).response()
    notice = await w.emu.until(
        lambda: newest(w.emu.channel_messages(w.general), "has stopped"), "the end notice"
    )
    assert notice.content.startswith(f"<@{w.manager.id}> Server #1 · ")
    assert "has stopped (stopped by a member): 11 minutes billed, $0.37." in notice.content
    # The stop ended the stand-in's mission first (its agent reports one), as its reply said.
    progress = await w.emu.until(lambda: newest(stop.messages, "ending its mission"), "the stop")
    assert progress.content.startswith("Server #1 · ")


async def test_without_a_reminder_channel_a_failed_launch_is_told_where_it_was_started(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world
    owner = Actor(user_id=str(w.admin.id), guild_id=w.guild_id, is_manager=True)
    await w.fund(5000)

    async def no_capacity(request: LaunchRequest) -> InstanceInfo:
        # The reminder channel is unset during the launch (a start needs one to be set).
        await w.app.services.squadrons.change_settings(owner, {"reminder_channel_id": ""})
        raise LaunchError("capacity", "AWS has no free medium servers right now.")

    monkeypatch.setattr(w.app.services.provider, "launch", no_capacity)
    handle = await w.emu.invoke(w.guild, w.manager, "server start", {"duration": "1h"})
    await handle.message()
    await (await handle.click("confirm")).response()
    await w.app.services.background.drain()
    notice = await w.emu.until(
        lambda: newest(w.emu.channel_messages(w.general), "could not be started"), "the failure"
    )
    assert notice.content.startswith(f"<@{w.manager.id}> Server #1 · ")
    assert "AWS has no free medium servers right now." in notice.content
    started = await w.emu.until(
        lambda: newest(w.emu.channel_messages(w.general), "server starting"), "the start"
    )
    await w.emu.until(lambda: started.embeds[0]["title"].endswith("· Ended") or None, "its end")
    assert "the launch failed" in str(started.embeds[0]["fields"])


async def test_a_cancellation_shows_on_the_booking_message_and_in_the_reminder_channel(
    world: World,
) -> None:
    w = world
    await w.fund(5000)
    handle = await w.emu.invoke(
        w.guild, w.manager, "server schedule", {"start": "tomorrow 20:00", "duration": "1h"}
    )
    await handle.message()
    await (await handle.click("confirm")).response()
    booking = await w.emu.until(
        lambda: newest(w.emu.channel_messages(w.general), "server booked"), "the booking"
    )
    assert booking.embeds[0]["title"].endswith("· Booked")

    told = w.emu.next_message(w.reminders)
    cancel = await w.emu.invoke(w.guild, w.manager, "server cancel")
    await cancel.message()
    await (await cancel.click("confirm")).response()
    assert "was cancelled before it started; nothing was charged." in (await told).content
    assert booking.embeds[0]["title"].startswith("Server #1 · ")
    assert booking.embeds[0]["title"].endswith("· Cancelled")


async def test_the_ready_message_gives_the_srs_port_when_the_session_runs_srs(
    world: World,
) -> None:
    w = world
    owner = Actor(user_id=str(w.admin.id), guild_id=w.guild_id, is_manager=True)
    await w.app.services.squadrons.change_settings(owner, {"srs.enabled": "true"})
    await w.fund(5000)
    await start_server(w)
    ready = newest(w.emu.channel_messages(w.reminders), "is ready at")
    assert ready is not None
    assert ready.content.endswith(" SRS: port `5002`. Mission: Stand-in mission.")


async def test_an_old_quotes_buttons_say_it_expired_after_a_restart(world: World) -> None:
    w = world
    await w.fund(5000)
    handle = await w.emu.invoke(w.guild, w.manager, "server start", {"duration": "1h"})
    quote = await handle.message()
    await w.app.stop()
    await w.app.start()
    assert w.app.discord is not None
    await w.app.discord.wait_until_ready()

    pressed = await w.emu.click(quote, "confirm", w.manager)
    await pressed.response()
    assert quote.content == "This quote has expired; run the command again."
    assert (quote.embeds, quote.custom_ids()) == ([], [])
    assert await w.app.services.sessions.for_guild(w.guild_id) == []


async def test_a_live_prompt_is_answered_by_its_own_view_only(world: World) -> None:
    w = world
    await w.fund(5000)
    handle = await w.emu.invoke(w.guild, w.manager, "server start", {"duration": "1h"})
    await handle.message()
    await (await handle.click("confirm")).response()
    started = await w.emu.until(lambda: newest(handle.messages, "Server starting"), "the start")
    assert "expired" not in started.content
    [session] = await w.app.services.sessions.for_guild(w.guild_id)
    assert session.is_active


async def test_sessions_are_offered_by_their_label_in_the_squadrons_time_zone(
    world: World,
) -> None:
    w = world
    owner = Actor(user_id=str(w.admin.id), guild_id=w.guild_id, is_manager=True)
    await w.app.services.squadrons.change_settings(owner, {"timezone": "Asia/Tokyo"})
    await w.fund(5000)
    running = await start_server(w)
    booked_at = (w.clock.now() + timedelta(days=1)).astimezone(ZoneInfo("Asia/Tokyo"))
    handle = await w.emu.invoke(
        w.guild,
        w.manager,
        "server schedule",
        {"start": booked_at.strftime("%Y-%m-%d %H:%M"), "duration": "1h"},
    )
    await handle.message()
    await (await handle.click("confirm")).response()
    await w.emu.until(lambda: newest(handle.messages, "Server booked"), "the booking")

    choices = await w.emu.autocomplete(
        w.guild, w.manager, "server extend", {"server": ""}, focused="server"
    )
    tokyo = running.start_at.astimezone(ZoneInfo("Asia/Tokyo"))
    assert [choice["name"] for choice in choices] == [
        f"Server #1 · {tokyo:%a %H:%M} · Running · medium · 1h",
        f"Server #2 · {booked_at:%a %H:%M} · Booked · medium · 1h",
    ]
    picked = await w.emu.autocomplete(
        w.guild, w.manager, "server extend", {"server": "#2"}, focused="server"
    )
    assert [choice["name"][:9] for choice in picked] == ["Server #2"]


async def test_a_stop_ends_the_mission_first_and_says_those_minutes_are_not_billed(
    world: World,
) -> None:
    w = world
    await w.fund(5000)
    session = await start_server(w)
    await report(w.app.services, session, "running")
    await w.advance(10 * MINUTE)

    stop = await w.emu.invoke(w.guild, w.manager, "server stop")
    await stop.message()
    await (await stop.click("confirm")).response()
    progress = await w.emu.until(lambda: newest(stop.messages, "ending its mission"), "progress")
    assert "billing stopped now" in progress.content
    assert kinds(w.app.services, session)[-2:] == [("end_mission", None), ("upload", None)]
    await w.advance(timedelta(seconds=30))
    await report(w.app.services, session, "stopped")
    # The agent then reports the debrief upload done (nothing to send here), and is heard.
    upload = instructions(w.app.services, session)[-1]
    w.app.services.agents.instructions.acknowledge(session.session_id, [upload.id])
    await report(w.app.services, session, "stopped")
    await w.app.services.background.drain()

    notice = await w.emu.until(
        lambda: newest(w.emu.channel_messages(w.reminders), "has stopped"), "the end notice"
    )
    assert "(stopped by a member): 11 minutes billed, $0.37." in notice.content
    assert notice.content.endswith(GRACEFUL_END_TOLD)
