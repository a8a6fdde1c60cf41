import logging
from dataclasses import replace
from datetime import timedelta

import pytest

from bot.domain.events import CreditsReserved, ReservationReduced
from bot.domain.pricing import cost_at_rate
from bot.domain.session import READY_NOTICE, Extend, SessionStatus, StartGracefulEnd
from bot.domain.squadron import squadron_stream
from bot.mailbox import Mailbox
from bot.view import Balance, DueAction, ScheduleConfig, View
from bot.view.feeder import ViewFeeder
from tests.bot.view.history import GUILD, LIMITS, RATE, START, SYSTEM, History, view_of
from tests.fakes.clock import FakeClock

HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
SECOND = timedelta(seconds=1)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
async def history(clock: FakeClock) -> History:
    history = History(clock)
    await history.grant(100_000)
    return history


def kinds(actions: list[DueAction]) -> list[tuple[str, str]]:
    return [(action.kind, action.key_or_reason) for action in actions]


# --- queries --------------------------------------------------------------------------------------


async def test_sessions_for_guild_lists_the_guilds_sessions_by_start(history: History) -> None:
    await history.book("late", start_in=2 * HOUR)
    await history.book("early", start_in=HOUR)
    await history.book("elsewhere", start_in=HOUR, guild_id="g2")
    view = view_of(history.events)
    assert [m.session_id for m in view.sessions_for_guild(GUILD)] == ["early", "late"]
    assert [m.session_id for m in view.sessions_for_guild("g2")] == ["elsewhere"]
    assert view.sessions_for_guild("nobody") == []


async def test_session_numbers_count_a_guilds_sessions_in_booking_order(
    history: History, clock: FakeClock
) -> None:
    await history.book("zulu", start_in=3 * HOUR)
    await clock.advance(MINUTE)
    await history.book("alpha", start_in=HOUR)
    await history.book("elsewhere", start_in=HOUR, guild_id="g2")
    view = view_of(history.events)
    assert view.session_numbers(GUILD) == {"zulu": 1, "alpha": 2}
    assert view.session_numbers("g2") == {"elsewhere": 1}
    assert view_of(list(reversed(history.events))).session_numbers(GUILD) == {"zulu": 1, "alpha": 2}


async def test_session_answers_the_folded_state_or_none(history: History) -> None:
    await history.book("m1", start_in=HOUR)
    view = view_of(history.events)
    session = view.session("m1")
    assert session is not None
    assert session.status is SessionStatus.BOOKED
    assert session.end_at == START + 3 * HOUR
    assert view.session("missing") is None


async def test_active_sessions_and_running_instances_follow_the_lifecycle(
    history: History, clock: FakeClock
) -> None:
    await history.book("booked", start_in=HOUR)
    await history.book("running", start_in=None)
    await history.launch("running", login_ref="login-a")
    await history.ready("running")
    await history.book("over", start_in=None, guild_id="g2")
    await history.launch("over")
    await history.request_termination("over", "stopped_by_user")
    await history.end("over")
    view = view_of(history.events)
    assert {m.session_id for m in view.active_sessions()} == {"booked", "running"}
    assert [m.session_id for m in view.running_instances()] == ["running"]


async def test_balance_and_reservations_follow_the_ledger(history: History) -> None:
    await history.book("m1", start_in=None, minutes=60)
    view = view_of(history.events)
    assert view.reservations(GUILD) == {"m1": 600}
    assert view.balance(GUILD) == Balance(100_000, 600, 99_400)
    assert view.balance("unknown") == Balance(0, 0, 0)


async def test_stats_count_events_sessions_and_the_feed_position(history: History) -> None:
    await history.book("m1", start_in=HOUR)
    await history.book("m2", start_in=None)
    await history.launch("m2")
    view = view_of(history.events)
    view.mark_caught_up(history.events[-1].position, START)
    stats = view.stats()
    assert stats.events_applied == len(history.events)
    assert stats.sessions_tracked == 2
    assert stats.active_sessions == 2
    assert stats.position == history.events[-1].position
    assert stats.caught_up_at == START


