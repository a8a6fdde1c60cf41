"""Moving files through rr's short-lived links, with the standard library only.

Downloads (the session's mission, a campaign save) are streamed to a temporary file beside their
target, checked against the size and SHA-256 rr gave, and renamed into place, so DCS never sees
a partial or altered file. Uploads (the debrief) are ``multipart/form-data`` POSTs streamed from
disk: the link's fields first, in order, then the file as ``file`` (S3 ignores fields after the
file and refuses a form without its policy first).
"""

import hashlib
import logging
import os
import secrets
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from agent.files import BadFiles, safe_relative

log = logging.getLogger("rr.agent.transfers")

CHUNK_BYTES = 256 * 1024
MAX_DOWNLOAD_BYTES = 2 * 1024**3
"""The most one download may hold, whatever rr says (a mission is at most a few hundred MB)."""
TIMEOUT_SECONDS = 60.0
UPLOAD_FILE_FIELD = "file"
MAX_UNPACKED_FILES = 2000
MAX_UNPACKED_BYTES = 500 * 1000 * 1000
"""A save's bounds when unpacked, as rr checked it before keeping it."""
MAX_FIELD_LENGTH = 4096


class TransferFailed(Exception):
    """A download or upload did not complete; nothing partial is left behind."""


# --- downloads ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DownloadSpec:
    path: str
    url: str
    sha256: str
    size: int
    unpack_to: str | None = None


def parse_downloads(entries: Any) -> list[DownloadSpec]:
    """The downloads of a files reply, each checked for a safe path and a sane size."""
    if not isinstance(entries, list):
        raise BadFiles("The downloads are not a list.")
    found = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise BadFiles("A download is not an object.")
        path, url, sha256, size = (entry.get(k) for k in ("path", "url", "sha256", "size"))
        if not isinstance(path, str) or not safe_relative(path):
            raise BadFiles(f"The download path {path!r} is not a plain relative path.")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise BadFiles(f"{path}: the download link is not an HTTP(S) URL.")
        if not isinstance(sha256, str) or len(sha256) != 64:
            raise BadFiles(f"{path}: the download has no SHA-256.")
        if not isinstance(size, int) or not 0 <= size <= MAX_DOWNLOAD_BYTES:
            raise BadFiles(f"{path}: the download's size is not within 0 to 2 GiB.")
        unpack_to = entry.get("unpack_to")
        if unpack_to is not None and (
            not isinstance(unpack_to, str) or not safe_relative(unpack_to)
        ):
            raise BadFiles(f"{path}: the folder to unpack into is not a plain relative path.")
        found.append(DownloadSpec(path, url, sha256.lower(), size, unpack_to))
    return found


def unpack(root: Path, spec: DownloadSpec) -> int:
    """Unpack the downloaded zip at ``spec.path`` into ``spec.unpack_to`` (each file replaced
    in one step), then remove the zip; the number of files. `BadFiles` (nothing unpacked) for
    a name leaving the folder, too many files or too many bytes."""
    assert spec.unpack_to is not None
    archive_path = root.joinpath(*spec.path.split("/"))
    folder = root.joinpath(*spec.unpack_to.split("/"))
    try:
        with zipfile.ZipFile(archive_path) as archive:
            entries = [info for info in archive.infolist() if not info.is_dir()]
            if len(entries) > MAX_UNPACKED_FILES:
                raise BadFiles(f"{spec.path}: the save holds too many files.")
            if sum(info.file_size for info in entries) > MAX_UNPACKED_BYTES:
                raise BadFiles(f"{spec.path}: the save unpacks to too many bytes.")
            for info in entries:
                if not safe_relative(info.filename):
                    raise BadFiles(f"{spec.path}: the save holds a file named {info.filename!r}.")
            for info in entries:
                target = folder.joinpath(*info.filename.split("/"))
                target.parent.mkdir(parents=True, exist_ok=True)
                handle, partial = tempfile.mkstemp(dir=target.parent, prefix=target.name + ".")
                try:
                    with os.fdopen(handle, "wb") as file, archive.open(info) as source:
                        while chunk := source.read(CHUNK_BYTES):
                            file.write(chunk)
                    os.replace(partial, target)
                finally:
                    Path(partial).unlink(missing_ok=True)
    except (zipfile.BadZipFile, EOFError, ValueError) as error:
        raise BadFiles(f"{spec.path}: the save is not a readable zip ({error}).") from None
    archive_path.unlink()
    return len(entries)


def download(root: Path, spec: DownloadSpec) -> None:
    """GET ``spec.url`` into ``root/spec.path``; `TransferFailed` (nothing written) if the link
    fails or the bytes are not exactly ``spec.size`` bytes with ``spec.sha256``."""
    target = root.joinpath(*spec.path.split("/"))
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=target.parent, prefix=target.name + ".")
    try:
        with os.fdopen(handle, "wb") as file:
            digest = _fetch(spec, file)
        if digest != spec.sha256:
            raise TransferFailed(f"{spec.path}: the download does not match its SHA-256.")
        os.replace(partial, target)
    finally:
        Path(partial).unlink(missing_ok=True)


def _fetch(spec: DownloadSpec, file: BinaryIO) -> str:
    digest = hashlib.sha256()
    size = 0
    try:
        with urllib.request.urlopen(spec.url, timeout=TIMEOUT_SECONDS) as response:
            while chunk := response.read(CHUNK_BYTES):
                size += len(chunk)
                if size > spec.size:
                    raise TransferFailed(f"{spec.path}: the download is larger than announced.")
                digest.update(chunk)
                file.write(chunk)
    except urllib.error.HTTPError as error:
        with error:
            raise TransferFailed(f"{spec.path}: the link answered {error.code}.") from None
    except (OSError, ValueError) as error:
        raise TransferFailed(
            f"{spec.path}: the download failed ({type(error).__name__})."
        ) from None
    if size != spec.size:
        raise TransferFailed(f"{spec.path}: the download has {size} bytes, not {spec.size}.")
    return digest.hexdigest()


