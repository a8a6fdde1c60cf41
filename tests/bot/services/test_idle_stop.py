"""Who is flying and the idle stop, through the services on the fake clock: heartbeats as the
agent API keeps them, the watch's passes, the records and the notices."""

from datetime import timedelta

import pytest

from bot.agentapi import Grant
from bot.agentapi.schemas import Heartbeat, Player
from bot.domain.errors import InvalidRequest, NotAllowed
from bot.domain.presence import IDLE_WARNING_LEAD, KEEP_RUNNING_FOR
from bot.domain.session import SessionState, SessionStatus, session_stream
from bot.domain.settings import parse_setting
from bot.domain.squadron import squadron_stream
from bot.notify import (
    IdleWarningNotice,
    IdleWarningWithdrawnNotice,
    LiveStatusNotice,
    ReadyNotice,
    SessionEndedNotice,
)
from tests.bot.services.fake_provider import FakeProvider
from tests.bot.services.harness import GUILD, MEMBER, MINUTE, BotProcess, member
from tests.fakes.clock import FakeClock

SECOND = timedelta(seconds=1)


class Server:
    """A running session's server, beating as its agent would, and ending its mission when rr
    asks it to (the graceful end before a stop)."""

    def __init__(self, bot: BotProcess, session: SessionState) -> None:
        self.bot = bot
        self.session = session
        self.seq = 0
        self.pilots: list[str] = []
        self.mission_over = False

    async def beat(self) -> None:
        pending = self.bot.services.agents.instructions.pending(self.session.session_id)
        self.mission_over |= any(item.kind == "end_mission" for item in pending)
        self.seq += 1
        players = [
            Player(id=index + 2, name=name, side=2 if index % 2 else 1, slot=f"{index}")
            for index, name in enumerate(self.pilots)
        ]
        heartbeat = Heartbeat(
            seq=self.seq,
            state="stopped" if self.mission_over else "running",
            mission="Op Snowfall",
            players=players,
            acked=[],
        )
        grant = Grant(self.session.session_id, self.session.attempt)
        await self.bot.services.agents.heartbeats.accept(grant, heartbeat)
        await self.bot.services.background.drain()

    async def run(self, minutes: int) -> None:
        """Minutes pass with the server beating and the watch looking every minute."""
        for _ in range(minutes):
            await self.bot.clock.advance(MINUTE)
            await self.beat()
            await self.bot.services.watch.tick()

    async def state(self) -> SessionState:
        return await self.bot.services.sessions.get(self.session.session_id)


async def flying(bot: BotProcess, minutes: int = 120) -> Server:
    await bot.fund(10_000)
    started = await bot.services.sessions.start(member(), duration_minutes=minutes)
    await bot.services.background.drain()
    session = await bot.services.sessions.get(started.session_id)
    assert session.status is SessionStatus.RUNNING
    server = Server(bot, session)
    await server.beat()
    await bot.services.watch.tick()
    return server


async def test_a_server_nobody_joins_is_warned_then_stopped_and_billed_to_the_stop(
    bot: BotProcess,
) -> None:
    server = await flying(bot)
    await server.run(29)
    assert bot.notifier.of_type(IdleWarningNotice) == []

    await server.run(1)
    [warning] = bot.notifier.of_type(IdleWarningNotice)
    assert warning.session.idle_warning is not None
    assert warning.session.idle_warning.cause == "unjoined"
    assert warning.session.idle_warning.idle_since == server.session.ready_at
    await server.run(4)
    assert (await server.state()).status is SessionStatus.RUNNING

    await server.run(1)
    stopping = await server.state()
    assert (stopping.status, stopping.termination_reason) == (SessionStatus.TERMINATING, "idle")
    await server.run(1)  # the mission ended cleanly first (not billed)
    ended = await server.state()
    assert ended.status is SessionStatus.ENDED
    assert ended.billed_minutes == 35  # 30 idle minutes, then 5 warned: billed to the stop
    [notice] = bot.notifier.of_type(SessionEndedNotice)
    assert notice.reason == "idle"


