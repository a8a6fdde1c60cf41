"""The view's checkpoint: a start from it and the tail of the feed gives the view a replay of the
whole feed gives; a checkpoint of other code, or an unreadable one, is ignored; it holds no
secret. Random histories, on memory, SQLite and DynamoDB (moto server)."""

import logging
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from random import Random
from typing import Any

import pytest

import eventstore
from bot.domain import session as sessions
from bot.domain import squadron as sq
from bot.domain.actor import Actor
from bot.domain.errors import DomainError
from bot.domain.squadron import squadron_stream
from bot.mailbox import Mailbox
from bot.services.streams import decide_squadron
from bot.view import ScheduleConfig, View
from bot.view import checkpoint as checkpoints
from bot.view.checkpoint import CHECKPOINT_NAME, CheckpointPolicy, ViewCheckpoints
from bot.view.feeder import ViewFeeder
from eventstore import EventStore, StoredEvent
from tests.bot.view.history import START, History
from tests.eventstore.conftest import REGION
from tests.fakes.clock import FakeClock

RETENTION = timedelta(hours=6)
GUILDS = ("g1", "g2")
CONFIG = ScheduleConfig()
PASSWORD = "hunter2-secret"
STILL = ("over", "stuck")


def fresh_view() -> View:
    return View(CONFIG, retention=RETENTION)


async def random_history(history: History, rng: Random, steps: int, prefix: str = "s") -> None:
    """Sessions booked, launched, readied, reminded, stopped (some ending their mission first),
    ended or cancelled at random, with the clock moving by minutes to days, so that some
    sessions are forgotten."""
    for guild_id in GUILDS:
        await history.grant(10**7, guild_id=guild_id)
    stages: dict[str, str] = {}
    for step in range(steps):
        roll = rng.random()
        moving = [session_id for session_id, stage in stages.items() if stage not in STILL]
        if roll < 0.2 or not moving:
            session_id = f"{prefix}{step:03d}"
            start_in = None if rng.random() < 0.5 else timedelta(hours=rng.randrange(1, 48))
            await history.book(session_id, start_in=start_in, guild_id=rng.choice(GUILDS))
            stages[session_id] = "booked"
        elif roll < 0.35:
            await history.clock.advance(timedelta(minutes=rng.choice((1, 30, 200, 900, 3000))))
        else:
            session_id = rng.choice(moving)
            try:
                stages[session_id] = await advance(history, session_id, stages[session_id], rng)
            except DomainError:
                stages[session_id] = await close(history, session_id, stages[session_id])


async def close(history: History, session_id: str, stage: str) -> str:
    """End a session whose next step the rules refused (its time is over, say)."""
    try:
        if stage == "booked":
            await history.cancel(session_id)
            return "over"
        if stage != "stopping":
            await history.request_termination(session_id, "stopped_by_user")
        await history.end(session_id)
    except DomainError:
        return "stuck"
    return "over"


async def advance(history: History, session_id: str, stage: str, rng: Random) -> str:
    if stage == "booked" and rng.random() < 0.2:
        await history.cancel(session_id)
        return "over"
    if stage == "booked":
        await history.launch(session_id)
        return "launched"
    if stage == "launched":
        await history.ready(session_id, delivered=rng.random() < 0.7)
        return "ready"
    if stage == "ready" and rng.random() < 0.3:
        await warn_idle(history, session_id, kept=rng.random() < 0.5)
        return "ready"
    if stage == "ready" and rng.random() < 0.5:
        await history.remind(session_id, "end-15", delivered=rng.random() < 0.7)
        return "reminded"
    if stage in ("ready", "reminded"):
        await history.request_termination(session_id, "stopped_by_user")
        return "stopping"
    if stage == "stopping" and rng.random() < 0.5:
        await history.graceful_end(session_id)
        return "ending its mission"
    await history.end(session_id)
    return "over"


