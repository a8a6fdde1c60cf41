from datetime import UTC, datetime, timedelta

from bot.services import Quote
from bot.view.boots import BootLead
from cogs.utils.render import quote_embed, redacted


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
