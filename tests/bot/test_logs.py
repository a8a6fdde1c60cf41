"""Log lines: one line per record with its extras, and configured secrets never written."""

import io
import logging

import pytest

from bot.logs import REDACTED, redact_also, url_without_credentials
from tests.bot.conftest import LogToString

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.discord.token-value"
STRIPE_KEY = "sk_test_51abcdefSECRET"


@pytest.fixture
def output(log_to_string: LogToString) -> io.StringIO:
    return log_to_string("INFO", [TOKEN, STRIPE_KEY, "abc"])


def test_a_record_is_one_line_with_its_extras(output: io.StringIO) -> None:
    logging.getLogger("rr.services").info(
        "session booked", extra={"guild_id": "42", "mission_name": "Red Flag\nday 2"}
    )

    line = output.getvalue()
    assert line.count("\n") == 1
    assert " INFO rr.services session booked guild_id=42 " in line
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


def test_a_secret_made_at_run_time_is_redacted_from_then_on(output: io.StringIO) -> None:
    webhook_secret = "whsec_sandbox_0123456789abcdef"

    redact_also(webhook_secret)
    logging.getLogger("rr.payments").error("signing with %s", webhook_secret)

    assert webhook_secret not in output.getvalue()
    assert f"signing with {REDACTED}" in output.getvalue()


def test_discord_payloads_stay_out_of_debug_logs_while_rr_debug_lines_are_written(
    log_to_string: LogToString,
) -> None:
    stream = log_to_string("DEBUG", [])

    logging.getLogger("discord.gateway").debug("WebSocket Event: value=hunter2")
    logging.getLogger("discord.http").debug("POST /channels/1/messages with Password: x")
    logging.getLogger("discord.gateway").info("Shard ID None has connected to Gateway")
    logging.getLogger("rr.services").debug("view rebuilt")

    text = stream.getvalue()
    assert "hunter2" not in text and "Password" not in text
    assert "has connected to Gateway" in text
    assert "DEBUG rr.services view rebuilt" in text


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
