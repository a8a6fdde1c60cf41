"""HMAC-signed, expiring link parameters for the local store's routes on rr's web app.

A link carries its key, its expiry (Unix seconds) and what it allows (download under a name, or
upload of at most so many bytes); the signature is HMAC-SHA256 over all of them with a key only
rr holds, so changing any part, or using a download link to upload, is refused. The signing key
comes from RR_FILES_SIGNING_KEY (so that every rr process accepts the others' links) or is made
at start-up; it is never logged.
"""

import hashlib
import hmac
from collections.abc import Callable
from datetime import datetime

from bot.files.store.keys import ObjectKey

MIN_KEY_BYTES = 32


class BadSignature(Exception):
    """The link was not made by rr, was changed, or has expired; ``str()`` says which."""


class LinkSigner:
    def __init__(self, key: bytes, now: Callable[[], datetime]) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"A signing key has at least {MIN_KEY_BYTES} bytes.")
        self._key = key
        self._now = now

    def __repr__(self) -> str:
        return "LinkSigner(key=[redacted])"

    def now(self) -> datetime:
        return self._now()

    def sign(self, action: str, key: ObjectKey, expires: int, detail: str) -> str:
        message = "\n".join((action, key, str(expires), detail)).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def verify(
        self, action: str, key: ObjectKey, expires: str, detail: str, signature: str
    ) -> None:
        """Raise `BadSignature` unless ``signature`` is rr's and ``expires`` is still ahead."""
        if not expires.isdigit() or len(expires) > 12:
            raise BadSignature("The link's expiry is not a time.")
        expected = self.sign(action, key, int(expires), detail)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise BadSignature("The link's signature does not match.")
        if self._now().timestamp() >= int(expires):
            raise BadSignature("The link has expired.")
