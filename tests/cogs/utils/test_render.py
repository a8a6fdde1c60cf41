from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.domain.session import SessionState, SessionStatus
from bot.services import Quote
from bot.view.boots import BootLead
from cogs.utils.render import idle_saving, quote_embed, redacted, reported_text


def test_history_masks_every_secret_named_value_however_deep() -> None:
    data = {
        "settings": {
            "password": "hunter2",
            "srs": {"blue_password": "b", "red_password": "", "port": 5002},
            "tacview": {"telemetry_password": "t"},
        },
        "changed": ["password"],
        "api_token": "abc",
    }
    assert redacted(data) == {
        "settings": {
            "password": "********",
            "srs": {"blue_password": "********", "red_password": "", "port": 5002},
            "tacview": {"telemetry_password": "********"},
        },
        "changed": ["password"],
        "api_token": "********",
    }


def _quote(boot: BootLead | None) -> Quote:
    start = datetime(2026, 12, 5, 20, 0, tzinfo=UTC)
    return Quote(
        cost_cents=400,
        available_cents=5_000,
        shortfall_cents=0,
        start_at=start,
        end_at=start + timedelta(hours=2),
        rate_cents_per_hour=200,
        currency="usd",
        minimum_cents=400,
        covered_minutes=120,
        covered_until=start + timedelta(hours=2),
        boot_lead_minutes=0 if boot is None else boot.lead // timedelta(minutes=1),
        region="eu-central-1",
        boot=boot,
    )


def test_a_booking_quote_says_how_long_servers_of_its_size_took_to_boot() -> None:
    boot = BootLead(timedelta(minutes=14), 10, timedelta(minutes=13, seconds=20), 9)

    embed = quote_embed(title="Book", quote=_quote(boot), size="medium")

    assert embed.description == (
        "Boot time is free: rr starts the server 14 minutes early so it is ready at "
        "<t:1796500800:t>, and bills from then. Medium servers in eu-central-1 were ready within "
        "14 minutes in 9 of their last 10 boots."
    )


def test_a_booking_quote_with_too_few_boots_measured_names_only_the_lead() -> None:
    boot = BootLead(timedelta(minutes=30), 3)

    embed = quote_embed(title="Book", quote=_quote(boot), size="medium")

    assert embed.description is not None and embed.description.endswith("bills from then.")


def test_a_reported_name_is_one_line_without_markdown_or_mentions_and_capped() -> None:
    shown = reported_text("@here **boss**\n<@&1>" + "x" * 100)
    assert "\n" not in shown and "@\u200bhere" in shown and "\\*\\*boss\\*\\*" in shown
    assert shown.endswith("x…") and "**" not in shown
    assert reported_text("\u202e\x00") == "?"


def test_an_idle_stop_says_what_stopping_early_saved() -> None:
    start = datetime(2026, 12, 5, 20, 0, tzinfo=UTC)
    session = SessionState(
        session_id="s",
        guild_id="g",
        booked_by="u",
        status=SessionStatus.ENDED,
        size="medium",
        region="eu-central-1",
        start_at=start,
        end_at=start + timedelta(hours=2),
        duration_minutes=120,
        rate_cents_per_hour=200,
        immediate=True,
        mission_name=None,
        launched_at=start,
        ready_at=start,
        termination_reason="idle",
        stop_at=start + timedelta(minutes=20),
        charged_cents=67,
        idle_cause="unjoined",
        idle_since=start,
        idle_stop_at=start + timedelta(minutes=20),
    )
    assert idle_saving(session, "usd") == (
        "Stopped after 20 minutes with nobody joining; the 1 hour 40 minutes left unused was "
        "not charged: $3.33 saved."
    )
    assert idle_saving(replace(session, termination_reason="stopped_by_user"), "usd") == ""