# --- feeding --------------------------------------------------------------------------------------


async def test_events_delivered_again_are_dropped(history: History) -> None:
    await history.book("m1", start_in=HOUR)
    await history.remind("m1", "start-60")
    view = view_of(history.events)
    view.apply_all(history.events)
    session = view.session("m1")
    assert session is not None and session.reminders_sent == {"start-60"}
    assert view.balance(GUILD) == view_of(history.events).balance(GUILD)
    assert view.stats().duplicates_dropped == len(history.events)


async def test_an_event_ahead_of_its_stream_waits_for_the_versions_before_it(
    history: History,
) -> None:
    granted = list(history.events)
    booked = await history.book("m1", start_in=HOUR)
    reminded = await history.remind("m1", "start-60", delivered=False)
    view = view_of(granted)
    view.apply_all(reminded)
    assert view.session("m1") is None
    assert view.stats().events_waiting == 1
    view.apply_all(booked)
    session = view.session("m1")
    assert session is not None and session.reminders_sent == {"start-60"}
    assert view.stats().events_waiting == 0


async def test_rebuilding_from_the_same_events_gives_the_same_answers(
    history: History, clock: FakeClock
) -> None:
    await history.book("m1", start_in=2 * HOUR)
    await history.book("m2", start_in=None)
    await history.launch("m2")
    await history.book("m3", start_in=30 * MINUTE, guild_id="g2")
    live = View(ScheduleConfig())
    for event in history.events:
        live.apply(event)
    rebuilt = View(ScheduleConfig())
    rebuilt.apply_all([event async for event in history.store.read_all()])
    for view in (live, rebuilt):
        view.mark_caught_up(None, START)
    assert rebuilt.stats() == live.stats()
    assert rebuilt.active_sessions() == live.active_sessions()
    assert rebuilt.balance(GUILD) == live.balance(GUILD)
    for hours in (0, 1, 2, 3):
        now = START + hours * HOUR
        assert rebuilt.due_actions(now) == live.due_actions(now)
        assert rebuilt.next_due_at() == live.next_due_at()


async def test_the_listener_hears_when_something_falls_due_earlier(history: History) -> None:
    view = View(ScheduleConfig())
    calls: list[None] = []
    view.set_due_listener(lambda: calls.append(None))
    view.apply_all(await history.book("far", start_in=48 * HOUR))
    assert view.next_due_at() == START + 24 * HOUR
    calls.clear()
    view.apply_all(await history.book("farther", start_in=72 * HOUR))
    assert calls == []
    view.apply_all(await history.book("near", start_in=2 * HOUR))
    assert calls == [None]


# --- due actions ----------------------------------------------------------------------------------


async def test_reminders_fall_due_at_each_offset_before_a_booked_start(history: History) -> None:
    await history.book("m1", start_in=48 * HOUR)
    view = view_of(history.events)
    start = START + 48 * HOUR
    assert view.next_due_at() == start - 24 * HOUR
    assert view.due_actions(start - 24 * HOUR - MINUTE) == []
    assert view.due_actions(start - 24 * HOUR) == [
        DueAction("remind", "m1", "start-1440", start - 24 * HOUR)
    ]
    view.apply_all(await history.remind("m1", "start-1440"))
    assert view.next_due_at() == start - HOUR
    view.apply_all(await history.remind("m1", "start-60"))
    assert view.next_due_at() == start - 20 * MINUTE
    assert kinds(view.due_actions(start - 20 * MINUTE)) == [("launch", "")]
    assert kinds(view.due_actions(start - 15 * MINUTE)) == [("launch", ""), ("remind", "start-15")]


async def test_reminders_already_past_when_booked_are_skipped(history: History) -> None:
    await history.book("m1", start_in=30 * MINUTE)
    view = view_of(history.events)
    start = START + 30 * MINUTE
    assert view.due_actions(START) == []
    assert view.next_due_at() == start - 20 * MINUTE
    view.apply_all(await history.launch("m1"))
    view.apply_all(await history.ready("m1"))
    assert kinds(view.due_actions(start - 15 * MINUTE)) == [("remind", "start-15")]


