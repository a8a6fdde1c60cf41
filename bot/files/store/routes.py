"""The local store's links on rr's web app:

- ``GET /files/v1/objects/{key}?expires=…[&filename=…]&signature=…`` streams the object
  (``Content-Disposition: attachment`` under ``filename`` when given);
- ``POST /files/v1/upload``, ``multipart/form-data`` with the link's fields (``key``,
  ``expires``, ``max_bytes``, ``signature``) and then the ``file``, stores the file at the key,
  whole or not at all.

Refusals are JSON ``{"error", "message"}``, decided before anything is written: 400 (a bad key
or form), 403 (a signature that does not match, or an expired link), 404 (no such object),
413 (more than the link's ``max_bytes``), 415 (not a multipart form). Links are capabilities:
their query strings and fields are never logged.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import BodyPartReader, MultipartReader, web

from bot.files.store.atomic import AtomicWriter
from bot.files.store.base import UPLOAD_FILE_FIELD, content_disposition
from bot.files.store.keys import InvalidKey, ObjectKey
from bot.files.store.signing import BadSignature, LinkSigner
from bot.routes import RouteRegistrar

log = logging.getLogger("rr.files")

PREFIX = "/files/v1"
OBJECTS_PREFIX = PREFIX + "/objects/"
UPLOAD_PATH = PREFIX + "/upload"
UPLOAD_FIELDS = ("key", "expires", "max_bytes", "signature")
MAX_FIELD_BYTES = 1024
FORM_OVERHEAD_BYTES = 16 * 1024
"""What a form may hold beyond its file: the fields, the boundaries and the part headers."""
CHUNK_BYTES = 256 * 1024


class Refusal(Exception):
    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error


def file_routes(root: Path, signer: LinkSigner) -> RouteRegistrar:
    """The route registrar for the web app, serving the store under ``root``."""

    def register(app: web.Application) -> None:
        app.router.add_get(OBJECTS_PREFIX + "{key:.+}", _refusing(_download(root, signer)))
        app.router.add_post(UPLOAD_PATH, _refusing(_upload(root, signer)))

    return register


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _refusing(handler: Handler) -> Handler:
    async def refusing(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except Refusal as refusal:
            log.info(
                "file request refused",
                extra={"method": request.method, "status": refusal.status, "error": refusal.error},
            )
            return web.json_response(
                {"error": refusal.error, "message": str(refusal)}, status=refusal.status
            )

    return refusing


def _download(root: Path, signer: LinkSigner) -> Handler:
    async def download(request: web.Request) -> web.StreamResponse:
        key = _key(request.match_info["key"])
        query = request.query
        filename = query.get("filename", "")
        _verify(signer, "GET", key, query.get("expires", ""), filename, query.get("signature", ""))
        path = root / key
        if not await asyncio.to_thread(path.is_file):
            raise Refusal(404, "not_found", "There is no such file (any more).")
        headers = {"Content-Disposition": content_disposition(filename)} if filename else {}
        return web.FileResponse(path, headers=headers)

    return download


def _upload(root: Path, signer: LinkSigner) -> Handler:
    async def upload(request: web.Request) -> web.StreamResponse:
        if request.content_type != "multipart/form-data":
            raise Refusal(415, "unsupported_media_type", "Send the file as multipart/form-data.")
        reader = await request.multipart()
        fields, file = await _fields_then_file(reader)
        key = _key(fields["key"])
        if not fields["max_bytes"].isdigit() or len(fields["max_bytes"]) > 15:
            raise Refusal(400, "bad_form", "max_bytes is not a number.")
        _verify(signer, "POST", key, fields["expires"], fields["max_bytes"], fields["signature"])
        max_bytes = int(fields["max_bytes"])
        length = request.content_length
        if length is not None and length > max_bytes + FORM_OVERHEAD_BYTES:
            raise _too_large(max_bytes)
        await _store(root, key, file, max_bytes)
        log.info("file uploaded", extra={"key": key})
        return web.Response(status=204)

    return upload


async def _fields_then_file(reader: MultipartReader) -> tuple[dict[str, str], BodyPartReader]:
    """The link's fields, which must all come before the file, and the file's part."""
    fields: dict[str, str] = {}
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise Refusal(400, "bad_form", "A nested multipart part is not a field.")
        if part.name == UPLOAD_FILE_FIELD:
            missing = [name for name in UPLOAD_FIELDS if name not in fields]
            if missing:
                raise Refusal(400, "bad_form", f"The form lacks {', '.join(missing)} before file.")
            return fields, part
        if part.name not in UPLOAD_FIELDS or part.name in fields:
            raise Refusal(400, "bad_form", f"Unexpected form field {str(part.name)[:40]!r}.")
        fields[part.name] = await _field(part, part.name)
    raise Refusal(400, "bad_form", "The form has no file.")


async def _field(part: BodyPartReader, name: str) -> str:
    value = b""
    while not part.at_eof():
        value += await part.read_chunk(MAX_FIELD_BYTES)
        if len(value) > MAX_FIELD_BYTES:
            raise Refusal(400, "bad_form", f"The field {name} is too long.")
    try:
        return value.decode("ascii")
    except UnicodeDecodeError:
        raise Refusal(400, "bad_form", f"The field {name} is not ASCII.") from None


async def _store(root: Path, key: ObjectKey, file: BodyPartReader, max_bytes: int) -> None:
    writer = await asyncio.to_thread(AtomicWriter, root, key)
    try:
        size = 0
        while chunk := await file.read_chunk(CHUNK_BYTES):
            size += len(chunk)
            if size > max_bytes:
                raise _too_large(max_bytes)
            await asyncio.to_thread(writer.write, chunk)
        await asyncio.to_thread(writer.commit)
    finally:
        await asyncio.to_thread(writer.discard)


def _key(text: str) -> ObjectKey:
    try:
        return ObjectKey(text)
    except InvalidKey as error:
        raise Refusal(400, "bad_key", str(error)) from None


def _verify(
    signer: LinkSigner, action: str, key: ObjectKey, expires: str, detail: str, signature: str
) -> None:
    try:
        signer.verify(action, key, expires, detail, signature)
    except BadSignature as error:
        raise Refusal(403, "forbidden", str(error)) from None


def _too_large(max_bytes: int) -> Refusal:
    return Refusal(413, "too_large", f"This link takes a file of at most {max_bytes:,} bytes.")
