"""The session's idle-stop rules: who warns, who keeps a server running, when the stop holds;
and the verdict the watch acts on."""

from datetime import datetime, timedelta

import pytest

from bot.domain import session as ms
from bot.domain.actor import Actor
from bot.domain.errors import Conflict, NotAllowed
from bot.domain.events import IdleStopPostponed, IdleStopWarned, IdleStopWithdrawn
from bot.domain.presence import IdleRules, Warn, Watched, idle_verdict
from tests.bot.domain.test_session import (
    BOOKER,
    MANAGER,
    OTHER_MEMBER,
    START,
    SYSTEM,
    SessionStream,
    run,
    running,
    state_of,
    terminating,
)

MINUTE = timedelta(minutes=1)
WARNED_AT = START + 30 * MINUTE
RULES = IdleRules.from_minutes(30, 15)


def warn(actor: Actor = SYSTEM, now: datetime = WARNED_AT) -> ms.WarnIdle:
    return ms.WarnIdle(
        actor=actor, now=now, cause="unjoined", idle_since=START, stop_at=now + 5 * MINUTE
    )


def warned() -> SessionStream:
    stream = running()
    run(stream, warn())
    return stream


def keep(actor: Actor = BOOKER) -> ms.KeepRunning:
    return ms.KeepRunning(actor=actor, now=WARNED_AT + MINUTE, until=WARNED_AT + 31 * MINUTE)


def idle_stop(now: datetime) -> ms.RequestTermination:
    return ms.RequestTermination(actor=SYSTEM, now=now, reason="idle")


def test_the_bot_warns_once_and_a_member_cannot_warn() -> None:
    stream = running()
    with pytest.raises(NotAllowed):
        run(stream, warn(BOOKER))
    assert run(stream, warn()) == [
        IdleStopWarned(cause="unjoined", idle_since=START, stop_at=WARNED_AT + 5 * MINUTE)
    ]
    assert run(stream, warn(now=WARNED_AT + MINUTE)) == []


def test_an_idle_stop_holds_only_once_its_warned_time_came() -> None:
    stream = warned()
    with pytest.raises(Conflict):
        run(stream, idle_stop(WARNED_AT + 4 * MINUTE))
    run(stream, idle_stop(WARNED_AT + 5 * MINUTE))
    state = state_of(stream)
    assert (state.termination_reason, state.stop_at) == ("idle", WARNED_AT + 5 * MINUTE)


def test_the_booker_or_a_manager_keeps_it_running_and_a_plain_member_cannot() -> None:
    stream = warned()
    with pytest.raises(NotAllowed):
        run(stream, keep(OTHER_MEMBER))
    assert run(stream, keep(MANAGER)) == [IdleStopPostponed(until=WARNED_AT + 31 * MINUTE)]
    assert run(stream, keep(BOOKER)) == []  # nothing left to keep
    with pytest.raises(Conflict):
        run(stream, idle_stop(WARNED_AT + 10 * MINUTE))
    assert run(stream, warn(now=WARNED_AT + 20 * MINUTE)) == []  # postponed: no warning yet
    assert run(stream, warn(now=WARNED_AT + 31 * MINUTE)) != []


def test_a_pilot_joining_withdraws_the_warning_and_the_stop_no_longer_holds() -> None:
    stream = warned()
    withdraw = ms.WithdrawIdleWarning(actor=SYSTEM, now=WARNED_AT, reason="pilot_joined")
    assert run(stream, withdraw) == [IdleStopWithdrawn(reason="pilot_joined")]
    assert run(stream, withdraw) == []
    with pytest.raises(Conflict):
        run(stream, idle_stop(WARNED_AT + 10 * MINUTE))


def test_a_stopping_server_is_neither_warned_nor_kept_running() -> None:
    stream = terminating()
    assert run(stream, warn()) == []
    with pytest.raises(Conflict):
        run(stream, keep())


# --- the verdict ---------------------------------------------------------------------------------


def test_a_server_nobody_joined_is_warned_after_the_unjoined_limit() -> None:
    state = state_of(running())
    watched = Watched(since=START, last_pilot_at=None, saw_ready=True)
    assert idle_verdict(state, watched, False, RULES, START + 29 * MINUTE) is None
    assert idle_verdict(state, watched, False, RULES, START + 30 * MINUTE) == Warn(
        "unjoined", START
    )
    assert idle_verdict(state, watched, True, RULES, START + 30 * MINUTE) is None


def test_after_the_last_pilot_left_the_empty_limit_counts() -> None:
    state = state_of(running())
    left = START + 40 * MINUTE
    watched = Watched(since=START, last_pilot_at=left, saw_ready=True)
    assert idle_verdict(state, watched, False, RULES, left + 14 * MINUTE) is None
    assert idle_verdict(state, watched, False, RULES, left + 15 * MINUTE) == Warn("empty", left)


def test_after_a_restart_nobody_on_counts_from_the_first_report_seen() -> None:
    state = state_of(running())
    restarted = START + 60 * MINUTE
    watched = Watched(since=restarted, last_pilot_at=None, saw_ready=False)
    assert idle_verdict(state, watched, False, RULES, restarted + 14 * MINUTE) is None
    assert idle_verdict(state, watched, False, RULES, restarted + 15 * MINUTE) == Warn(
        "empty", restarted
    )


def test_a_rule_turned_off_never_warns() -> None:
    state = state_of(running())
    watched = Watched(since=START, last_pilot_at=None, saw_ready=True)
    off = IdleRules.from_minutes(0, 15)
    assert idle_verdict(state, watched, False, off, START + 24 * 60 * MINUTE) is None


def test_a_warned_server_stops_at_its_time_unless_a_pilot_is_on() -> None:
    state = state_of(warned())
    watched = Watched(since=START, last_pilot_at=None, saw_ready=True)
    stop_at = WARNED_AT + 5 * MINUTE
    assert idle_verdict(state, watched, False, RULES, stop_at - MINUTE) is None
    assert idle_verdict(state, watched, False, RULES, stop_at) == "stop"
    assert idle_verdict(state, watched, True, RULES, stop_at) == "withdraw"
