"""rr's agent API, version 1, on the web app:

- ``GET  /agent/v1/sessions/{session_id}/files``: the launch's server files (base64, with each
  file's SHA-256), its downloads (short-lived links, with size and SHA-256), the last heartbeat
  sequence number accepted and the heartbeat interval (short while the server boots);
- ``POST /agent/v1/sessions/{session_id}/heartbeats``: a `Heartbeat` (with the debrief files
  uploaded since the last one); the reply carries the pending instructions and the interval
  (`AgentApi.interval_for` the state reported: short until the mission runs, and after
  instructions).

Every request carries ``Authorization: Bearer <credential>``. Refusals are JSON `ErrorReply`s,
decided before anything is recorded: 401 (no, malformed, unknown, revoked or expired
credential), 403 (the credential of another session), 429 (too many requests for the
credential; ``Retry-After``), 415/411/413 (not JSON, no length, too large), 400 (not a valid
heartbeat), 409 (a heartbeat already seen, with ``last_seq``), 404 (no files for the launch).
The credential is never logged.
"""

import base64
import hashlib
import logging
import math
from collections.abc import Awaitable, Callable

from aiohttp import web
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from bot.agentapi.api import AgentApi
from bot.agentapi.credentials import CredentialRefused, Grant
from bot.agentapi.heartbeats import Replayed
from bot.agentapi.schemas import (
    Download,
    ErrorReply,
    FilesReply,
    Heartbeat,
    HeartbeatReply,
    ServerFile,
)
from bot.agentapi.transfers import NoObjectStore
from eventstore import EventStoreError

log = logging.getLogger("rr.agentapi")

PREFIX = "/agent/v1"
FILES_PATH = PREFIX + "/sessions/{session_id}/files"
HEARTBEATS_PATH = PREFIX + "/sessions/{session_id}/heartbeats"
MAX_HEARTBEAT_BYTES = 64 * 1024
MAX_AUTHORIZATION_LENGTH = 256


class Refusal(Exception):
    def __init__(self, status: int, error: str, message: str, **extra: int) -> None:
        super().__init__(message)
        self.status = status
        self.reply = ErrorReply(error=error, message=message, **extra)
        self.headers: dict[str, str] = {}


Handler = Callable[[web.Request, Grant], Awaitable[web.Response]]


def agent_routes(api: AgentApi) -> Callable[[web.Application], None]:
    """The route registrar for `bot.entrypoints.web.create_web_app`."""

    def register(app: web.Application) -> None:
        app.router.add_get(FILES_PATH, _guarded(api, _files(api)))
        app.router.add_post(HEARTBEATS_PATH, _guarded(api, _heartbeat(api)))

    return register


def _guarded(api: AgentApi, handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Authenticate, check the session and the rate, then run ``handler``; refusals as JSON."""

    async def guarded(request: web.Request) -> web.Response:
        session_id = request.match_info["session_id"]
        try:
            grant = await _authenticate(api, request)
            if grant.session_id != session_id:
                raise Refusal(403, "wrong_session", "This credential is for another session.")
            wait = api.limiter.take(f"{grant.session_id}/{grant.attempt}")
            if wait > 0:
                refusal = Refusal(429, "rate_limited", "Too many requests; slow down.")
                refusal.headers["Retry-After"] = str(math.ceil(wait))
                raise refusal
            return await handler(request, grant)
        except Refusal as refusal:
            log.info(
                "agent request refused",
                extra={
                    "path": request.path,
                    "status": refusal.status,
                    "error": refusal.reply.error,
                },
            )
            return web.json_response(
                refusal.reply.model_dump(exclude_none=True),
                status=refusal.status,
                headers=refusal.headers,
            )

    return guarded


async def _authenticate(api: AgentApi, request: web.Request) -> Grant:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token or len(header) > MAX_AUTHORIZATION_LENGTH:
        refusal = Refusal(401, "unauthorized", "A Bearer credential is required.")
        refusal.headers["WWW-Authenticate"] = 'Bearer realm="rr-agent"'
        raise refusal
    try:
        return await api.credentials.verify(token.strip())
    except CredentialRefused as error:
        refusal = Refusal(401, "unauthorized", str(error))
        refusal.headers["WWW-Authenticate"] = 'Bearer realm="rr-agent", error="invalid_token"'
        raise refusal from None


def _files(api: AgentApi) -> Handler:
    async def files(_: web.Request, grant: Grant) -> web.Response:
        found = await api.files.files_for(grant.session_id, grant.attempt)
        if found is None:
            raise Refusal(404, "no_files", "rr has no server files for this launch.")
        reply = FilesReply(
            session_id=grant.session_id,
            attempt=grant.attempt,
            files=[
                ServerFile(
                    path=path,
                    content_base64=base64.b64encode(content).decode("ascii"),
                    sha256=hashlib.sha256(content).hexdigest(),
                )
                for path, content in sorted(found.items())
            ],
            downloads=await _downloads(api, grant),
            last_seq=api.heartbeats.last_seq(grant),
            interval_seconds=api.boot_interval_seconds,
        )
        return web.json_response(reply.model_dump())

    return files


async def _downloads(api: AgentApi, grant: Grant) -> list[Download]:
    try:
        return await api.transfers.downloads_for(grant)
    except (NoObjectStore, LookupError, BotoCoreError, ClientError):
        log.exception("the links to a launch's downloads could not be made")
        raise Refusal(
            503, "unavailable", "rr cannot make the download links now; try again."
        ) from None


def _heartbeat(api: AgentApi) -> Handler:
    async def heartbeat(request: web.Request, grant: Grant) -> web.Response:
        beat = await _read_heartbeat(request)
        try:
            await api.heartbeats.accept(grant, beat)
        except Replayed as replayed:
            raise Refusal(409, "replayed", str(replayed), last_seq=replayed.last_seq) from None
        except EventStoreError:
            log.exception("a server's state change could not be recorded")
            raise Refusal(503, "unavailable", "rr cannot record this now; try again.") from None
        try:
            await api.transfers.accept_uploaded(grant, beat.uploaded)
        except EventStoreError:
            log.exception("a server's debrief files could not be recorded")
            raise Refusal(503, "unavailable", "rr cannot record this now; try again.") from None
        api.instructions.acknowledge(grant.session_id, beat.acked)
        pending = api.instructions.pending(grant.session_id)
        reply = HeartbeatReply(
            instructions=pending,
            interval_seconds=api.interval_for(beat.state, instructed=bool(pending)),
        )
        return web.json_response(reply.model_dump(exclude_none=True))

    return heartbeat


async def _read_heartbeat(request: web.Request) -> Heartbeat:
    if request.content_type != "application/json":
        raise Refusal(415, "unsupported_media_type", "Send the heartbeat as application/json.")
    if request.content_length is None:
        raise Refusal(411, "length_required", "Send the heartbeat with a Content-Length.")
    if request.content_length > MAX_HEARTBEAT_BYTES:
        raise Refusal(413, "too_large", f"A heartbeat has at most {MAX_HEARTBEAT_BYTES:,} bytes.")
    body = await request.read()
    try:
        return Heartbeat.model_validate_json(body)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or 'body'}: {problem['msg']}"
            for problem in error.errors(include_input=False, include_url=False)[:10]
        )
        raise Refusal(400, "invalid_heartbeat", problems) from None
