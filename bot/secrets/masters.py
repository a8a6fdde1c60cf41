"""Master keys: what wraps each squadron's data key. A local key file, or AWS KMS.

Both make a fresh data key with its wrapped form, and unwrap a wrapped one; the squadron's id
is bound to the wrapped key (associated data locally, KMS's encryption context), so a wrapped
key moved to another squadron does not unwrap. boto3 runs off the event loop.
"""

import asyncio
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from bot.secrets.cipher import KEY_BYTES, CannotOpen, new_key, open_box, seal

_CONTEXT_KEY = "rr:squadron"
_NOT_THIS_KEYS = frozenset(
    {"InvalidCiphertextException", "IncorrectKeyException", "NotFoundException"}
)
"""KMS's answers that the wrapped key will never unwrap: another key or context, or no such
master key. Others (throttled, disabled, pending deletion, denied) may pass and are raised."""


@dataclass(frozen=True, slots=True)
class NewDataKey:
    plaintext: bytes = field(repr=False)
    wrapped: bytes


class MasterKey(ABC):
    name: str
    """What the key is, for the start-up log (never the key itself)."""

    @abstractmethod
    async def new_data_key(self, squadron_id: str) -> NewDataKey:
        """A fresh 256-bit data key for the squadron, with its wrapped form to store."""

    @abstractmethod
    async def unwrap(self, squadron_id: str, wrapped: bytes) -> bytes:
        """The data key; `CannotOpen` when this master key did not wrap it for this squadron."""


class FileMasterKey(MasterKey):
    """32 random bytes in a file, created with mode 0600 the first time it is needed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"file {path}"
        self._key: bytes | None = None

    async def new_data_key(self, squadron_id: str) -> NewDataKey:
        master = await self._master()
        key = new_key()
        return NewDataKey(key, seal(master, key, _associated(squadron_id)))

    async def unwrap(self, squadron_id: str, wrapped: bytes) -> bytes:
        return open_box(await self._master(), wrapped, _associated(squadron_id))

    async def _master(self) -> bytes:
        if self._key is None:
            self._key = await asyncio.to_thread(_read_or_create, self.path)
        return self._key


def _read_or_create(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_bytes()
        if len(key) != KEY_BYTES:
            raise ValueError(
                f"The secrets key file {path} holds {len(key)} bytes, not {KEY_BYTES}."
            ) from None
        return key
    key = new_key()
    with os.fdopen(descriptor, "wb") as file:
        file.write(key)
        file.flush()
        os.fsync(file.fileno())
    return key


def _associated(squadron_id: str) -> bytes:
    return f"rr data key for squadron {squadron_id}".encode()


class KmsMasterKey(MasterKey):
    """An AWS KMS symmetric key: GenerateDataKey makes data keys, Decrypt unwraps them."""

    def __init__(self, client: Any, key_id: str) -> None:
        self._client = client
        self._key_id = key_id
        self.name = f"kms {key_id}"

    async def new_data_key(self, squadron_id: str) -> NewDataKey:
        answer = await asyncio.to_thread(
            self._client.generate_data_key,
            KeyId=self._key_id,
            KeySpec="AES_256",
            EncryptionContext={_CONTEXT_KEY: squadron_id},
        )
        return NewDataKey(answer["Plaintext"], answer["CiphertextBlob"])

    async def unwrap(self, squadron_id: str, wrapped: bytes) -> bytes:
        try:
            answer = await asyncio.to_thread(
                self._client.decrypt,
                KeyId=self._key_id,
                CiphertextBlob=wrapped,
                EncryptionContext={_CONTEXT_KEY: squadron_id},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _NOT_THIS_KEYS:
                raise CannotOpen("KMS refused to unwrap the data key") from None
            raise
        plaintext: bytes = answer["Plaintext"]
        return plaintext
