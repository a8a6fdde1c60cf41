"""Who may do what, and what bad input gets: one private sentence and nothing recorded."""

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from bot.domain.session import SessionStatus
from discord_emulator import InvalidInvocation, User
from tests.cogs.conftest import World

pytestmark = pytest.mark.e2e


async def refused(w: World, user: User, command: str, options: dict[str, Any]) -> str:
    """Run a command that must be refused; return the reply after checking nothing was recorded."""
    before = len(await w.events())
    handle = await w.emu.invoke(w.guild, user, command, options)
    reply = await handle.message()
    assert reply.ephemeral, reply.content
    assert len(await w.events()) == before
    return reply.content


async def test_plain_members_may_look_but_not_start_stop_or_configure(world: World) -> None:
    w = world
    await w.fund(5000)
    for command, options in [
        ("server start", {"duration": "1h"}),
        ("server schedule", {"start": "tomorrow 20:00", "duration": "1h"}),
        ("server extend", {"duration": "30m"}),
        ("server stop", {}),
        ("server cancel", {}),
    ]:
        assert "Only squadron managers" in await refused(w, w.pilot, command, options)
    with pytest.raises(InvalidInvocation, match="cannot see /config"):
        await w.emu.invoke(w.guild, w.pilot, "config show", {})
    settings = await refused(w, w.pilot, "server settings", {})
    assert settings == (
        "Only squadron managers (the manager role or Manage Server) can see the squadron's "
        "settings; ask one of them."
    )
    status = await (await w.emu.invoke(w.guild, w.pilot, "server status")).message()
    assert not status.ephemeral
    balance = await (await w.emu.invoke(w.guild, w.pilot, "credits balance")).message()
    assert balance.embeds[0]["title"] == "Server credit"


async def test_the_manager_role_may_start_but_only_manage_server_may_configure(
    world: World,
) -> None:
    w = world
    await w.fund(5000)
    with pytest.raises(InvalidInvocation, match="cannot see /config"):
        await w.emu.invoke(
            w.guild, w.manager, "config set", {"setting": "max_players", "value": "8"}
        )
    shown = await (await w.emu.invoke(w.guild, w.manager, "server settings")).message()
    assert shown.ephemeral
    assert shown.embeds[0]["title"] == "Squadron settings"
    for starter in (w.manager, w.admin):
        quote = await (
            await w.emu.invoke(w.guild, starter, "server start", {"duration": "1h"})
        ).message()
        assert quote.embeds[0]["title"] == "Start a server now"
    changed = await (
        await w.emu.invoke(w.guild, w.admin, "config set", {"setting": "max_players", "value": "8"})
    ).message()
    assert changed.ephemeral
    assert "`max_players` is now 8" in changed.content
    squadron = await w.app.services.squadrons.get(w.guild_id)
    assert squadron.settings.max_players == 8


async def test_nobody_acts_on_another_guilds_server(world: World) -> None:
    w = world
    await w.fund(5000)
    start = await w.emu.invoke(w.guild, w.manager, "server start", {"duration": "1h"})
    await start.message()
    await (await start.click("confirm")).response()
    await w.app.services.background.drain()
    [session] = await w.app.services.sessions.for_guild(w.guild_id)

    other = w.emu.add_guild("Other squadron")
    rival = w.emu.add_user("iceman")
    other.add_member(rival, roles=[other.add_role("boss", permissions=1 << 5)])
    handle = await w.emu.invoke(other, rival, "server stop", {"server": session.session_id})
    reply = await handle.message()
    assert reply.ephemeral
    assert "can't find that server" in reply.content
    choices = await w.emu.autocomplete(
        other, rival, "server stop", {"server": ""}, focused="server"
    )
    assert choices == []


async def test_admin_commands_are_only_in_the_operators_guild_and_only_for_operators(
    world: World,
) -> None:
    w = world
    with pytest.raises(InvalidInvocation):
        await w.emu.invoke(w.guild, w.admin, "admin instances")
    outsider = w.emu.add_user("outsider")
    w.ops_guild.add_member(outsider)
    denied = await (await w.emu.invoke(w.ops_guild, outsider, "admin instances")).message()
    assert "Only rr's operators" in denied.content
    granted = await (
        await w.emu.invoke(
            w.ops_guild,
            w.operator,
            "admin grant",
            {"guild": w.guild_id, "amount": "12.50", "reason": "goodwill"},
        )
    ).message()
    assert "Granted $12.50" in granted.content
    balance = await w.app.services.squadrons.balance(w.guild_id)
    assert balance.available_cents == 1250


