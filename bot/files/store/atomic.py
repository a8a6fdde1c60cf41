"""Writing a file so that it appears whole or not at all."""

import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from bot.files.store.keys import ObjectKey

INCOMING = ".incoming"
"""The folder under the store's root where files are written before they are renamed into place
(on the same file system, so the rename is atomic)."""


class AtomicWriter:
    """A file written under ``.incoming`` and renamed to its key's path on `commit`."""

    def __init__(self, root: Path, key: ObjectKey) -> None:
        self._target = root / key
        (root / INCOMING).mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=root / INCOMING)
        self._temp = Path(name)
        self._file: BinaryIO = os.fdopen(handle, "wb")
        self._committed = False

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)

    def commit(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self._temp, self._target)
        self._committed = True

    def discard(self) -> None:
        """Drop the temporary file unless committed; safe to call after `commit`."""
        if not self._committed:
            self._file.close()
            self._temp.unlink(missing_ok=True)
