from collections.abc import AsyncIterator

import pytest

import eventstore
from tests.bot.services.fake_provider import FakeProvider
from tests.bot.services.harness import START, BotProcess
from tests.fakes.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def provider(clock: FakeClock) -> FakeProvider:
    return FakeProvider(clock)


@pytest.fixture
async def bot(clock: FakeClock, provider: FakeProvider) -> AsyncIterator[BotProcess]:
    """One bot process over a memory store and the fake cloud; the scheduler does not run."""
    store = eventstore.open("memory://", clock=clock.now)
    process = BotProcess(store, clock, provider)
    await process.start()
    yield process
    await process.stop()
    await store.close()
