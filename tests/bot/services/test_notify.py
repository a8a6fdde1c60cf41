import logging
from datetime import UTC, datetime

import pytest

from bot.domain.session import SessionState, SessionStatus
from bot.logs import LineFormatter, extras
from bot.notify import (
    AdminAlertNotice,
    CreditsLandedNotice,
    DeliveryFailed,
    FanoutNotifier,
    LoggingNotifier,
    Notice,
    ReadyNotice,
)
from bot.view import Balance
from tests.fakes.notifier import RecordingNotifier

SESSION = SessionState(
    session_id="m-1",
    guild_id="g-1",
    booked_by="u-1",
    status=SessionStatus.RUNNING,
    size="medium",
    region="eu-west-1",
    start_at=datetime(2026, 11, 28, 20, tzinfo=UTC),
    end_at=datetime(2026, 11, 28, 22, tzinfo=UTC),
    duration_minutes=120,
    rate_cents_per_hour=240,
    immediate=True,
    mission_name=None,
)


def test_a_notice_about_a_session_names_its_guild_session_and_booker() -> None:
    notice = ReadyNotice(SESSION, "203.0.113.7", 10308, "s3cret-pass")

    assert (notice.guild_id, notice.session_id, notice.user_id) == ("g-1", "m-1", "u-1")
    assert "s3cret-pass" not in repr(notice)


def test_a_purchase_notice_names_the_buyer_and_no_session() -> None:
    notice = CreditsLandedNotice("g-1", "u-9", 500, Balance(500, 0, 500))

    assert (notice.guild_id, notice.session_id, notice.user_id) == ("g-1", None, "u-9")


async def test_the_logging_notifier_writes_one_line_without_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="rr.notify")

    await LoggingNotifier().notify(ReadyNotice(SESSION, "203.0.113.7", 10308, "s3cret-pass"))

    [record] = caplog.records
    fields = extras(record)
    assert record.getMessage() == "ReadyNotice"
    assert fields == {
        "guild_id": "g-1",
        "session_id": "m-1",
        "user_id": "u-1",
        "address": "203.0.113.7",
        "port": 10308,
        "srs_port": None,
        "mission": None,
    }
    assert "s3cret-pass" not in LineFormatter().format(record)


async def test_the_logging_notifier_flattens_a_balance_and_keeps_messages(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="rr.notify")

    await LoggingNotifier().notify(CreditsLandedNotice("g-1", "u-9", 500, Balance(700, 200, 500)))
    await LoggingNotifier().notify(AdminAlertNotice(None, "Check the cloud now."))

    landed, alert = (extras(record) for record in caplog.records)
    assert (landed["user_id"], landed["balance_available_cents"]) == ("u-9", 500)
    assert alert["text"] == "Check the cloud now."


async def test_fanout_reaches_every_notifier_even_after_one_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken:
        async def notify(self, notice: Notice) -> None:
            raise RuntimeError("Discord is down")

    first, last = RecordingNotifier(), RecordingNotifier()
    notice = AdminAlertNotice(None, "check the cloud")

    await FanoutNotifier([first, Broken(), last]).notify(notice)

    assert first.notices == last.notices == [notice]
    [failure] = [r for r in caplog.records if r.getMessage() == "notifier failed"]
    assert extras(failure) == {"notifier": "Broken", "notice": "AdminAlertNotice"}


async def test_fanout_reaches_every_notifier_then_says_a_notice_that_must_arrive_did_not() -> None:
    failing, last = RecordingNotifier(), RecordingNotifier()
    failing.failing = 1
    notice = ReadyNotice(SESSION, "203.0.113.7", 10308, "s3cret-pass")

    with pytest.raises(DeliveryFailed):
        await FanoutNotifier([failing, last]).notify(notice)

    assert (failing.notices, last.notices) == ([], [notice])
