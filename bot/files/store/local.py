"""The local-folder object store (the default): one file per key under a root folder.

Links point at rr's own web app (`bot.files.store.routes`), signed with `LinkSigner`. Every
write goes to a temporary file in ``<root>/.incoming`` and is renamed into place once complete
and synced, so a reader never sees half a file and a refused or broken upload leaves nothing.
File work runs off the event loop.
"""

import asyncio
import hashlib
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

from bot.files.store.atomic import AtomicWriter
from bot.files.store.base import (
    ObjectInfo,
    ObjectNotFound,
    UploadLink,
    check_filename,
    check_lifetime,
    check_max_bytes,
)
from bot.files.store.keys import ObjectKey
from bot.files.store.routes import OBJECTS_PREFIX, UPLOAD_PATH, file_routes
from bot.files.store.signing import LinkSigner
from bot.routes import RouteRegistrar


class LocalObjectStore:
    def __init__(self, root: Path, signer: LinkSigner, base_url: str) -> None:
        """``base_url`` is where servers and members reach rr's web app (RR_PUBLIC_URL)."""
        self.root = root
        self.signer = signer
        self._base_url = base_url.rstrip("/")

    @property
    def location(self) -> str:
        return f"file://{self.root}"

    def path(self, key: ObjectKey) -> Path:
        return self.root / key

    async def put(self, squadron_id: str, data: bytes) -> ObjectInfo:
        key = ObjectKey.content(squadron_id, hashlib.sha256(data).hexdigest())
        await asyncio.to_thread(self._put, key, data)
        return ObjectInfo(key, len(data))

    def _put(self, key: ObjectKey, data: bytes) -> None:
        if self.path(key).is_file():
            return
        writer = AtomicWriter(self.root, key)
        try:
            writer.write(data)
            writer.commit()
        finally:
            writer.discard()

    async def head(self, key: ObjectKey) -> ObjectInfo | None:
        try:
            stat = await asyncio.to_thread(self.path(key).stat)
        except (FileNotFoundError, NotADirectoryError):
            return None
        return ObjectInfo(key, stat.st_size)

    async def get(self, key: ObjectKey) -> bytes:
        try:
            return await asyncio.to_thread(self.path(key).read_bytes)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ObjectNotFound(key) from None

    async def sha256(self, key: ObjectKey) -> str | None:
        def digest() -> str:
            with self.path(key).open("rb") as file:
                return hashlib.file_digest(file, "sha256").hexdigest()

        try:
            return await asyncio.to_thread(digest)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None

    async def delete(self, key: ObjectKey) -> None:
        await asyncio.to_thread(self.path(key).unlink, missing_ok=True)

    async def download_link(
        self, key: ObjectKey, expires_in: timedelta, filename: str | None = None
    ) -> str:
        check_lifetime(expires_in)
        if filename is not None:
            check_filename(filename)
        expires = int((self.signer.now() + expires_in).timestamp())
        name = filename or ""
        query = {"expires": str(expires), "filename": name} if name else {"expires": str(expires)}
        query["signature"] = self.signer.sign("GET", key, expires, name)
        return f"{self._base_url}{OBJECTS_PREFIX}{quote(key)}?{urlencode(query)}"

    async def upload_link(
        self, key: ObjectKey, max_bytes: int, expires_in: timedelta
    ) -> UploadLink:
        check_lifetime(expires_in)
        check_max_bytes(max_bytes)
        expires_at = self.signer.now() + expires_in
        expires = int(expires_at.timestamp())
        fields = {
            "key": key,
            "expires": str(expires),
            "max_bytes": str(max_bytes),
            "signature": self.signer.sign("POST", key, expires, str(max_bytes)),
        }
        return UploadLink(f"{self._base_url}{UPLOAD_PATH}", fields, max_bytes, expires_at)

    def web_routes(self) -> Sequence[RouteRegistrar]:
        return [file_routes(self.root, self.signer)]

    async def close(self) -> None:
        return None
