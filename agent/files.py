"""Writing the server's files exactly as rr sent them, under the DCS write folder."""

import base64
import binascii
import hashlib
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any


class BadFiles(Exception):
    """rr's files cannot be written as they are (a path leaving the root, a wrong checksum)."""


def decode_files(entries: Iterable[Mapping[str, Any]]) -> dict[str, bytes]:
    """{relative path: bytes} from the files reply, each checked against its SHA-256."""
    files: dict[str, bytes] = {}
    for entry in entries:
        path = entry.get("path")
        if not isinstance(path, str) or not safe_relative(path):
            raise BadFiles(f"The file path {path!r} is not a plain relative path.")
        try:
            content = base64.b64decode(str(entry.get("content_base64")), validate=True)
        except binascii.Error:
            raise BadFiles(f"{path}: the content is not base64.") from None
        if hashlib.sha256(content).hexdigest() != entry.get("sha256"):
            raise BadFiles(f"{path}: the content does not match its SHA-256.")
        files[path] = content
    return files


def safe_relative(path: str) -> bool:
    parts = PurePosixPath(path).parts
    return (
        bool(path)
        and not path.startswith("/")
        and "\\" not in path
        and ":" not in path
        and all(part not in ("", ".", "..") for part in parts)
        and path == "/".join(parts)
    )


def write_files(root: Path, files: Mapping[str, bytes]) -> None:
    """Write every file byte for byte; each replaces the old one in one step."""
    for relative, content in files.items():
        if not safe_relative(relative):
            raise BadFiles(f"The file path {relative!r} is not a plain relative path.")
        target = root.joinpath(*relative.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, partial = tempfile.mkstemp(dir=target.parent, prefix=target.name + ".")
        with os.fdopen(handle, "wb") as file:
            file.write(content)
        os.replace(partial, target)
