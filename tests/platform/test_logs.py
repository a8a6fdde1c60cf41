"""Log lines: one line per record with its extras, and configured secrets never written."""

import io
import logging
from collections.abc import Iterator

import pytest

from bot.logs import REDACTED, configure_logging, url_without_credentials

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.discord.token-value"
STRIPE_KEY = "sk_test_51abcdefSECRET"


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    stream = io.StringIO()
    configure_logging("INFO", [TOKEN, STRIPE_KEY, "abc"], stream=stream)
    yield stream
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved_handlers:
        root.addHandler(handler)
    root.setLevel(saved_level)


def test_a_record_is_one_line_with_its_extras(output: io.StringIO) -> None:
    logging.getLogger("rr.services").info(
        "mission booked", extra={"guild_id": "42", "mission_name": "Red Flag\nday 2"}
    )

    line = output.getvalue()
    assert line.count("\n") == 1
    assert " INFO rr.services mission booked guild_id=42 " in line
    assert 'mission_name="Red Flag\\nday 2"' in line


def test_newlines_in_messages_cannot_forge_a_second_line(output: io.StringIO) -> None:
    logging.getLogger("rr.cogs").warning("bad input %r\n2026 ERROR forged", "x")

    assert output.getvalue().count("\n") == 1


def test_secrets_are_redacted_from_messages_arguments_extras_and_tracebacks(
    output: io.StringIO,
) -> None:
    log = logging.getLogger("discord.http")
    log.info("authorising with Bot %s", TOKEN)
    log.warning("stripe said %(key)s", {"key": STRIPE_KEY})
    log.info("request", extra={"headers": {"Authorization": f"Bot {TOKEN}"}, "key": STRIPE_KEY})
    try:
        raise RuntimeError(f"login failed for {TOKEN}")
    except RuntimeError:
        log.exception("connection lost")

    text = output.getvalue()
    assert TOKEN not in text
    assert STRIPE_KEY not in text
    assert text.count(REDACTED) == 5
    assert "Traceback" in text and "RuntimeError: login failed for [redacted]" in text


def test_values_too_short_to_be_secrets_are_left_alone(output: io.StringIO) -> None:
    logging.getLogger("rr").info("abc is not redacted")

    assert "abc is not redacted" in output.getvalue()


def test_store_urls_lose_their_credentials_but_nothing_else() -> None:
    assert url_without_credentials("sqlite:///./var/rr.db") == "sqlite:///./var/rr.db"
    assert (
        url_without_credentials("dynamodb://rr-events?region=eu-west-1")
        == "dynamodb://rr-events?region=eu-west-1"
    )
    assert (
        url_without_credentials("https://user:pa55@db.example.org:8443/x?y=1")
        == "https://db.example.org:8443/x?y=1"
    )