async def test_after_downtime_only_the_latest_overdue_reminder_is_sent(
    history: History, clock: FakeClock
) -> None:
    await history.book("m1", start_in=48 * HOUR)
    start = START + 48 * HOUR
    await clock.set(start - 30 * MINUTE)
    view = view_of(history.events)
    assert kinds(view.due_actions(clock.now())) == [("remind", "start-60")]
    view.apply_all(await history.remind("m1", "start-60"))
    assert view.due_actions(clock.now()) == []
    assert kinds(view.due_actions(start - 15 * MINUTE)) == [("launch", ""), ("remind", "start-15")]


async def test_a_reminder_recorded_but_not_delivered_is_sent_again_until_it_is(
    history: History, clock: FakeClock
) -> None:
    await history.book("m1", start_in=48 * HOUR)
    await clock.set(START + 24 * HOUR)
    await history.remind("m1", "start-1440", delivered=False)
    view = view_of(history.events)
    retry = ScheduleConfig().delivery_retry

    assert view.next_due_at() == clock.now() + retry
    assert view.due_actions(clock.now() + retry - SECOND) == []
    assert view.due_actions(clock.now() + retry) == [
        DueAction("deliver", "m1", "start-1440", clock.now() + retry)
    ]
    view.apply_all(await history.delivered("m1", "start-1440"))
    assert view.next_due_at() == START + 47 * HOUR


async def test_a_notice_not_delivered_within_its_window_is_given_up(
    history: History, clock: FakeClock
) -> None:
    await history.book("m1", start_in=None)
    await history.launch("m1")
    await history.ready("m1", delivered=False)
    view = view_of(history.events)
    window = ScheduleConfig().delivery_window

    assert kinds(view.due_actions(clock.now() + window - SECOND)) == [("deliver", "ready")]
    assert view.due_actions(clock.now() + window) == []


async def test_a_cancelled_booking_has_no_reminder_to_send_again(history: History) -> None:
    await history.book("m1", start_in=2 * HOUR)
    await history.remind("m1", "start-60", delivered=False)
    await history.cancel("m1")
    view = view_of(history.events)

    assert view.next_due_at() is None


async def test_start_reminders_lapse_at_the_start(history: History, clock: FakeClock) -> None:
    await history.book("m1", start_in=48 * HOUR)
    view = view_of(history.events)
    start = START + 48 * HOUR
    assert kinds(view.due_actions(start + MINUTE)) == [("launch", "")]
    view.apply_all(await history.launch("m1"))
    assert all(action.kind != "remind" for action in view.due_actions(start + 2 * MINUTE))


async def test_an_immediate_session_is_launched_by_the_scheduler_only_if_left_booked(
    history: History,
) -> None:
    await history.book("m1", start_in=None)
    view = view_of(history.events)
    assert view.due_actions(START) == []
    assert view.next_due_at() == START + MINUTE
    assert kinds(view.due_actions(START + MINUTE)) == [("launch", "")]


async def test_readiness_is_checked_every_probe_interval_until_ready(
    history: History, clock: FakeClock
) -> None:
    await history.book("m1", start_in=None)
    await history.launch("m1")
    view = view_of(history.events)
    probe = START + 30 * timedelta(seconds=1)
    assert view.next_due_at() == probe
    (check,) = view.due_actions(probe)
    assert kinds([check]) == [("check_ready", "")]
    view.postpone(check, probe + timedelta(seconds=30))
    assert view.due_actions(probe + timedelta(seconds=29)) == []
    assert view.next_due_at() == probe + timedelta(seconds=30)
    view.apply_all(await history.ready("m1"))
    assert all(action.kind != "check_ready" for action in view.due_actions(START + HOUR))


async def test_a_server_not_ready_within_the_timeout_is_terminated(history: History) -> None:
    await history.book("m1", start_in=None)
    await history.launch("m1")
    view = view_of(history.events)
    assert view.due_actions(START + 40 * MINUTE) == [
        DueAction("terminate", "m1", "not_ready", START + 40 * MINUTE)
    ]