async def test_the_server_password_never_shows_in_replies_or_event_history(world: World) -> None:
    w = world
    options = {"setting": "password", "value": "hunter2"}
    changed = await (await w.emu.invoke(w.guild, w.admin, "config set", options)).message()
    assert changed.ephemeral
    assert "hunter2" not in changed.content
    stream = {"stream": f"squadron#{w.guild_id}"}
    history = await (await w.emu.invoke(w.ops_guild, w.operator, "admin history", stream)).message()
    assert "SquadronSettingsChanged" in history.content
    assert "hunter2" not in history.content


@pytest.mark.parametrize(
    ("command", "options", "expected"),
    [
        ("server start", {"duration": "abc"}, "is not a duration"),
        ("server start", {"duration": "5m"}, "minutes"),
        ("server start", {"duration": "1h", "mission": "nope.miz"}, "no mission named"),
        ("server schedule", {"start": "soon", "duration": "1h"}, "is not a time I can read"),
        ("server schedule", {"start": "2020-01-01 10:00", "duration": "1h"}, "past"),
        (
            "server schedule",
            {"start": "19:30", "duration": "1h", "timezone": "Mars/Base"},
            "not a time zone",
        ),
        ("server extend", {"duration": "x"}, "is not a duration"),
        ("server stop", {"server": "zzzz"}, "can't find that server"),
        ("server cancel", {}, "no server to cancel"),
        ("credits buy", {"amount": "abc"}, "is not an amount"),
        ("credits buy", {"amount": "1"}, "smallest purchase"),
        ("credits buy", {"amount": "100000"}, "largest single purchase"),
        ("config set", {"setting": "nope", "value": "1"}, "no setting called"),
        ("config set", {"setting": "max_players", "value": "500"}, "max_players"),
        ("config timezone", {"timezone": "Nowhere/Land"}, "timezone"),
    ],
)
async def test_bad_input_gets_one_plain_sentence_and_records_nothing(
    world: World, command: str, options: dict[str, Any], expected: str
) -> None:
    w = world
    await w.fund(5000)
    user = w.admin
    text = await refused(w, user, command, options)
    assert expected in text
    assert "error id" not in text
    assert text.count(". ") <= 1


async def test_closed_dms_get_the_checkout_link_privately(world: World) -> None:
    w = world
    w.emu.close_dms(w.manager)
    reply = await (
        await w.emu.invoke(w.guild, w.manager, "credits buy", {"amount": "10"})
    ).message()
    assert reply.ephemeral
    assert "couldn't DM you" in reply.content
    assert "/sandbox/checkout/" in reply.content


async def test_a_deleted_reminder_channel_is_reported_to_the_owner_once(world: World) -> None:
    w = world
    w.emu.delete_channel(w.reminders)
    owner = w.guild.owner
    for _ in range(2):
        await w.fund(1000)
        dm = w.emu.next_message(w.manager)
        handle = await w.emu.invoke(w.guild, w.manager, "credits buy", {"amount": "10"})
        await handle.message()
        await w.pay(await dm)
        await w.emu.until(
            lambda: next((m for m in w.emu.dm_messages(w.manager) if "Receipt" in m.content), None),
            "the receipt",
        )
    await w.app.services.background.drain()
    reports = [m for m in w.emu.dm_messages(owner) if "no longer exists" in m.content]
    assert len(reports) == 1


async def test_fifty_members_at_once_are_each_acknowledged(world: World) -> None:
    w = world
    members = [w.emu.add_user(f"pilot{n}") for n in range(50)]
    for member in members:
        w.guild.add_member(member)
    handles = await asyncio.gather(
        *(w.emu.invoke(w.guild, member, "credits balance") for member in members)
    )
    answers = await asyncio.gather(*(handle.response() for handle in handles))
    assert [answer.type for answer in answers] == [4] * 50


MINUTE = timedelta(minutes=1)


async def test_the_notifier_forgets_a_session_once_it_has_ended(world: World) -> None:
    w = world
    w.emu.deny_bot(w.reminders)
    await w.fund(1000)
    notifier = w.app.discord.notifier  # type: ignore[union-attr]
    start = await w.emu.invoke(w.guild, w.manager, "server start", {"duration": "1h"})
    await start.message()
    await (await start.click("confirm")).response()
    await w.app.services.background.drain()
    session = await w.ready()
    await w.advance(timedelta(seconds=30))
    assert session.status is SessionStatus.RUNNING
    assert notifier.sessions_remembered == 1

    await w.advance(61 * MINUTE)
    assert w.app.services.admin.scheduler is not None
    await w.app.services.admin.scheduler.drain()  # the end's cloud calls run in threads

    await w.ended(session.session_id)
    # The end after a graceful wait is told by a background task, once the agent reports.
    await w.app.services.background.drain()
    assert notifier.sessions_remembered == 0
    reports = [m for m in w.emu.dm_messages(w.guild.owner) if "not allowed to post" in m.content]
    assert len(reports) == 1
