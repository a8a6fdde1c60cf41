"""A refusal that rests on state another process may have changed is confirmed against the store
first: two processes over one store (memory, one SQLite file), the second one's cache and view
still from before the first one's grant."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import eventstore
from bot.domain.errors import InsufficientCredit
from bot.domain.session import SessionStatus
from eventstore import EventStore
from tests.bot.services.fake_provider import FakeProvider
from tests.bot.services.harness import GUILD, BotProcess, member
from tests.fakes.clock import FakeClock


@pytest.fixture(params=["memory", "sqlite"])
async def processes(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[list[BotProcess]]:
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path}/rr.db"
    store: EventStore = eventstore.open(url, clock=clock.now)
    cloud = FakeProvider(clock)
    both = [BotProcess(store, clock, cloud), BotProcess(store, clock, cloud)]
    for process in both:
        await process.start()
    yield both
    for process in both:
        await process.stop()
    await store.close()


async def test_a_start_refused_for_credit_is_granted_once_another_process_recorded_a_payment(
    processes: list[BotProcess],
) -> None:
    first, second = processes
    with pytest.raises(InsufficientCredit):  # the second process caches the squadron at $0
        await second.services.sessions.start(member(manager=True), duration_minutes=60)

    await first.fund(2_000)
    started = await second.services.sessions.start(member(manager=True), duration_minutes=60)

    assert started.status in (SessionStatus.BOOKED, SessionStatus.LAUNCHING)
    assert (await second.squadron_in_store()).available_cents == 2_000 - 240


async def test_a_quote_short_on_the_view_is_made_again_on_the_squadron_as_stored(
    processes: list[BotProcess],
) -> None:
    first, second = processes
    assert not (await second.services.sessions.quote(GUILD, "medium", 60)).can_go_ahead

    await first.fund(2_000)  # the second process's view hears of it at its next feed pass
    quote = await second.services.sessions.quote(GUILD, "medium", 60)

    assert quote.can_go_ahead and quote.available_cents == 2_000


async def test_a_refusal_confirmed_on_the_stored_squadron_still_refuses(
    processes: list[BotProcess],
) -> None:
    first, second = processes
    await first.fund(100)

    with pytest.raises(InsufficientCredit) as refused:
        await second.services.sessions.start(member(manager=True), duration_minutes=60)

    assert refused.value.available_cents == 100
    assert await second.types(f"squadron#{GUILD}") == await first.types(f"squadron#{GUILD}")
