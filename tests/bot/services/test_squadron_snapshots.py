"""A squadron loaded from its snapshot on SQLite: the same state as folding every event, secrets
read from their (sealed) settings event, and only the tail read besides."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import eventstore
from bot.domain import squadron as sq
from bot.domain.actor import Actor
from bot.domain.squadron import squadron_stream
from bot.services.streams import decide_squadron, squadron_repository
from eventstore import EventStore, Repository, StoredEvent

GUILD = "7"
STREAM = squadron_stream(GUILD)
MANAGER = Actor("43", GUILD, is_manager=True)
OPERATOR = Actor("1", None, is_operator=True, source="admin")
PASSWORD = "hunter2-secret"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[EventStore]:
    async with eventstore.open(f"sqlite:///{tmp_path}/events.db") as opened:
        yield opened


async def write_history(store: EventStore, grants: int) -> None:
    version = 0
    settings = sq.ChangeSettings(actor=MANAGER, changes={"password": PASSWORD})
    version = await store.append(STREAM, version, decide_squadron(settings, sq.initial_squadron))
    granting = sq.GrantCredits(actor=OPERATOR, amount=100, reason="r")
    grant = decide_squadron(granting, sq.initial_squadron)
    for _ in range(grants // 50):
        version = await store.append(STREAM, version, grant * 50)


async def test_a_squadron_loads_from_its_snapshot_as_from_its_events(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await write_history(store, 1_200)
    folded = await Repository(store, sq.evolve, sq.initial_squadron).load(STREAM)
    await squadron_repository(store).load(STREAM)
    read: list[StoredEvent] = []
    plain_read = store.read

    async def counted(stream_id: str, after_version: int = 0) -> AsyncIterator[StoredEvent]:
        async for event in plain_read(stream_id, after_version):
            read.append(event)
            yield event

    monkeypatch.setattr(store, "read", counted)

    loaded = await squadron_repository(store).load(STREAM)

    assert loaded == folded
    assert loaded[0].settings.value("password") == PASSWORD
    assert [event.version for event in read][:1] == [1]
    assert len(read) < 1 + 500
