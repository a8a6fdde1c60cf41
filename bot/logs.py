"""Logging set-up: one line per record (``time level logger message key=value…``), no secrets.

Whatever is passed as ``extra=`` to a log call is appended as ``key=value`` pairs, so services log
``log.info("session booked", extra={"guild_id": g, "session_id": m})`` and get a line a person and
a log query can both read. Every record passes `SecretRedactor` before it is written, whichever
library logged it.
"""

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

REDACTED = "[redacted]"
MIN_SECRET_LENGTH = 4
"""Shorter values are not redacted: replacing every occurrence of a few characters helps nobody."""

_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}
_QUIET_LIBRARIES = ("aiohttp.access", "botocore", "boto3", "urllib3", "asyncio")
_PAYLOAD_LOGGERS = ("discord",)
"""discord.py logs whole gateway events and HTTP bodies, and URLs holding interaction tokens, at
DEBUG: what members type (a server password in ``/config set``) and the messages rr sends
(the ready DM with the password). These loggers stay at INFO or above whatever RR_LOG_LEVEL says."""


class SecretRedactor(logging.Filter):
    """Replaces every configured secret value in a record's message, extras and traceback."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets: list[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        """Redact ``secret`` too (longest first, so a secret containing another goes whole)."""
        if len(secret) >= MIN_SECRET_LENGTH and secret not in self._secrets:
            self._secrets = sorted([*self._secrets, secret], key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for name, value in extras(record).items():
            text = value if isinstance(value, str) else repr(value)
            redacted = self.redact(text)
            if redacted != text:
                setattr(record, name, redacted)
        return True


class LineFormatter(logging.Formatter):
    """``2026-11-28T20:00:00.123Z INFO rr.services session booked guild_id=1 session_id=…``."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        message = _one_line(record.getMessage())
        pairs = "".join(f" {name}={_value(value)}" for name, value in extras(record).items())
        line = f"{stamp.replace('+00:00', 'Z')} {record.levelname} {record.name} {message}{pairs}"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += "\n" + record.exc_text
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


def configure_logging(
    level: str, secrets: Iterable[str], stream: TextIO | None = None
) -> logging.Handler:
    """Route every logger through one redacting, line-formatting handler; returns the handler."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(LineFormatter())
    handler.addFilter(SecretRedactor(secrets))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    for name in _QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    for name in _PAYLOAD_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.INFO, root.level))
    return handler


def redact_also(secret: str) -> None:
    """Redact a secret made at run time (the sandbox checkout's webhook signing secret) in every
    handler `configure_logging` installed."""
    for handler in logging.getLogger().handlers:
        for redactor in handler.filters:
            if isinstance(redactor, SecretRedactor):
                redactor.add(secret)


def url_without_credentials(url: str) -> str:
    """The URL with any ``user:password@`` removed, fit for a log line."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port is not None else host
    return urlunsplit(parts._replace(netloc=netloc))


def extras(record: logging.LogRecord) -> dict[str, Any]:
    """What the caller passed as ``extra=``."""
    return {
        name: value
        for name, value in vars(record).items()
        if name not in _STANDARD_ATTRIBUTES and not name.startswith("_")
    }


def _one_line(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n")


def _value(value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    if text and not any(character.isspace() or character in '"=' for character in text):
        return text
    return json.dumps(text, ensure_ascii=False)
