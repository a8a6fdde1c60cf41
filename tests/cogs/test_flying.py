"""A whole session as a squadron sees it, end to end: the real app and unmodified discord.py on
the Discord emulator, the local stand-in server whose real agent reports over HTTP to rr's web
app, pilots joining and leaving the stand-in, the live status message, /server status, an idle
warning kept running, and finally an idle stop with what it saved."""

from collections.abc import Sequence
from datetime import timedelta

import pytest

from bot.agentapi import ServerReport
from bot.cloud.local import LocalProvider, Pilot
from bot.domain.session import SessionState, SessionStatus
from bot.services.watch import TICK
from discord_emulator import Message
from tests.cogs.conftest import World
from tests.cogs.test_commands import newest, start_server
from tests.cogs.test_session_messages import buttons_disabled

pytestmark = pytest.mark.e2e

HOSTILE = "@everyone **Viper** <@1>"


class Server:
    """The session's stand-in server: pilots join and leave it, its real agent reports them."""

    def __init__(self, w: World, session: SessionState) -> None:
        provider = w.app.services.provider
        assert isinstance(provider, LocalProvider) and session.instance_id is not None
        self.w = w
        self.provider = provider
        self.session_id = session.session_id
        self.instance_id = session.instance_id

    async def seat(self, pilots: Sequence[Pilot]) -> None:
        """Exactly these pilots are on the server once its agent has reported them."""
        assert await self.provider.set_players(self.instance_id, pilots)
        names = sorted((pilot.name, pilot.side) for pilot in pilots)
        await self.w.reported(
            self.session_id,
            lambda report: sorted((p.name, p.side) for p in report.players) == names,
            f"with the pilots {names}",
        )

    async def fly(self, minutes: int) -> None:
        """Minutes pass on rr's clock, its timers running, then the watch's last pass of them
        looks at a fresh report from the agent (on a stale one it judges nothing)."""
        await self.w.advance(timedelta(minutes=minutes) - TICK)
        await self.w.reported(self.session_id, self._fresh, "after the clock moved on")
        await self.w.advance(TICK)

    def _fresh(self, report: ServerReport) -> bool:
        return report.received_at >= self.w.clock.now()

    async def until_stopping(self) -> None:
        """Fly on until rr stops the session (the watch's idle stop)."""
        sessions = self.w.app.services.sessions
        for _ in range(10):
            if (await sessions.get(self.session_id)).status is not SessionStatus.RUNNING:
                return
            await self.fly(1)
        raise AssertionError("the session was not stopped")


def live(w: World) -> Message | None:
    return next(
        (
            m
            for m in reversed(w.emu.channel_messages(w.reminders))
            if m.embeds and " online" in str(m.embeds[0].get("title"))
        ),
        None,
    )


def live_showing(w: World, pilots: int) -> Message | None:
    message = live(w)
    shown = message is not None and message.embeds[0]["title"].endswith(f"· {pilots} pilots online")
    return message if shown else None


async def test_pilots_join_and_leave_a_server_that_is_then_kept_running_and_stopped_idle(
    world: World,
) -> None:
    w = world
    await w.fund(5000)
    session = await start_server(w, "2h")
    server = Server(w, session)

    await server.seat([Pilot(HOSTILE, 2, "F-16C_50"), Pilot("Goose", 1, "Su-27")])
    await server.fly(1)
    message = await w.emu.until(lambda: live_showing(w, 2), "the live status message")
    [embed] = message.embeds
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    blue = fields["Blue (1)"]
    assert "@\u200beveryone" in blue and "\\*\\*Viper\\*\\*" in blue and "**" not in blue
    assert fields["Red (1)"] == "Goose"
    report = w.app.services.agents.heartbeats.latest(session.session_id)
    assert report is not None and report.mission
    assert report.mission in fields["On the server"]

    status = await (await w.emu.invoke(w.guild, w.pilot, "server status")).message()
    shown = {f["name"]: f["value"] for f in status.embeds[0]["fields"]}
    assert shown["Red (1)"] == "Goose" and "Blue (1)" in shown
    assert "last report <t:" in shown["On the server"]

    await server.fly(10)
    await server.seat([])
    await server.fly(2)
    await w.emu.until(lambda: live_showing(w, 0), "the edit")
    assert live(w) is message  # edited, not posted again

    warning = w.emu.next_message(w.reminders)
    await server.fly(15)
    warned = await warning
    assert "Nobody has been on" in warned.content and "keep it running" in warned.content
    refused = await w.emu.click(warned, f"rr:keep:{session.session_id}", w.pilot)
    assert "member who booked this session or a squadron manager" in (
        (await refused.message()).content
    )
    kept = await w.emu.click(warned, f"rr:keep:{session.session_id}", w.manager)
    await kept.response()
    await w.emu.until(lambda: "kept" in warned.content or None, "the kept warning")
    assert buttons_disabled(warned) == [True]

    second = w.emu.next_message(w.reminders)
    await server.fly(31)
    rewarned = await second
    assert "Nobody has been on" in rewarned.content
    warned_state = await w.app.services.sessions.get(session.session_id)
    assert warned_state.idle_warning is not None
    while w.clock.now() < warned_state.idle_warning.stop_at:
        await server.fly(1)
    await server.until_stopping()
    state = await w.ended(session.session_id)
    assert state.termination_reason == "idle"
    ended = await w.emu.until(
        lambda: newest(w.emu.channel_messages(w.reminders), "has stopped"), "the end message"
    )
    assert "(nobody was on the server)" in ended.content
    assert "left unused was not charged: $" in ended.content and "saved." in ended.content
    await w.emu.until(
        lambda: message.embeds[0]["description"].endswith("— 2 pilots flew.") or None,
        "the final live status",
    )
    assert buttons_disabled(rewarned) == [True]


async def test_a_pilot_joining_after_an_idle_warning_takes_its_button_off_and_no_stop_comes(
    world: World,
) -> None:
    w = world
    await w.fund(5000)
    session = await start_server(w, "2h")
    server = Server(w, session)

    await server.fly(31)
    warned = await w.emu.until(
        lambda: newest(w.emu.channel_messages(w.reminders), "Nobody has joined"), "the warning"
    )
    assert buttons_disabled(warned) == [False]

    await server.seat([Pilot("Iceman", 2, "F-14B")])
    await server.fly(2)
    await w.emu.until(lambda: "A pilot joined" in warned.content or None, "the spent warning")
    assert buttons_disabled(warned) == [True]
    await server.fly(10)
    state = await w.app.services.sessions.get(session.session_id)
    assert state.status is SessionStatus.RUNNING and state.idle_warning is None
