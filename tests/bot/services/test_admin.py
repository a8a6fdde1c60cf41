from datetime import datetime
from pathlib import Path

import pytest

import eventstore
from bot.domain.errors import InvalidRequest, NotAllowed, NotFound
from bot.domain.session import session_stream
from tests.bot.services.fake_provider import FakeProvider
from tests.bot.services.harness import (
    GUILD,
    OTHER_GUILD,
    PRICING,
    START,
    BotProcess,
    member,
    operator,
)
from tests.fakes.clock import FakeClock


async def test_running_instances_lists_every_server_up(bot: BotProcess) -> None:
    await bot.fund(1_000)
    started = await bot.services.sessions.start(member(), duration_minutes=60)
    await bot.services.sessions.book(member(), start_at=START.replace(hour=23), duration_minutes=60)
    await bot.services.background.drain()

    running = await bot.services.admin.running_instances()

    assert [session.session_id for session in running] == [started.session_id]


async def test_only_an_operator_may_force_a_termination(bot: BotProcess) -> None:
    await bot.fund(1_000)
    started = await bot.services.sessions.start(member(manager=True), duration_minutes=60)

    with pytest.raises(NotAllowed):
        await bot.services.admin.terminate(member(manager=True), started.session_id)


async def test_terminating_an_unknown_session_is_not_found(bot: BotProcess) -> None:
    with pytest.raises(NotFound):
        await bot.services.admin.terminate(operator(), "no-such-session")


async def test_stream_history_gives_the_latest_events_oldest_first(bot: BotProcess) -> None:
    await bot.fund(1_000)
    started = await bot.services.sessions.start(member(), duration_minutes=60)
    await bot.services.background.drain()

    events = await bot.services.admin.stream_history(session_stream(started.session_id), 2)

    assert [(event.version, event.type) for event in events] == [
        (4, "InstanceReady"),
        (5, "NoticeDelivered"),
    ]


async def test_squadrons_are_the_guilds_rr_has_a_record_of(bot: BotProcess) -> None:
    assert await bot.services.admin.squadrons() == []
    await bot.fund(1_000, guild_id=OTHER_GUILD)
    await bot.services.squadrons.change_settings(member(manager=True), {"max_players": "32"})
    await bot.services.squadrons.balance("100000000000000003")

    assert await bot.services.admin.squadrons() == [GUILD, OTHER_GUILD]


async def test_prices_are_the_configured_pricing(bot: BotProcess) -> None:
    assert bot.services.admin.prices() == PRICING


async def test_reconcile_without_a_reconciler_says_so(bot: BotProcess) -> None:
    with pytest.raises(InvalidRequest, match="not available"):
        await bot.services.admin.reconcile()


async def test_reconcile_runs_the_attached_reconciler(bot: BotProcess) -> None:
    class Reconciler:
        async def reconcile(self) -> str:
            return "nothing to repair"

    bot.services.admin.reconciler = Reconciler()

    assert await bot.services.admin.reconcile() == "nothing to repair"


async def test_health_reports_the_store_view_and_scheduler(bot: BotProcess) -> None:
    await bot.fund(1_000)
    await bot.services.sessions.start(member(), duration_minutes=60)
    await bot.services.background.drain()

    class Scheduler:
        alive = True
        last_tick_at: datetime | None = START

    before = await bot.services.admin.health()
    bot.services.admin.scheduler = Scheduler()
    after = await bot.services.admin.health()

    assert (before.store_ok, before.scheduler_alive, before.running_instances) == (True, None, 1)
    assert before.view.events_applied >= 5
    assert after.ok and after.scheduler_alive
    assert "Running servers: 1" in str(after)


async def test_health_reports_an_unreachable_store(
    tmp_path: Path, clock: FakeClock, provider: FakeProvider
) -> None:
    store = eventstore.open(f"sqlite:///{tmp_path}/rr.db", clock=clock.now)
    bot = BotProcess(store, clock, provider)
    await bot.start()
    await store.close()

    health = await bot.services.admin.health()
    await bot.stop()

    assert not health.ok
    assert health.store_detail.startswith("unreachable")
