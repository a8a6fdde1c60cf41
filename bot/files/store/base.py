"""What every object store offers: bytes by key, and short-lived links to move them directly.

The bytes of squadrons' files live in the store; what rr knows about them (names, owners,
sizes) is events. Links let a server or a member move a file without it passing through rr:
a download link is a URL to GET; an upload link is a URL to POST a ``multipart/form-data``
form to, with ``fields`` first (in order) and the file last as the ``file`` field — the same
shape for S3 (a presigned POST) and the local store (rr's own route), so the agent has one way.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from urllib.parse import quote

from bot.files.store.keys import ObjectKey
from bot.routes import RouteRegistrar

MAX_LINK_LIFETIME = timedelta(days=7)
"""The longest a link may live: S3's limit for a presigned (SigV4) request."""
UPLOAD_FILE_FIELD = "file"
DIGEST_CHUNK_BYTES = 1024 * 1024


class ObjectNotFound(LookupError):
    """No object at that key."""


@dataclass(frozen=True)
class ObjectInfo:
    key: ObjectKey
    size: int


@dataclass(frozen=True)
class UploadLink:
    """POST ``fields`` then the file (as ``file``, at most ``max_bytes``) to ``url`` before
    ``expires_at``; a larger file is refused and nothing is stored."""

    url: str
    fields: Mapping[str, str]
    max_bytes: int
    expires_at: datetime


class ObjectStore(Protocol):
    @property
    def location(self) -> str:
        """Where the objects live, for the start-up log (no credentials)."""
        ...

    async def put(self, squadron_id: str, data: bytes) -> ObjectInfo:
        """Store ``data`` under the squadron's content key; storing it again changes nothing."""
        ...

    async def head(self, key: ObjectKey) -> ObjectInfo | None:
        """The object's size, or None when there is none."""
        ...

    async def get(self, key: ObjectKey) -> bytes:
        """The object's bytes; raises `ObjectNotFound`."""
        ...

    async def sha256(self, key: ObjectKey) -> str | None:
        """The SHA-256 of the object's bytes (read in chunks), or None when there is none:
        how rr checks what a server says it uploaded."""
        ...

    async def delete(self, key: ObjectKey) -> None:
        """Remove the object; removing one that is not there is not an error."""
        ...

    async def download_link(
        self, key: ObjectKey, expires_in: timedelta, filename: str | None = None
    ) -> str:
        """A URL that GETs the object until ``expires_in`` from now; with ``filename`` the
        browser saves it under that name."""
        ...

    async def upload_link(
        self, key: ObjectKey, max_bytes: int, expires_in: timedelta
    ) -> UploadLink:
        """A form that stores one file of at most ``max_bytes`` at ``key`` until ``expires_in``
        from now."""
        ...

    def web_routes(self) -> Sequence[RouteRegistrar]:
        """The routes rr's web app serves for this store's links (none for S3)."""
        ...

    async def close(self) -> None: ...


def check_lifetime(expires_in: timedelta) -> None:
    if not timedelta(0) < expires_in <= MAX_LINK_LIFETIME:
        raise ValueError(f"A link lives more than 0 s and at most 7 days, not {expires_in}.")


def check_max_bytes(max_bytes: int) -> None:
    if max_bytes < 1:
        raise ValueError(f"An upload may hold at least 1 byte, not {max_bytes}.")


def content_disposition(filename: str) -> str:
    """``attachment`` with the name in RFC 6266 form (UTF-8, percent-encoded)."""
    check_filename(filename)
    return f"attachment; filename*=UTF-8''{quote(filename, safe='')}"


def check_filename(filename: str) -> None:
    if (
        not filename
        or len(filename) > 255
        or any(ch in filename for ch in '/\\"')
        or not filename.isprintable()
    ):
        raise ValueError(
            f"{filename[:80]!r} is not a file name: 1 to 255 printable characters without "
            "'/', '\\' or '\"'."
        )
