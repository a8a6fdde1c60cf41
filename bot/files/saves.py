"""Checking a campaign save (a zip a server sent back) before rr keeps it for the next session.

A save comes from a server the squadron controls and goes back to the next one, where the agent
unpacks it into the mission's save folder: a zip whose names stay inside that folder, with the
same bounds as an uploaded mission on entries, unpacked size and compression ratio (zip bombs).
Only the central directory is read; nothing is unpacked here.
"""

import io
import re
import zipfile

from bot.files.miz.limits import MizLimits

_DRIVE = re.compile(r"[A-Za-z]:")
_PART = re.compile(r"[^/\\\x00-\x1f]{1,255}")


class SaveRejected(Exception):
    """The save cannot be kept; ``str()`` says why in one sentence."""


def check_save(data: bytes, limits: MizLimits) -> list[str]:
    """The file names in the save; `SaveRejected` if it is not a zip rr would unpack."""
    if len(data) > limits.max_file_bytes:
        raise SaveRejected(f"The save has {len(data):,} bytes, more than rr keeps.")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
        raise SaveRejected("The save is not a zip archive.") from None
    if len(entries) > limits.max_entries:
        raise SaveRejected(f"The save holds {len(entries):,} files, more than rr unpacks.")
    names = []
    for info in entries:
        if info.is_dir():
            continue
        parts = info.filename.split("/")
        if (
            info.filename.startswith("/")
            or _DRIVE.match(info.filename)
            or any(part in ("", ".", "..") or not _PART.fullmatch(part) for part in parts)
        ):
            raise SaveRejected(f"The save holds a file named {info.filename[:80]!r}.")
        if info.flag_bits & 0x1 or info.compress_type not in (
            zipfile.ZIP_STORED,
            zipfile.ZIP_DEFLATED,
        ):
            raise SaveRejected(f"The save's file {info.filename[:80]!r} cannot be unpacked.")
        names.append(info.filename)
    if len(set(names)) != len(names):
        raise SaveRejected("The save holds two files of one name.")
    unpacked = sum(info.file_size for info in entries)
    if unpacked > limits.max_unpacked_bytes or unpacked > limits.max_compression_ratio * max(
        len(data), 1
    ):
        raise SaveRejected("The save would unpack to far more than a save holds.")
    return names