async def test_end_warnings_and_termination_at_the_booked_end(
    history: History, clock: FakeClock
) -> None:
    await history.book("m1", start_in=None, minutes=60)
    await history.launch("m1")
    await history.ready("m1")
    view = view_of(history.events)
    end = START + HOUR
    assert view.next_due_at() == end - 15 * MINUTE
    assert kinds(view.due_actions(end - 15 * MINUTE)) == [("remind", "end-15")]
    view.apply_all(await history.remind("m1", "end-15"))
    assert kinds(view.due_actions(end - 5 * MINUTE)) == [("remind", "end-5")]
    assert view.due_actions(end) == [DueAction("terminate", "m1", "booked_time_over", end)]


async def test_an_extension_warns_again_fifteen_and_five_minutes_before_the_new_end(
    history: History, clock: FakeClock
) -> None:
    await history.book("m1", start_in=None, minutes=60)
    await history.launch("m1")
    await history.ready("m1")
    end = START + HOUR
    await history.remind("m1", "end-15")
    await history.remind("m1", "end-5")
    await clock.set(end - 4 * MINUTE)
    await history.decide("m1", Extend(actor=SYSTEM, now=clock.now(), minutes=30, limits=LIMITS))
    await history.record(
        squadron_stream(GUILD),
        CreditsReserved(session_id="m1", amount_cents=cost_at_rate(RATE, 30)),
    )
    view = view_of(history.events)
    new_end = end + 30 * MINUTE
    assert view.next_due_at() == new_end - 15 * MINUTE
    assert kinds(view.due_actions(new_end - 15 * MINUTE)) == [("remind", "end-15")]
    assert kinds(view.due_actions(new_end - 5 * MINUTE)) == [("remind", "end-5")]


async def test_a_due_termination_makes_overdue_warnings_moot(history: History) -> None:
    await history.book("m1", start_in=None, minutes=60)
    await history.launch("m1")
    await history.ready("m1")
    view = view_of(history.events)
    assert kinds(view.due_actions(START + 2 * HOUR)) == [("terminate", "booked_time_over")]


async def test_a_cut_reservation_brings_a_low_credit_warning_then_termination(
    history: History,
) -> None:
    await history.book("m1", start_in=None, minutes=120)
    await history.launch("m1")
    await history.ready("m1")
    view = view_of(history.events)
    assert view.reservations(GUILD) == {"m1": 1200}
    view.apply_all(
        await history.record(
            squadron_stream(GUILD), ReservationReduced(session_id="m1", amount_cents=900)
        )
    )
    runs_out = START + 30 * MINUTE
    assert view.next_due_at() == runs_out - 10 * MINUTE
    assert kinds(view.due_actions(runs_out - 10 * MINUTE)) == [("remind", "credit-low")]
    view.apply_all(await history.remind("m1", "credit-low"))
    assert view.due_actions(runs_out) == [DueAction("terminate", "m1", "out_of_credit", runs_out)]


async def test_a_termination_taking_too_long_is_retried(history: History, clock: FakeClock) -> None:
    await history.book("m1", start_in=None)
    await history.launch("m1")
    await clock.advance(10 * MINUTE)
    await history.request_termination("m1", "stopped_by_user")
    view = view_of(history.events)
    retry_at = START + 11 * MINUTE
    assert view.next_due_at() == retry_at
    assert view.due_actions(retry_at) == [
        DueAction("retry_terminate", "m1", "stopped_by_user", retry_at)
    ]
    view.apply_all(await history.end("m1"))
    assert view.next_due_at() is None
    assert view.active_sessions() == []


async def test_a_graceful_end_is_carried_on_after_the_retry_and_cut_off_at_its_bound(
    history: History, clock: FakeClock
) -> None:
    await history.book("m1", start_in=None)
    await history.launch("m1")
    await clock.advance(10 * MINUTE)
    await history.request_termination("m1", "stopped_by_user")
    until = START + 12 * MINUTE
    await history.decide("m1", StartGracefulEnd(actor=SYSTEM, now=clock.now(), until=until))
    view = view_of(history.events)
    retry_at = START + 11 * MINUTE
    assert view.due_actions(retry_at) == [
        DueAction("retry_terminate", "m1", "stopped_by_user", retry_at)
    ]
    view.postpone(DueAction("retry_terminate", "m1", "stopped_by_user", retry_at), until + MINUTE)
    assert view.next_due_at() == until
    assert view.due_actions(until) == [DueAction("terminate", "m1", "stopped_by_user", until)]


