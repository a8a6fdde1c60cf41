"""``eventstore.open(url)``: choosing and configuring a backend from one URL."""

import math
import re
from datetime import timedelta
from urllib.parse import parse_qsl, unquote, urlsplit

from eventstore.codec import utc_now
from eventstore.dynamodb import DEFAULT_OVERLAP, MIN_OVERLAP, DynamoDBEventStore
from eventstore.memory import MemoryEventStore
from eventstore.sqlite import SqliteEventStore
from eventstore.store import Clock, EventStore

_TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")
_DAY_SECONDS = 86_400
_FORMS = "memory://, sqlite:///path/to/file.db or dynamodb://TABLE?region=REGION"


def open_store(url: str, *, clock: Clock = utc_now) -> EventStore:
    """Open the store a URL names, creating its file or schema unless ``create=false``.

    - ``memory://``
    - ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db``; options
      ``create=false``, ``synchronous=normal`` (default ``full``: every commit synced to disk)
    - ``dynamodb://TABLE``; options ``region``, ``endpoint_url`` (only for a local
      DynamoDB-compatible server), ``create=false``, ``overlap_seconds`` (default 10, at least 2)

    A bad URL raises ``ValueError`` saying what is wrong. Nothing is contacted until first use.
    """
    if not isinstance(url, str):
        raise ValueError(f"An event store URL must be a string, not {url!r}.")
    parts = urlsplit(url)
    options = _options(url, parts.query)
    if parts.scheme == "memory":
        if url != "memory://":
            raise ValueError(f"A memory store URL is exactly 'memory://', not {url!r}.")
        return MemoryEventStore(clock)
    if parts.scheme == "sqlite":
        return _sqlite(url, parts.netloc, parts.path, options, clock)
    if parts.scheme == "dynamodb":
        return _dynamodb(url, parts.netloc, parts.path, options, clock)
    raise ValueError(f"Unknown event store URL {url!r}: use {_FORMS}.")


def _sqlite(url: str, host: str, path: str, options: dict[str, str], clock: Clock) -> EventStore:
    if host or not path.startswith("/") or path == "/":
        raise ValueError(
            f"A SQLite URL names a file after three slashes (sqlite:///var/rr.db, or four for an "
            f"absolute path), not {url!r}."
        )
    _allow(url, options, {"create", "synchronous"})
    synchronous = options.get("synchronous", "full").upper()
    if synchronous not in ("FULL", "NORMAL"):
        raise ValueError(
            f"synchronous must be full or normal in {url!r}, not {options['synchronous']!r}."
        )
    return SqliteEventStore(
        unquote(path[1:]),
        create=_flag(url, options, "create"),
        synchronous="FULL" if synchronous == "FULL" else "NORMAL",
        clock=clock,
    )


def _dynamodb(url: str, table: str, path: str, options: dict[str, str], clock: Clock) -> EventStore:
    if not _TABLE_NAME.fullmatch(table) or path not in ("", "/"):
        raise ValueError(
            f"A DynamoDB URL names its table as the host (dynamodb://rr-events?region=eu-west-1): "
            f"3 to 255 letters, digits, '_', '-' or '.', not {url!r}."
        )
    _allow(url, options, {"create", "endpoint_url", "overlap_seconds", "region"})
    return DynamoDBEventStore(
        table,
        region=options.get("region") or None,
        endpoint_url=options.get("endpoint_url") or None,
        create=_flag(url, options, "create"),
        overlap=_overlap(url, options),
        clock=clock,
    )


def _overlap(url: str, options: dict[str, str]) -> timedelta:
    text = options.get("overlap_seconds")
    if text is None:
        return DEFAULT_OVERLAP
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    least = MIN_OVERLAP.total_seconds()
    if not least <= seconds <= _DAY_SECONDS:
        raise ValueError(
            f"overlap_seconds must be a number of seconds from {least:g} to {_DAY_SECONDS} in "
            f"{url!r}, not {text!r}."
        )
    return timedelta(seconds=seconds)


def _options(url: str, query: str) -> dict[str, str]:
    pairs = parse_qsl(query, keep_blank_values=True)
    options = dict(pairs)
    if len(options) != len(pairs):
        raise ValueError(f"An option is given twice in {url!r}; give each once.")
    return options


def _allow(url: str, options: dict[str, str], known: set[str]) -> None:
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(
            f"Unknown option {unknown[0]!r} in {url!r}; this store takes "
            f"{', '.join(sorted(known))}."
        )


def _flag(url: str, options: dict[str, str], name: str) -> bool:
    value = options.get(name, "true").lower()
    if value not in ("true", "false"):
        raise ValueError(f"{name} must be true or false in {url!r}, not {options[name]!r}.")
    return value == "true"
