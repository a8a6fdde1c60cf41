"""Small helpers shared by the event store tests."""

from collections.abc import AsyncIterator, Iterable
from datetime import datetime, timedelta

from eventstore import EventStore, StoredEvent


class FakeClock:
    """A settable UTC clock; ``advance`` moves it, nothing ever sleeps."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


async def collect(events: AsyncIterator[StoredEvent]) -> list[StoredEvent]:
    return [event async for event in events]


def keys(events: Iterable[StoredEvent]) -> list[tuple[str, int]]:
    return [(event.stream_id, event.version) for event in events]


async def current_version(store: EventStore, stream_id: str, known: int = 0) -> int:
    async for event in store.read(stream_id, after_version=known):
        known = event.version
    return known
