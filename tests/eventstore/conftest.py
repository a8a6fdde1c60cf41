"""Fixtures for the event store suite: one store per backend and a fake clock.

The dynamodb runs use the shared moto server (``tests/fakes/moto_server.py``), which handles one
request at a time as DynamoDB's per-request atomicity needs.
"""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import pytest

import eventstore
from eventstore import EventStore
from tests.eventstore.support import FakeClock
from tests.fakes.moto_server import FAKE_AWS_ENV

BACKENDS = ["memory", "sqlite", "dynamodb"]
REGION = FAKE_AWS_ENV["AWS_DEFAULT_REGION"]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 28, 3, 15, 0, 123000, tzinfo=UTC))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_url(backend: str, request: pytest.FixtureRequest) -> str:
    """A URL naming a fresh, empty store of the backend under test."""
    if backend == "memory":
        return "memory://"
    if backend == "sqlite":
        tmp_path = request.getfixturevalue("tmp_path")
        return f"sqlite:///{tmp_path}/events.db"
    endpoint = request.getfixturevalue("moto_endpoint")
    return f"dynamodb://events-{uuid.uuid4().hex}?region={REGION}&endpoint_url={endpoint}"


OpenStore = Callable[..., Awaitable[EventStore]]


@pytest.fixture
async def open_store(store_url: str) -> AsyncIterator[OpenStore]:
    """Opens the store under test (again, for reopening tests); closes all at the end."""
    opened: list[EventStore] = []

    async def open_(clock: Callable[[], datetime] | None = None) -> EventStore:
        store = eventstore.open(store_url, clock=clock) if clock else eventstore.open(store_url)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        await store.close()


@pytest.fixture
async def store(open_store: OpenStore) -> EventStore:
    return await open_store()