# --- uploads --------------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadedFile:
    kind: str
    name: str
    size: int
    sha256: str
    key: str

    def report(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "name": self.name,
            "size": self.size,
            "sha256": self.sha256,
            "key": self.key,
        }


def upload_all(root: Path, targets: Any, scratch: Path) -> list[UploadedFile]:
    """Upload what each target of an ``upload`` instruction names; a file that is too large or
    fails is logged and left out (rr records only what it finds in its store)."""
    uploaded: list[UploadedFile] = []
    for target in targets if isinstance(targets, list) else []:
        try:
            uploaded.extend(_upload_target(root, target, scratch))
        except (BadFiles, TransferFailed, OSError, ValueError) as error:
            log.warning("a debrief upload failed: %s", error)
    return uploaded


def _upload_target(root: Path, target: Any, scratch: Path) -> list[UploadedFile]:
    if not isinstance(target, dict):
        raise BadFiles("An upload target is not an object.")
    kind, pattern, max_bytes = target.get("kind"), target.get("pattern"), target.get("max_bytes")
    links = target.get("links")
    if not isinstance(kind, str) or not isinstance(pattern, str) or not safe_relative(pattern):
        raise BadFiles(f"The upload pattern {pattern!r} is not a plain relative path.")
    if not isinstance(max_bytes, int) or not isinstance(links, list):
        raise BadFiles(f"The {kind} upload has no size cap or no links.")
    if kind == "save":
        archive = _zip_folder(root.joinpath(*pattern.split("/")), scratch)
        files = [] if archive is None else [archive]
    else:
        files = newest(root, pattern)[: len(links)]
    uploaded = []
    for path, link in zip(files, links, strict=False):
        size = path.stat().st_size
        if size > max_bytes:
            log.warning("%s has %d bytes, over the cap of %d; not uploaded", path, size, max_bytes)
            continue
        sha256 = post_file(link.get("url"), link.get("fields"), path, size)
        name = path.name
        uploaded.append(UploadedFile(kind, name, size, sha256, str(link.get("key"))))
        log.info("uploaded %s (%d bytes)", name, size)
    return uploaded


def newest(root: Path, pattern: str) -> list[Path]:
    """Files under ``root`` matching ``pattern``, the most recently written first."""
    found = [path for path in root.glob(pattern) if path.is_file()]
    return sorted(found, key=lambda path: path.stat().st_mtime, reverse=True)


def _zip_folder(folder: Path, scratch: Path) -> Path | None:
    """The folder's files as ``scratch/<folder name>.zip``; None if it holds no file."""
    files = sorted(path for path in folder.rglob("*") if path.is_file()) if folder.is_dir() else []
    if not files:
        return None
    scratch.mkdir(parents=True, exist_ok=True)
    archive = scratch / f"{folder.name}.zip"
    with zipfile.ZipFile(
        archive, "w", compression=zipfile.ZIP_DEFLATED, strict_timestamps=False
    ) as zipped:
        for path in files:
            zipped.write(path, path.relative_to(folder).as_posix())
    return archive


def post_file(url: Any, fields: Any, path: Path, size: int) -> str:
    """POST ``fields`` and the file at ``path`` as multipart/form-data, streamed; the file's
    SHA-256 (of the bytes sent). `TransferFailed` unless the store answers 2xx."""
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise TransferFailed("The upload link is not an HTTP(S) URL.")
    if not isinstance(fields, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in fields.items()
    ):
        raise TransferFailed("The upload link's fields are not text.")
    boundary = "rr-" + secrets.token_hex(16)
    head = form_head(boundary, fields, path.name)
    tail = f"\r\n--{boundary}--\r\n".encode()
    digest = hashlib.sha256()
    request = urllib.request.Request(url, data=_body(head, path, digest, tail), method="POST")
    request.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
    request.add_header("Content-Length", str(len(head) + size + len(tail)))
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            response.read(64 * 1024)
    except urllib.error.HTTPError as error:
        with error:
            raise TransferFailed(f"The store refused {path.name} ({error.code}).") from None
    except (OSError, ValueError) as error:
        raise TransferFailed(f"{path.name} was not sent ({type(error).__name__}).") from None
    return digest.hexdigest()


def form_head(boundary: str, fields: Mapping[str, str], filename: str) -> bytes:
    """Every field's part, then the file part's header (its bytes follow)."""
    parts = []
    for name, value in fields.items():
        if len(value) > MAX_FIELD_LENGTH or any(ch in name for ch in '"\r\n'):
            raise TransferFailed(f"The upload field {name[:40]!r} cannot be sent.")
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        )
    quoted = filename.replace("\\", "_").replace('"', "_").replace("\r", "_").replace("\n", "_")
    parts.append(
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{UPLOAD_FILE_FIELD}"; filename="{quoted}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    )
    return "".join(parts).encode("utf-8")


def _body(head: bytes, path: Path, digest: "hashlib._Hash", tail: bytes) -> Iterator[bytes]:
    yield head
    with path.open("rb") as file:
        while chunk := file.read(CHUNK_BYTES):
            digest.update(chunk)
            yield chunk
    yield tail
