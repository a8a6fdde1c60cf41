from datetime import timedelta

import pytest

from bot.domain.actor import Actor
from bot.domain.errors import DomainError, InsufficientCredit, InvalidRequest
from bot.domain.money import format_cents
from bot.domain.pricing import Limits, Pricing, cost_at_rate


@pytest.mark.parametrize(
    ("minutes", "cents"),
    [(0, 0), (1, 5), (60, 250), (61, 255), (90, 375), (720, 3000)],
)
def test_cost_is_the_hourly_rate_pro_rata_rounded_up_to_a_cent(minutes: int, cents: int) -> None:
    assert Pricing({"medium": 250}).cost_cents("medium", minutes) == cents


def test_cost_at_a_rate_that_divides_unevenly_rounds_up() -> None:
    assert cost_at_rate(100, 1) == 2
    assert cost_at_rate(120, 1) == 2
    assert cost_at_rate(0, 600) == 0


def test_an_unknown_size_is_an_invalid_request_listing_the_sizes() -> None:
    pricing = Pricing({"small": 100, "large": 400})
    with pytest.raises(InvalidRequest, match="choose one of small, large"):
        pricing.rate("huge")


def test_pricing_refuses_negative_or_fractional_rates() -> None:
    with pytest.raises(ValueError, match="whole number of cents"):
        Pricing({"small": -1})
    with pytest.raises(ValueError, match="whole number of cents"):
        Pricing({"small": 1.5})  # type: ignore[dict-item]


def test_pricing_keeps_its_own_copy_of_the_rates() -> None:
    rates = {"small": 100}
    pricing = Pricing(rates)
    rates["small"] = 1
    assert pricing.rate("small") == 100


def test_limits_defaults_match_the_contract() -> None:
    limits = Limits()
    assert limits.min_duration_minutes == 30
    assert limits.max_duration_minutes == 12 * 60
    assert timedelta(days=limits.booking_horizon_days) == timedelta(days=60)
    assert limits.max_concurrent_per_guild == 2
    assert limits.min_extension_minutes == 15


@pytest.mark.parametrize(
    ("cents", "currency", "text"),
    [
        (1250, "usd", "$12.50"),
        (5, "usd", "$0.05"),
        (0, "USD", "$0.00"),
        (-300, "eur", "-€3.00"),
        (123456789, "gbp", "£1,234,567.89"),
        (1999, "chf", "19.99 CHF"),
    ],
)
def test_format_cents(cents: int, currency: str, text: str) -> None:
    assert format_cents(cents, currency) == text


def test_insufficient_credit_says_what_is_needed_and_how_to_buy_it() -> None:
    error = InsufficientCredit(750, 1200, 450)
    assert isinstance(error, DomainError)
    assert (error.shortfall_cents, error.needed_cents, error.available_cents) == (750, 1200, 450)
    assert str(error) == (
        "That needs $12.00 of credit but the squadron has $4.50 available; "
        "buy $7.50 more with /credits buy."
    )


def test_actor_metadata_names_who_acted_and_how() -> None:
    actor = Actor("42", "7", is_manager=True, source="discord", source_id="1300")
    assert actor.metadata() == {
        "guild_id": "7",
        "user_id": "42",
        "source": "discord",
        "source_id": "1300",
        "causation_id": None,
    }


def test_the_system_actor_is_an_operator_in_no_guild() -> None:
    actor = Actor.system("scheduler")
    assert actor.is_operator
    assert actor.guild_id is None
    assert actor.metadata()["source"] == "scheduler"
    assert Actor.system("stripe", "evt_9").metadata()["source_id"] == "evt_9"