async def warn_idle(history: History, session_id: str, *, kept: bool) -> None:
    """The idle stop's facts: a warning, and perhaps a member keeping the server running."""
    now = history.clock.now()
    warn = sessions.WarnIdle(
        actor=Actor.system("watch"),
        now=now,
        cause="empty",
        idle_since=now - timedelta(minutes=15),
        stop_at=now + timedelta(minutes=5),
    )
    await history.decide(session_id, warn)
    if kept:
        state = await history.state(session_id)
        keep = sessions.KeepRunning(
            actor=Actor(state.booked_by, state.guild_id), now=now, until=now + timedelta(hours=1)
        )
        await history.decide(session_id, keep)


def answers(view: View) -> tuple[Any, ...]:
    """Everything the view says, its saved form included (the checkpoint's own fields); due
    actions in a set order, since sessions due at the same time may come in any."""
    later = START + timedelta(days=60)
    return (
        view.saved(),
        view.stats(),
        [view.sessions_for_guild(guild_id) for guild_id in GUILDS],
        [view.session_numbers(guild_id) for guild_id in GUILDS],
        [view.balance(guild_id) for guild_id in GUILDS],
        view.active_sessions(),
        view.running_instances(),
        view.next_due_at(),
        sorted(view.due_actions(later), key=lambda a: (a.due_at, a.session_id, a.kind)),
        view.next_due_at(),
    )


def replayed(events: list[StoredEvent], caught_up_at: datetime = START) -> View:
    view = fresh_view()
    view.apply_all(events)
    view.mark_caught_up(events[-1].position, caught_up_at)
    return view


@pytest.mark.parametrize("seed", range(12))
async def test_a_view_restored_from_its_checkpoint_and_the_tail_answers_as_a_full_replay(
    seed: int,
) -> None:
    rng = Random(seed)
    history = History(FakeClock(START))
    await random_history(history, rng, steps=rng.randrange(30, 120))
    events = history.events
    cut = rng.randrange(1, len(events))
    before = replayed(events[:cut])
    restored = fresh_view()
    decoded = checkpoints.decode(checkpoints.encode(before.saved()))
    assert decoded is not None
    restored.restore(decoded)
    restored.apply_all(events[cut:])
    restored.mark_caught_up(events[-1].position, START)

    assert answers(restored) == answers(replayed(events))


async def test_random_histories_forget_ended_sessions_and_keep_their_numbers() -> None:
    history = History(FakeClock(START))
    await random_history(history, Random(99), steps=150)
    full = replayed(history.events)
    kept = {s.session_id for guild_id in GUILDS for s in full.sessions_for_guild(guild_id)}
    numbers = {g: replayed(history.events).session_numbers(g) for g in GUILDS}
    unforgetful = View(CONFIG, retention=timedelta(days=3650))
    unforgetful.apply_all(history.events)

    assert full.stats().sessions_forgotten > 0
    assert len(kept) + full.stats().sessions_forgotten == unforgetful.stats().sessions_tracked
    for guild_id in GUILDS:
        every = unforgetful.session_numbers(guild_id)
        assert numbers[guild_id] == {s: every[s] for s in numbers[guild_id]}


@pytest.fixture(params=["sqlite", "dynamodb"])
async def store_and_clock(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[EventStore, FakeClock]]:
    clock = FakeClock(START)
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/events.db"
    else:
        endpoint = request.getfixturevalue("moto_endpoint")
        url = f"dynamodb://view-{uuid.uuid4().hex}?region={REGION}&endpoint_url={endpoint}"
    async with eventstore.open(url, clock=clock.now) as store:
        yield store, clock


async def started_view(
    store: EventStore, clock: FakeClock, checkpoints: ViewCheckpoints | None
) -> tuple[Mailbox[View], ViewFeeder, bool]:
    mailbox = Mailbox(fresh_view(), name="view")
    mailbox.start()
    feeder = ViewFeeder(store, mailbox, clock, checkpoints=checkpoints)
    restored = await feeder.restore()
    await feeder.catch_up()
    return mailbox, feeder, restored


