from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import eventstore
from bot.entrypoints.web import WebServer, create_web_app
from bot.files.store import LocalObjectStore
from bot.files.store.signing import LinkSigner
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


@pytest.fixture
async def objects(bot: BotProcess, tmp_path: Path) -> AsyncIterator[LocalObjectStore]:
    """The local object store behind a web app of its own, attached to the agent API."""
    web = WebServer("127.0.0.1", 0)
    store = LocalObjectStore(
        tmp_path / "files", LinkSigner(b"k" * 32, bot.clock.now), f"http://127.0.0.1:{web.port}"
    )
    await web.start(create_web_app(health={}, routes=store.web_routes()))
    bot.services.agents.transfers.attach(store)
    yield store
    await web.stop()