async def test_keep_running_holds_off_the_stop_and_a_later_idle_spell_stops_it(
    bot: BotProcess,
) -> None:
    server = await flying(bot)
    server.pilots = ["Viper 1-1"]
    await server.run(10)
    server.pilots = []
    await server.run(15)
    [warning] = bot.notifier.of_type(IdleWarningNotice)
    assert warning.session.idle_warning is not None
    assert warning.session.idle_warning.cause == "empty"

    kept, did = await bot.services.sessions.keep_running(member(), server.session.session_id)
    assert did and kept.idle_warning is None
    await server.run(29)
    assert (await server.state()).status is SessionStatus.RUNNING
    assert len(bot.notifier.of_type(IdleWarningNotice)) == 1

    await server.run(1)
    assert len(bot.notifier.of_type(IdleWarningNotice)) == 2
    await server.run(6)
    ended = await server.state()
    assert (ended.status, ended.termination_reason) == (SessionStatus.ENDED, "idle")
    types = await bot.types(session_stream(server.session.session_id))
    assert types.count("IdleStopWarned") == 2 and types.count("IdleStopPostponed") == 1


async def test_a_pilot_joining_after_the_warning_keeps_the_server_running(
    bot: BotProcess,
) -> None:
    server = await flying(bot)
    await server.run(30)
    assert len(bot.notifier.of_type(IdleWarningNotice)) == 1
    server.pilots = ["Goose"]
    await server.run(1)
    [withdrawn] = bot.notifier.of_type(IdleWarningWithdrawnNotice)
    assert withdrawn.session.idle_warning is None
    await server.run(30)
    assert (await server.state()).status is SessionStatus.RUNNING
    assert len(bot.notifier.of_type(IdleWarningNotice)) == 1


async def test_a_postponed_idle_stop_is_refused_even_when_another_process_asks_for_it(
    bot: BotProcess,
) -> None:
    server = await flying(bot)
    await server.run(30)
    await bot.services.sessions.keep_running(member(), server.session.session_id)
    await bot.clock.advance(10 * MINUTE)

    after = await bot.services.sessions.terminate(server.session.session_id, "idle")

    assert after.status is SessionStatus.RUNNING


async def test_with_the_idle_stop_off_a_server_nobody_joins_keeps_running(
    bot: BotProcess,
) -> None:
    await bot.services.squadrons.change_settings(
        member(manager=True),
        {"idle_stop_unjoined_minutes": "off", "idle_stop_empty_minutes": "0"},
    )
    server = await flying(bot, minutes=240)
    await server.run(200)
    server.pilots = ["Iceman"]
    await server.run(1)
    server.pilots = []
    await server.run(30)
    assert bot.notifier.of_type(IdleWarningNotice) == []
    assert (await server.state()).status is SessionStatus.RUNNING


@pytest.mark.parametrize("value", ["-5", "721", "soon", "1.5", "30 hours"])
async def test_bad_idle_stop_values_are_refused_in_one_sentence_with_nothing_recorded(
    bot: BotProcess, value: str
) -> None:
    before = await bot.types(squadron_stream(GUILD))
    with pytest.raises(InvalidRequest) as refused:
        await bot.services.squadrons.change_settings(
            member(manager=True), {"idle_stop_empty_minutes": value}
        )
    assert str(refused.value) == (
        "idle_stop_empty_minutes must be a whole number of minutes from 0 to 720, or off."
    )
    assert await bot.types(squadron_stream(GUILD)) == before


@pytest.mark.parametrize(("typed", "minutes"), [("off", 0), ("0", 0), ("45", 45), ("20 min", 20)])
def test_idle_stop_minutes_are_read_as_typed(typed: str, minutes: int) -> None:
    assert parse_setting("idle_stop_unjoined_minutes", typed) == minutes


async def test_a_server_whose_reports_stopped_is_not_judged_idle(bot: BotProcess) -> None:
    server = await flying(bot)
    for _ in range(60):
        await bot.clock.advance(MINUTE)
        await bot.services.watch.tick()
    assert bot.notifier.of_type(IdleWarningNotice) == []
    assert (await server.state()).status is SessionStatus.RUNNING


async def test_an_idle_warning_discord_refused_is_withdrawn_and_given_again(
    bot: BotProcess,
) -> None:
    server = await flying(bot)
    await server.run(29)
    bot.notifier.failing = 1
    await server.run(1)
    assert (await server.state()).idle_warning is None
    assert bot.notifier.of_type(IdleWarningNotice) == []

    await server.run(1)
    [warning] = bot.notifier.of_type(IdleWarningNotice)
    assert warning.session.idle_warning is not None
    await server.run(6)  # stopped after 5, then the mission ended cleanly
    assert (await server.state()).status is SessionStatus.ENDED


