"""Using links the way a server's agent or a member's browser does: plain HTTP."""

import aiohttp

from bot.files.store import UploadLink


async def upload(link: UploadLink, data: bytes, fields: dict[str, str] | None = None) -> int:
    """POST the link's form (or ``fields`` in its place) with ``data`` as the file; the status."""
    form = aiohttp.FormData()
    for name, value in (link.fields if fields is None else fields).items():
        form.add_field(name, value)
    form.add_field("file", data, filename="upload.bin", content_type="application/octet-stream")
    async with aiohttp.ClientSession() as http, http.post(link.url, data=form) as reply:
        await reply.read()
        return reply.status


async def download(url: str) -> tuple[int, bytes, str]:
    """GET a link: the status, the body and the Content-Disposition header ('' if none)."""
    async with aiohttp.ClientSession() as http, http.get(url) as reply:
        return reply.status, await reply.read(), reply.headers.get("Content-Disposition", "")
