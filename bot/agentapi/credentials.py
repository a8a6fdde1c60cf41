"""Credentials minted per launch: ``rr1.<session id>.<32 random bytes, base64url>``.

rr keeps only the SHA-256 of the 32 bytes, as an event on the session's agent stream; the token
itself goes to the server (in its user data) and nowhere else. A credential works while its
session is active, for the launch it was minted for (a new launch's credential replaces it),
until it is revoked.

Checking a token costs no store read for a session that is not active: the session's activity
(the view, in memory) is asked first, so made-up tokens cannot make rr read streams. A token
that does not match the cached record makes rr read the stream again (another process may have
minted it), at most once every ``REREAD_AFTER`` per session.
"""

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.agentapi.events import AgentCredentialIssued, AgentCredentialRevoked
from bot.agentapi.ledger import AgentLedger, AgentRecord

TOKEN_PREFIX = "rr1"
SECRET_BYTES = 32
REREAD_AFTER = timedelta(seconds=10)
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SECRET_TEXT = re.compile(r"[A-Za-z0-9_-]{43}")


class SessionActivity(Protocol):
    async def is_active(self, session_id: str) -> bool:
        """Whether the session is booked or under way (not ended, not cancelled)."""
        ...


@dataclass(frozen=True, slots=True)
class Grant:
    """Who a valid credential speaks for: one launch attempt of one session."""

    session_id: str
    attempt: int


class CredentialRefused(Exception):
    """The credential is malformed, unknown, revoked or its session is over (always a 401)."""


def token_sha256(secret: bytes) -> str:
    return hashlib.sha256(secret).hexdigest()


def parse_token(token: str) -> tuple[str, bytes]:
    """The session id and the secret bytes of a token; ``CredentialRefused`` if malformed."""
    prefix, _, rest = token.partition(".")
    session_id, _, secret_text = rest.rpartition(".")
    if (
        prefix != TOKEN_PREFIX
        or not SESSION_ID.fullmatch(session_id)
        or not _SECRET_TEXT.fullmatch(secret_text)
    ):
        raise CredentialRefused("The credential is malformed.")
    try:
        secret = base64.urlsafe_b64decode(secret_text + "=")
    except binascii.Error:
        raise CredentialRefused("The credential is malformed.") from None
    return session_id, secret


class Credentials:
    def __init__(
        self, ledger: AgentLedger, sessions: SessionActivity, now: Callable[[], datetime]
    ) -> None:
        self._ledger = ledger
        self._sessions = sessions
        self._now = now
        self._read_at: dict[str, datetime] = {}

    async def mint(self, session_id: str, attempt: int) -> str:
        """A new credential for launch ``attempt`` of the session; earlier ones stop working."""
        if not SESSION_ID.fullmatch(session_id):
            raise ValueError(f"{session_id!r} cannot name a session in a credential.")
        secret = secrets.token_bytes(SECRET_BYTES)
        issued = AgentCredentialIssued(
            session_id=session_id, attempt=attempt, token_sha256=token_sha256(secret)
        )
        await self._ledger.append(session_id, issued)
        encoded = base64.urlsafe_b64encode(secret).decode("ascii").rstrip("=")
        return f"{TOKEN_PREFIX}.{session_id}.{encoded}"

    async def issued(self, session_id: str, attempt: int) -> bool:
        """Whether a credential for launch ``attempt`` was minted and is not revoked, as the
        store says now (a process that died may have minted it)."""
        record = await self._ledger.reread(session_id)
        return record.attempt == attempt and not record.revoked

    async def revoke(self, session_id: str, reason: str) -> bool:
        """Withdraw the session's current credential; False if there was none left to revoke."""
        record = await self._ledger.record(session_id)
        if record.attempt is None or record.revoked:
            return False
        revoked = AgentCredentialRevoked(
            session_id=session_id, attempt=record.attempt, reason=reason
        )
        await self._ledger.append(session_id, revoked)
        return True

    async def verify(self, token: str) -> Grant:
        session_id, secret = parse_token(token)
        if not await self._sessions.is_active(session_id):
            raise CredentialRefused("The credential is unknown or its session is over.")
        digest = token_sha256(secret)
        record = await self._ledger.record(session_id)
        if not _matches(record, digest) and self._may_reread(session_id):
            record = await self._ledger.reread(session_id)
        if record.attempt is None or not _matches(record, digest):
            raise CredentialRefused("The credential is unknown or its session is over.")
        if record.revoked:
            raise CredentialRefused("The credential was revoked.")
        return Grant(session_id, record.attempt)

    def forget(self, session_id: str) -> None:
        """Drop what is cached of an ended session (a later check reads its stream again)."""
        self._ledger.forget(session_id)
        self._read_at.pop(session_id, None)

    def _may_reread(self, session_id: str) -> bool:
        now = self._now()
        last = self._read_at.get(session_id)
        if last is not None and now - last < REREAD_AFTER:
            return False
        self._read_at[session_id] = now
        return True


def _matches(record: AgentRecord, digest: str) -> bool:
    return record.token_sha256 is not None and hmac.compare_digest(record.token_sha256, digest)
