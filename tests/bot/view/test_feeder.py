from datetime import timedelta

from bot.mailbox import Mailbox
from bot.view import ScheduleConfig, View
from bot.view.feeder import ViewFeeder
from bot.view.handle import ViewHandle
from tests.bot.view.history import GUILD, START, History
from tests.fakes.clock import FakeClock

INTERVAL = timedelta(seconds=5)


async def test_catch_up_builds_the_view_from_the_whole_feed() -> None:
    clock = FakeClock(START)
    history = History(clock)
    await history.grant(10_000)
    await history.book("m1", start_in=timedelta(hours=1))
    view = Mailbox(View(ScheduleConfig()), name="view")
    view.start()
    feeder = ViewFeeder(history.store, view, clock, batch_size=2)
    assert await feeder.catch_up() == 3
    stats = await view.ask(lambda v: v.stats())
    assert stats.events_applied == 3
    assert stats.position == history.events[-1].position
    assert stats.caught_up_at == START
    await view.stop()


async def test_another_processes_events_arrive_with_the_next_catch_up_and_only_once() -> None:
    clock = FakeClock(START)
    history = History(clock)
    await history.grant(10_000)
    view = Mailbox(View(ScheduleConfig()), name="view")
    view.start()
    feeder = ViewFeeder(history.store, view, clock, interval=INTERVAL)
    await feeder.catch_up()
    feeder.start()
    mine = await history.book("mine", start_in=timedelta(hours=1))
    view.tell(lambda v: v.apply_all(mine))
    await history.book("theirs", start_in=timedelta(hours=2))
    assert await view.ask(lambda v: v.session("theirs")) is None
    await clock.advance(INTERVAL)
    assert await view.ask(lambda v: v.session("theirs")) is not None
    stats = await view.ask(lambda v: v.stats())
    assert stats.events_applied == len(history.events)
    assert stats.duplicates_dropped == len(mine)
    assert await view.ask(lambda v: v.reservations(GUILD)) == {"mine": 1200, "theirs": 1200}
    assert feeder.alive
    await feeder.stop()
    assert not feeder.alive
    await view.stop()


async def test_the_handle_publishes_events_and_answers_queries_through_the_mailbox() -> None:
    clock = FakeClock(START)
    history = History(clock)
    await history.grant(10_000)
    await history.book("m1", start_in=timedelta(hours=1))
    view = Mailbox(View(ScheduleConfig()), name="view")
    view.start()
    handle = ViewHandle(view)
    handle.publish(history.events)
    session = await handle.session("m1")
    assert session is not None and session.guild_id == GUILD
    assert [m.session_id for m in await handle.sessions_for_guild(GUILD)] == ["m1"]
    assert (await handle.balance(GUILD)).available_cents == 10_000 - 1200
    assert await handle.next_due_at() == START + timedelta(minutes=40)
    await view.stop()
