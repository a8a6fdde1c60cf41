"""Each squadron's data key: made on first need, kept wrapped in the key table, unwrapped once
per process and held in memory. Deleting it (``forget``) makes what it sealed unreadable.

A key deleted by another process stays in this one's memory until it restarts.
"""

import asyncio
import logging
import secrets
from dataclasses import dataclass, field

from bot.secrets.cipher import CannotOpen
from bot.secrets.keytable import KeyTable, WrappedKey
from bot.secrets.masters import MasterKey

log = logging.getLogger("rr.secrets")


@dataclass(frozen=True, slots=True)
class DataKey:
    key_id: str
    secret: bytes = field(repr=False)


class KeyRing:
    def __init__(self, master: MasterKey, table: KeyTable) -> None:
        self.master = master
        self.table = table
        self._keys: dict[str, DataKey] = {}
        self._gone: set[tuple[str, str]] = set()
        self._making = asyncio.Lock()

    async def for_sealing(self, squadron_id: str) -> DataKey:
        """The squadron's key, made and stored first if it has none."""
        key = self._keys.get(squadron_id)
        if key is not None:
            return key
        async with self._making:
            key = await self._load(squadron_id)
            if key is not None:
                return key
            made = await self.master.new_data_key(squadron_id)
            wrapped = WrappedKey(secrets.token_hex(8), made.wrapped)
            kept = await self.table.add(squadron_id, wrapped)
            if kept == wrapped:
                key = DataKey(kept.key_id, made.plaintext)
                self._keys[squadron_id] = key
                log.info("squadron key made", extra={"guild_id": squadron_id})
                return key
            loaded = await self._load(squadron_id)  # another process made one first
            if loaded is None:
                raise RuntimeError(f"The key of squadron {squadron_id} vanished as it was made.")
            return loaded

    async def for_opening(self, squadron_id: str, key_id: str) -> DataKey | None:
        """The key named ``key_id`` if the squadron still has it; None once it is forgotten."""
        key = self._keys.get(squadron_id)
        if key is not None and key.key_id == key_id:
            return key
        if (squadron_id, key_id) in self._gone:
            return None
        key = await self._load(squadron_id)
        if key is not None and key.key_id == key_id:
            return key
        self._gone.add((squadron_id, key_id))
        return None

    async def forget(self, squadron_id: str) -> bool:
        """Delete the squadron's key; False when it had none."""
        key = self._keys.pop(squadron_id, None)
        if key is not None:
            self._gone.add((squadron_id, key.key_id))
        deleted = await self.table.delete(squadron_id)
        log.info("squadron key deleted", extra={"guild_id": squadron_id, "had_key": deleted})
        return deleted

    async def _load(self, squadron_id: str) -> DataKey | None:
        wrapped = await self.table.get(squadron_id)
        if wrapped is None:
            return None
        try:
            secret = await self.master.unwrap(squadron_id, wrapped.wrapped)
        except CannotOpen:
            log.error(
                "squadron key does not unwrap with the master key; its secrets read as blank",
                extra={"guild_id": squadron_id, "master": self.master.name},
            )
            return None
        key = DataKey(wrapped.key_id, secret)
        self._keys[squadron_id] = key
        return key