async def test_while_discord_refuses_idle_warnings_they_are_tried_again_ever_less_often(
    bot: BotProcess,
) -> None:
    server = await flying(bot)
    await server.run(29)
    bot.notifier.failing = 1000
    await server.run(10)  # refused at 30, 31, 33 and 37 minutes
    bot.notifier.failing = 0
    types = await bot.types(session_stream(server.session.session_id))
    assert types.count("IdleStopWarned") == types.count("IdleStopWithdrawn") == 4

    await server.run(5)
    assert len(bot.notifier.of_type(IdleWarningNotice)) == 0
    await server.run(1)  # 45 minutes: told at last
    assert len(bot.notifier.of_type(IdleWarningNotice)) == 1
    assert (await server.state()).status is SessionStatus.RUNNING


async def test_only_the_booker_or_a_manager_may_keep_a_server_running(bot: BotProcess) -> None:
    server = await flying(bot)
    await server.run(30)
    with pytest.raises(NotAllowed):
        await bot.services.sessions.keep_running(member(MEMBER), server.session.session_id)
    assert "IdleStopPostponed" not in await bot.types(session_stream(server.session.session_id))
    _, did = await bot.services.sessions.keep_running(
        member(MEMBER, manager=True), server.session.session_id
    )
    assert did


async def test_the_live_status_is_told_on_change_at_most_every_30_seconds(
    bot: BotProcess,
) -> None:
    server = await flying(bot)
    [first] = bot.notifier.of_type(LiveStatusNotice)
    assert (first.status.mission, first.status.pilots) == ("Op Snowfall", ())

    server.pilots = ["Viper 1-1"]
    await bot.clock.advance(10 * SECOND)
    await server.beat()
    await bot.services.watch.tick()
    assert len(bot.notifier.of_type(LiveStatusNotice)) == 1  # too soon after the last

    await bot.clock.advance(20 * SECOND)
    await bot.services.watch.tick()
    second = bot.notifier.of_type(LiveStatusNotice)[-1]
    assert [pilot.name for pilot in second.status.pilots] == ["Viper 1-1"]
    assert second.status.flown == 1

    await server.run(5)  # nothing changed: nothing told
    assert len(bot.notifier.of_type(LiveStatusNotice)) == 2
    status = bot.services.watch.status(await server.state())
    assert status is not None and status.flown == 1


async def test_keep_running_pressed_in_another_process_holds_there_and_after_a_restart(
    bot: BotProcess, clock: FakeClock, provider: FakeProvider
) -> None:
    server = await flying(bot)
    await server.run(30)
    [warning] = bot.notifier.of_type(IdleWarningNotice)
    assert warning.session.idle_warning is not None
    warned_at = warning.session.idle_warning.stop_at - IDLE_WARNING_LEAD
    other = BotProcess(bot.store, clock, provider)
    await other.start()
    await other.services.sessions.keep_running(member(), server.session.session_id)
    await other.stop()

    await server.run(10)  # past the warned stop; this process has not fed the press in yet
    assert (await server.state()).status is SessionStatus.RUNNING

    await bot.stop()
    restarted = BotProcess(bot.store, clock, provider)
    await restarted.start()
    server.bot = restarted
    await server.run(19)
    assert restarted.notifier.of_type(IdleWarningNotice) == []

    await server.run(1)  # Keep running, pressed at the warning, held it off until now
    assert clock.now() == warned_at + KEEP_RUNNING_FOR
    [again] = restarted.notifier.of_type(IdleWarningNotice)
    assert again.session.idle_warning is not None and again.session.idle_warning.cause == "empty"
    await server.run(5)
    assert (await server.state()).termination_reason == "idle"
    await restarted.stop()


async def test_the_ready_message_names_the_mission_the_server_reported(
    bot: BotProcess, provider: FakeProvider
) -> None:
    provider.port_open = False
    await bot.fund(10_000)
    started = await bot.services.sessions.start(member(), duration_minutes=60)
    await bot.services.background.drain()
    launching = await bot.services.sessions.get(started.session_id)
    server = Server(bot, launching)
    await server.beat()
    provider.port_open = True

    await bot.services.sessions.check_ready(started.session_id)

    [ready] = bot.notifier.of_type(ReadyNotice)
    assert ready.mission == "Op Snowfall"