async def test_a_booking_whose_time_passed_unlaunched_is_terminated_not_launched(
    history: History,
) -> None:
    await history.book("m1", start_in=HOUR, minutes=60)
    view = view_of(history.events)
    assert view.due_actions(START + 2 * HOUR) == [
        DueAction("terminate", "m1", "booked_time_over", START + 2 * HOUR)
    ]


async def test_sessions_with_an_action_in_flight_are_left_out_of_the_next_due_time(
    history: History,
) -> None:
    await history.book("m1", start_in=None)
    await history.book("m2", start_in=48 * HOUR)
    view = view_of(history.events)
    assert view.next_due_at() == START + MINUTE
    assert view.next_due_at(excluding={"m1"}) == START + 24 * HOUR
    assert view.next_due_at() == START + MINUTE


async def test_nothing_is_due_for_ended_or_cancelled_sessions(history: History) -> None:
    await history.book("m1", start_in=HOUR)
    await history.cancel("m1")
    view = view_of(history.events)
    assert view.next_due_at() is None
    assert view.due_actions(START + 30 * HOUR) == []
    assert view.reservations(GUILD) == {}


async def test_a_held_back_termination_keeps_everything_else_moot(history: History) -> None:
    await history.book("m1", start_in=None, minutes=60)
    await history.launch("m1")
    await history.ready("m1")
    view = view_of(history.events)
    end = START + HOUR
    (terminate,) = view.due_actions(end)
    view.postpone(terminate, end + MINUTE)
    assert view.due_actions(end + timedelta(seconds=30)) == []
    assert view.next_due_at() == end + MINUTE
    assert view.due_actions(end + MINUTE) == [terminate]


async def test_a_held_back_reminder_is_not_replaced_by_an_older_one(
    history: History, clock: FakeClock
) -> None:
    await history.book("m1", start_in=48 * HOUR)
    start = START + 48 * HOUR
    view = view_of(history.events)
    (reminder,) = view.due_actions(start - 30 * MINUTE)
    assert reminder.key_or_reason == "start-60"
    view.postpone(reminder, start - 29 * MINUTE)
    assert view.due_actions(start - 30 * MINUTE) == []
    assert view.next_due_at() == start - 29 * MINUTE


async def test_an_unreadable_event_is_logged_and_skipped_and_the_rest_still_applies(
    history: History, caplog: pytest.LogCaptureFixture
) -> None:
    booked = await history.book("m1", start_in=HOUR)
    reminded = await history.remind("m1", "start-15")
    stranger = replace(reminded[0], type="FromTheFuture", data={"what": "new"})
    later = replace(reminded[0], version=reminded[0].version + 1)
    view = view_of(history.events[:1])
    with caplog.at_level(logging.ERROR, logger="rr.view"):
        view.apply_all([*booked, stranger, later])
    assert "stream=mission#m1 version=2 type=FromTheFuture" in caplog.text
    assert view.stats().events_unreadable == 1
    session = view.session("m1")
    assert session is not None and session.reminders_sent == {"start-15"}


async def test_answers_stay_right_after_many_re_plans(history: History) -> None:
    await history.book("m1", start_in=None)
    await history.book("m2", start_in=48 * HOUR)
    view = view_of(history.events)
    (launch,) = view.due_actions(START + MINUTE)
    for seconds in range(1, 3001):
        view.postpone(launch, START + MINUTE + timedelta(seconds=seconds))
    assert view.next_due_at() == START + MINUTE + timedelta(seconds=3000)
    assert view.due_actions(START + MINUTE + timedelta(seconds=3000)) == [launch]


# --- forgetting ended sessions ------------------------------------------------------------------


