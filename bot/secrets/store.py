"""An event store that seals squadrons' secret settings on the way in and opens them on the way
out, so every reader (repositories, the view's feed, histories) sees the domain's events while
the store itself holds no secret in plain text."""

from collections.abc import AsyncIterator, Iterable
from dataclasses import replace

from bot.secrets.keyring import KeyRing
from bot.secrets.sealing import FIRST_SEALED_VERSION, SEALED_TYPE, open_settings, seal_settings
from eventstore import EventStore, Lease, NewEvent, Position, StoredEvent
from eventstore.codec import Batch
from eventstore.wrapping import WrappingStore

SQUADRON_PREFIX = "squadron#"


class SealingStore(WrappingStore):
    def __init__(self, inner: EventStore, keys: KeyRing) -> None:
        super().__init__(inner)
        self.keys = keys

    async def append_many(
        self,
        batches: Iterable[Batch],
        *,
        idempotency_key: str | None = None,
        fence: Lease | None = None,
    ) -> list[StoredEvent]:
        plain = [(stream, version, list(events)) for stream, version, events in batches]
        sealed = [
            (stream, version, [await self._seal(stream, event) for event in events])
            for stream, version, events in plain
        ]
        stored = await self.inner.append_many(sealed, idempotency_key=idempotency_key, fence=fence)
        written = [event for _, _, events in plain for event in events]
        return [replace(event, data=new.data) for event, new in zip(stored, written, strict=True)]

    async def read(self, stream_id: str, after_version: int = 0) -> AsyncIterator[StoredEvent]:
        async for event in self.inner.read(stream_id, after_version):
            yield await self._open(event)

    async def read_all(self, after: Position | None = None) -> AsyncIterator[StoredEvent]:
        async for event in self.inner.read_all(after):
            yield await self._open(event)

    async def _seal(self, stream_id: str, event: NewEvent) -> NewEvent:
        if event.type != SEALED_TYPE or event.schema_version < FIRST_SEALED_VERSION:
            return event
        guild_id = _guild_of(stream_id)
        key = await self.keys.for_sealing(guild_id)
        return replace(event, data=seal_settings(event.data, key, guild_id))

    async def _open(self, event: StoredEvent) -> StoredEvent:
        if event.type != SEALED_TYPE or event.schema_version < FIRST_SEALED_VERSION:
            return event
        guild_id = _guild_of(event.stream_id)
        key = await self.keys.for_opening(guild_id, event.data["sealed"]["key"])
        return replace(event, data=open_settings(event.data, key, guild_id))


def _guild_of(stream_id: str) -> str:
    if not stream_id.startswith(SQUADRON_PREFIX):
        raise ValueError(f"{SEALED_TYPE} belongs on a squadron stream, not {stream_id!r}.")
    return stream_id.removeprefix(SQUADRON_PREFIX)
