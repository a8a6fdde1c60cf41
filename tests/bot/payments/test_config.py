"""Choosing the payments provider from the bot's settings."""

import pytest

from bot.config import Settings
from bot.payments import PaymentsConfig


def settings(**env: str) -> Settings:
    return Settings(_env_file=None, **env)  # type: ignore[call-arg, arg-type]


def test_no_stripe_keys_means_the_sandbox() -> None:
    config = PaymentsConfig.from_settings(settings(), "http://127.0.0.1:8080/")

    assert config.provider == "sandbox"
    assert config.public_url == "http://127.0.0.1:8080"


def test_both_stripe_keys_mean_stripe_and_stay_out_of_the_repr() -> None:
    config = PaymentsConfig.from_settings(
        settings(STRIPE_API_KEY="sk_test_abc", STRIPE_WEBHOOK_SECRET="whsec_def"),
        "https://rr.example.test",
    )

    assert config.provider == "stripe"
    assert (config.stripe_api_key, config.stripe_webhook_secret) == ("sk_test_abc", "whsec_def")
    assert "sk_test_abc" not in repr(config) and "whsec_def" not in repr(config)


def test_only_one_stripe_key_is_refused_rather_than_falling_back_to_the_sandbox() -> None:
    with pytest.raises(ValueError, match="set STRIPE_WEBHOOK_SECRET too"):
        settings(STRIPE_API_KEY="sk_test_abc")
    with pytest.raises(ValueError, match="needs both STRIPE_API_KEY and STRIPE_WEBHOOK_SECRET"):
        PaymentsConfig(provider="stripe", public_url="https://rr.test", stripe_api_key="sk_abc")


def test_sandbox_payments_in_real_discord_only_when_the_operator_opts_in() -> None:
    without_discord = PaymentsConfig.from_settings(settings(), "http://127.0.0.1:8080")
    opted_in = PaymentsConfig.from_settings(
        settings(DISCORD_TOKEN="token", sandbox_payments="true"), "https://rr.test"
    )

    assert not without_discord.sandbox_in_discord
    assert (opted_in.provider, opted_in.sandbox_in_discord) == ("sandbox", True)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"min_purchase_cents": 0}, "0 < minimum <= maximum"),
        ({"min_purchase_cents": 600, "max_purchase_cents": 500}, "0 < minimum <= maximum"),
        ({"public_url": "rr.example.test"}, "must start with http:// or https://"),
    ],
)
def test_unworkable_settings_are_refused(overrides: dict[str, object], message: str) -> None:
    values: dict[str, object] = {"provider": "sandbox", "public_url": "http://127.0.0.1:8080"}
    values.update(overrides)

    with pytest.raises(ValueError, match=message):
        PaymentsConfig(**values)  # type: ignore[arg-type]