async def test_an_ended_session_is_forgotten_once_its_retention_passed(
    history: History, clock: FakeClock
) -> None:
    await history.book("old", start_in=None)
    await history.cancel("old")
    await clock.advance(MINUTE)
    await history.book("kept", start_in=2 * HOUR)
    view = View(ScheduleConfig(), retention=HOUR)
    view.apply_all(history.events)
    assert view.session("old") is not None
    await clock.advance(HOUR)
    await history.book("new", start_in=2 * HOUR)
    view.apply_all(history.events)

    assert view.session("old") is None
    assert [s.session_id for s in view.sessions_for_guild(GUILD)] == ["kept", "new"]
    assert view.session_numbers(GUILD) == {"kept": 2, "new": 3}
    assert view.stats().sessions_forgotten == 1
    assert view.mark_caught_up(None, START) == ["mission#old"]
    assert view.mark_caught_up(None, START) == []


async def test_a_forgotten_sessions_late_event_is_applied_from_the_stream_not_left_waiting(
    history: History, clock: FakeClock
) -> None:
    await history.book("old", start_in=HOUR)
    await history.launch("old")
    await history.ready("old", delivered=False)
    await history.request_termination("old", "stopped_by_user")
    await history.end("old")
    mailbox = Mailbox(View(ScheduleConfig(), retention=HOUR), name="view")
    mailbox.start()
    feeder = ViewFeeder(history.store, mailbox, clock)
    await clock.advance(2 * HOUR)
    await history.grant(1)
    await feeder.catch_up()
    assert await mailbox.ask(lambda v: v.session("old")) is None
    late = await history.delivered("old", READY_NOTICE)
    mailbox.tell(lambda v: v.apply_all(late))
    await feeder.catch_up()
    # The stream came back whole, and went again: it closed longer than the retention ago.

    stats = await mailbox.ask(lambda v: v.stats())
    assert stats.events_waiting == 0
    old_stream = [e for e in history.events if e.stream_id == "mission#old"]
    assert stats.events_applied == len(history.events) + len(old_stream) - 1
    assert await mailbox.ask(lambda v: v.session("old")) is None
    await mailbox.stop()


async def test_a_booking_moves_its_launch_when_boots_of_its_size_are_measured(
    history: History, clock: FakeClock
) -> None:
    config = ScheduleConfig()
    await history.book("later", start_in=5 * HOUR)
    starts_at = (await history.state("later")).start_at
    before = view_of(history.events, config).due_actions(starts_at - config.boot_lead)
    assert [a.due_at for a in before if a.kind == "launch"] == [starts_at - config.boot_lead]

    measured = []
    for number in range(5):
        measured += await history.book(f"b{number}", start_in=None, minutes=30)
        measured += await history.launch(f"b{number}")
        await clock.advance(15 * MINUTE)
        measured += await history.ready(f"b{number}")
    fresh = view_of(history.events, config)
    view = view_of([e for e in history.events if e not in measured], config)
    view.apply_all(measured)

    for folded in (view, fresh):
        assert folded.boot_lead("small", "eu").lead == 15 * MINUTE
        due = folded.due_actions(starts_at - 15 * MINUTE)
        launches = [a for a in due if a.kind == "launch" and a.session_id == "later"]
        assert [a.due_at for a in launches] == [starts_at - 15 * MINUTE]


async def test_a_forgotten_session_coming_back_does_not_count_its_boot_twice(
    history: History, clock: FakeClock
) -> None:
    await history.book("old", start_in=None)
    await history.launch("old")
    await clock.advance(12 * MINUTE)
    await history.ready("old", delivered=False)
    await history.request_termination("old", "stopped_by_user")
    await history.end("old")
    view = View(ScheduleConfig(), retention=HOUR)
    view.apply_all(history.events)
    await clock.advance(2 * HOUR)
    view.apply_all(await history.grant(1))
    assert view.session("old") is None

    late = await history.delivered("old", READY_NOTICE)
    view.apply_all([e for e in history.events if e.stream_id == "mission#old"] + late)

    assert view.stats().events_waiting == 0
    assert view.boot_times.recent("small", "eu") == [12 * 60]