async def test_a_start_from_the_stored_checkpoint_reads_the_tail_and_matches_a_replay(
    store_and_clock: tuple[EventStore, FakeClock],
) -> None:
    store, clock = store_and_clock
    history = History(clock, store)
    manager = Actor("43", "g1", is_manager=True)
    change = sq.ChangeSettings(actor=manager, changes={"password": PASSWORD})
    await history.append(squadron_stream("g1"), decide_squadron(change, sq.initial_squadron))
    await random_history(history, Random(7), steps=40)
    first, feeder, restored = await started_view(store, clock, ViewCheckpoints(store))
    assert not restored
    assert await feeder.save_checkpoint(final=True)
    await first.stop()
    written = len(history.events)
    await random_history(history, Random(8), steps=20, prefix="t")

    second, _, restored = await started_view(store, clock, ViewCheckpoints(store))
    replay, _, _ = await started_view(store, clock, None)

    assert restored
    stats = await second.ask(lambda v: v.stats())
    assert stats.events_applied == len(history.events)
    assert await second.ask(answers) == await replay.ask(answers)
    squadron = await second.ask(lambda v: v.squadron("g1"))
    assert squadron is not None and squadron.settings.value("password") == PASSWORD
    saved = await store.load_checkpoint(CHECKPOINT_NAME)
    assert saved is not None and PASSWORD.encode() not in saved.data
    assert written < len(history.events)
    await second.stop()
    await replay.stop()


@pytest.mark.parametrize(
    "data",
    [
        b'{"schema": "view/0", "sessions": "an older shape"}',
        b"{not json",
        b'{"schema": "%s", "position": 3}' % checkpoints.SCHEMA.encode(),
    ],
    ids=["older-code", "corrupt", "incomplete"],
)
async def test_a_checkpoint_of_other_code_or_unreadable_is_ignored_and_the_view_rebuilt(
    data: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(START)
    history = History(clock)
    await random_history(history, Random(3), steps=30)
    await history.store.save_checkpoint(CHECKPOINT_NAME, data)

    with caplog.at_level(logging.INFO, logger="rr.view"):
        view, _, restored = await started_view(history.store, clock, ViewCheckpoints(history.store))

    assert not restored
    assert await view.ask(answers) == answers(replayed(history.events, clock.now()))
    assert "rebuilding from the feed" in caplog.text
    await view.stop()


async def test_a_session_state_with_a_field_unknown_to_this_code_is_refused() -> None:
    history = History(FakeClock(START))
    await history.grant(10_000)
    await history.book("m1", start_in=timedelta(hours=1))
    document = checkpoints.encode(replayed(history.events).saved())
    widened = document.replace(b'"session_id":', b'"shiny_new_field":1,"session_id":')

    with pytest.raises(ValueError, match="SessionState"):
        checkpoints.decode(widened)


async def test_the_feeder_saves_after_enough_events_or_time_with_anything_new() -> None:
    clock = FakeClock(START)
    history = History(clock)
    await history.grant(10_000)
    policy = CheckpointPolicy(every_events=5, every=timedelta(minutes=10))
    mailbox = Mailbox(fresh_view(), name="view")
    mailbox.start()
    feeder = ViewFeeder(
        history.store, mailbox, clock, checkpoints=ViewCheckpoints(history.store, policy)
    )
    await feeder.catch_up()
    assert await feeder.save_checkpoint()
    assert not await feeder.save_checkpoint()
    await history.book("m1", start_in=timedelta(hours=1))
    await feeder.catch_up()
    assert not await feeder.save_checkpoint()
    await clock.advance(timedelta(minutes=10))
    assert await feeder.save_checkpoint()
    for number in range(3):
        await history.book(f"m{number + 2}", start_in=timedelta(hours=1))
    await feeder.catch_up()
    assert await feeder.save_checkpoint()
    saved = await history.store.load_checkpoint(CHECKPOINT_NAME)
    assert saved is not None and saved.version == 3
    await mailbox.stop()
