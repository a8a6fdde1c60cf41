"""Object keys: the only names the stores accept, safe as S3 keys and as relative file paths.

A key is ``/``-separated segments of letters, digits, ``.``, ``_`` and ``-``, each starting with
a letter or digit, so no segment is empty, ``.`` or ``..``, and no key is absolute or holds a
backslash: a key from a URL can never name a file outside the local store's folder.
"""

import re
from typing import Self

_SEGMENT = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
_KEY = re.compile(rf"{_SEGMENT}(/{_SEGMENT}){{0,7}}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_SQUADRON = re.compile(r"[0-9]{1,20}")
MAX_KEY_LENGTH = 512


class InvalidKey(ValueError):
    """A key (or a part of one) that the stores refuse; ``str()`` says why."""


class ObjectKey(str):
    """A validated key, relative to the store's prefix or folder."""

    __slots__ = ()

    def __new__(cls, value: str) -> Self:
        if len(value) > MAX_KEY_LENGTH or not _KEY.fullmatch(value):
            raise InvalidKey(
                f"{value[:80]!r} is not an object key: up to 8 '/'-separated parts of letters, "
                "digits, '.', '_' and '-', each starting with a letter or digit."
            )
        return super().__new__(cls, value)

    @classmethod
    def content(cls, squadron_id: str, sha256: str) -> Self:
        """Where a squadron's file with this SHA-256 lives: the same bytes, the same key."""
        if not _SHA256.fullmatch(sha256):
            raise InvalidKey(f"{sha256[:80]!r} is not a lower-case hex SHA-256.")
        return cls(f"squadrons/{_squadron_id(squadron_id)}/sha256/{sha256}")

    @classmethod
    def debrief(cls, squadron_id: str, session_id: str, name: str) -> Self:
        """Where a file a server uploads at a session's end lives (a Tacview, a track, a log):
        under ``debriefs/``, so that one S3 lifecycle rule on that prefix expires them all."""
        return cls(f"debriefs/{_squadron_id(squadron_id)}/{session_id}/{name}")


def _squadron_id(squadron_id: str) -> str:
    if not _SQUADRON.fullmatch(squadron_id):
        raise InvalidKey(f"{squadron_id[:80]!r} is not a squadron (guild) id.")
    return squadron_id
