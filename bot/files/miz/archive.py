"""A .miz opened as a zip archive and checked before anything in it is unpacked."""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from bot.files.miz.errors import MizRejected
from bot.files.miz.limits import MB, MizLimits

MISSION = "mission"
DICTIONARY = "l10n/DEFAULT/dictionary"
_DATA_FILE = re.compile(r"mission|options|warehouses|l10n/[^/]+/(?:dictionary|mapResource)")

_DRIVE = re.compile(r"[A-Za-z]:")
_SEPARATORS = re.compile(r"[/\\]")
_AGAIN = "save the mission again from the DCS mission editor and upload that file"


class MizArchive:
    """The checked entries of one .miz; `chunks` unpacks one of them a piece at a time."""

    def __init__(self, file: BinaryIO, limits: MizLimits) -> None:
        size = file.seek(0, 2)
        if size > limits.max_file_bytes:
            raise MizRejected(
                f"This file is {_megabytes(size)} and rr accepts missions up to "
                f"{_megabytes(limits.max_file_bytes)}, so remove unused sounds or pictures "
                "from it in the mission editor."
            )
        file.seek(0)
        try:
            self._zip = zipfile.ZipFile(file)
        except (
            zipfile.BadZipFile,
            zipfile.LargeZipFile,
            ValueError,
            EOFError,
            OSError,
            NotImplementedError,  # a zip needing a newer version of the format than Python reads
        ):
            raise MizRejected(
                "This file is not a DCS mission: a .miz is a zip archive and this is not one, "
                "so upload the .miz file the mission editor saved."
            ) from None
        self._limits = limits
        self._entries = {info.filename: info for info in self._checked(size)}

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> MizArchive:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def names(self) -> list[str]:
        return list(self._entries)

    def has(self, name: str) -> bool:
        return name in self._entries

    def data_files(self) -> list[str]:
        """The files DCS loads as Lua data: the mission, its options, warehouses and texts."""
        return [name for name in self._entries if _DATA_FILE.fullmatch(name)]

    def chunks(self, name: str) -> Iterator[bytes]:
        """The entry's bytes, at most `chunk_bytes` at a time; a damaged entry is refused."""
        try:
            with self._zip.open(self._entries[name]) as stream:
                while chunk := stream.read(self._limits.chunk_bytes):
                    yield chunk
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError):
            raise MizRejected(
                f"The file {name!r} inside this .miz is damaged, so {_AGAIN}."
            ) from None

    def _checked(self, size: int) -> list[zipfile.ZipInfo]:
        limits = self._limits
        entries = self._zip.infolist()
        if len(entries) > limits.max_entries:
            raise MizRejected(
                f"This .miz holds {len(entries):,} files and rr accepts at most "
                f"{limits.max_entries:,}, so {_AGAIN}."
            )
        seen: set[str] = set()
        for info in entries:
            _check_entry(info, seen)
        unpacked = sum(info.file_size for info in entries)
        if unpacked > limits.max_unpacked_bytes:
            raise MizRejected(
                f"This .miz would unpack to {_megabytes(unpacked)} and rr accepts at most "
                f"{_megabytes(limits.max_unpacked_bytes)}, so remove unused files from it."
            )
        if unpacked > limits.max_compression_ratio * size:
            raise MizRejected(
                f"This .miz would unpack to {unpacked // max(size, 1):,} times its size, far more "
                f"than a mission does (rr accepts up to {limits.max_compression_ratio}), so "
                f"{_AGAIN}."
            )
        if MISSION not in seen:
            raise MizRejected(
                f"This .miz has no 'mission' file inside, so it is not a DCS mission; {_AGAIN}."
            )
        for info in entries:
            if _DATA_FILE.fullmatch(info.filename) and info.file_size > limits.max_mission_bytes:
                raise MizRejected(
                    f"The {info.filename!r} file inside this .miz is "
                    f"{_megabytes(info.file_size)} and rr reads at most "
                    f"{_megabytes(limits.max_mission_bytes)}, so make the mission smaller."
                )
        return entries


def _check_entry(info: zipfile.ZipInfo, seen: set[str]) -> None:
    name = info.filename
    parts = _SEPARATORS.split(name)
    if name.startswith(("/", "\\")) or _DRIVE.match(name) or ".." in parts:
        raise MizRejected(
            f"This .miz holds a file named {name!r}, which points outside the mission, "
            f"so rr refuses it; {_AGAIN}."
        )
    if name in seen:
        raise MizRejected(f"This .miz holds two files named {name!r}, so {_AGAIN}.")
    seen.add(name)
    if info.flag_bits & 0x1:
        raise MizRejected(
            f"The file {name!r} inside this .miz is password-protected, and DCS cannot read "
            f"it, so {_AGAIN}."
        )
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise MizRejected(
            f"The file {name!r} inside this .miz is packed in a way DCS cannot read, so {_AGAIN}."
        )


def _megabytes(size: int) -> str:
    return f"{size / MB:,.1f} MB"
