"""Settings: embedded defaults, environment and .env, and one-line errors."""

import os
import re
from pathlib import Path

import pytest

from bot.config import InvalidSettings, env_names, export_aws_environment, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No RR_* or well-known variables from the machine; run where no .env exists."""
    for name in list(os.environ):
        if name.startswith(("RR_", "DISCORD_", "STRIPE_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults_run_everything_embedded_without_secrets() -> None:
    settings = load_settings()

    assert settings.event_store == "sqlite:///./var/rr.db"
    assert settings.compute == "local"
    assert settings.deployment == "dev"
    assert (settings.web_host, settings.web_port) == ("127.0.0.1", 8080)
    assert settings.base_url(8080) == "http://127.0.0.1:8080"
    assert settings.discord_token is None
    assert settings.stripe_api_key is None and settings.stripe_webhook_secret is None
    assert settings.pricing.rates_cents_per_hour == {"small": 100, "medium": 200, "large": 400}
    assert settings.pricing.currency == "usd"
    assert settings.limits.min_duration_minutes == 30
    assert settings.limits.max_duration_minutes == 720
    assert settings.schedule.reminder_offsets_minutes == (1440, 60, 15)
    assert settings.schedule.end_warnings_minutes == (15, 5)
    assert settings.schedule.boot_lead_minutes == 30
    assert settings.sandbox_time_scale == 1.0
    assert settings.operator_ids == ()
    assert settings.secret_values() == []


def test_environment_overrides_defaults_including_sections_and_lists(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RR_WEB_PORT", "9000")
    monkeypatch.setenv("RR_PRICING_SMALL_CENTS_PER_HOUR", "150")
    monkeypatch.setenv("RR_SCHEDULE_END_WARNINGS_MINUTES", "30, 10,2")
    monkeypatch.setenv("RR_OPERATOR_IDS", "123456789012345678,223456789012345678")
    monkeypatch.setenv("RR_PUBLIC_URL", "https://rr.example.org/")
    monkeypatch.setenv("DISCORD_TOKEN", "token-value")
    monkeypatch.setenv("RR_SANDBOX_PAYMENTS", "true")

    settings = load_settings()

    assert settings.web_port == 9000
    assert settings.pricing.small_cents_per_hour == 150
    assert settings.schedule.end_warnings_minutes == (30, 10, 2)
    assert settings.operator_ids == ("123456789012345678", "223456789012345678")
    assert settings.base_url(9000) == "https://rr.example.org"
    assert settings.discord_token is not None
    assert settings.discord_token.get_secret_value() == "token-value"
    assert "token-value" not in repr(settings)


def test_dotenv_file_is_read_and_the_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text(
        "RR_DEPLOYMENT=staging\nRR_WEB_PORT=9100\nSTRIPE_API_KEY=sk_test_from_file\n"
        "STRIPE_WEBHOOK_SECRET=whsec_from_file\n"
    )
    monkeypatch.setenv("RR_WEB_PORT", "9200")

    settings = load_settings()

    assert settings.deployment == "staging"
    assert settings.web_port == 9200
    assert settings.secret_values() == ["sk_test_from_file", "whsec_from_file"]


def test_blank_optional_values_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "")
    monkeypatch.setenv("DISCORD_GUILD_ID", " ")
    monkeypatch.setenv("RR_PUBLIC_URL", "")

    settings = load_settings()

    assert settings.discord_token is None
    assert settings.discord_guild_id is None
    assert settings.public_url is None


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("RR_WEB_PORT", "eighty", "Invalid setting RR_WEB_PORT: input should be a valid integer"),
        ("RR_WEB_PORT", "70000", "Invalid setting RR_WEB_PORT: input should be less than"),
        ("RR_COMPUTE", "gcp", "Invalid setting RR_COMPUTE: input should be 'local' or 'ec2'."),
        ("RR_EVENT_STORE", "postgres://db", "RR_EVENT_STORE: expected a URL starting memory://"),
        ("RR_DEPLOYMENT", "Prod Env", "RR_DEPLOYMENT: expected up to 32 lower-case letters"),
        ("RR_PRICING_CURRENCY", "dollars", "RR_PRICING_CURRENCY: expected a three-letter"),
        ("RR_SCHEDULE_REMINDER_OFFSETS_MINUTES", "60,soon", "RR_SCHEDULE_REMINDER_OFFSETS_MINUTES"),
        ("RR_OPERATOR_IDS", "42", "RR_OPERATOR_IDS: expected a Discord id (15 to 20 digits)."),
        ("DISCORD_GUILD_ID", "my-guild", "DISCORD_GUILD_ID: expected a Discord id"),
        ("RR_LIMITS_MIN_DURATION_MINUTES", "900", "RR_LIMITS_MAX_DURATION_MINUTES: expected at"),
        (
            "RR_SCHEDULE_GRACEFUL_END_SECONDS",
            "900",
            "RR_SCHEDULE_BACKSTOP_GRACE_MINUTES: expected longer than "
            "RR_SCHEDULE_GRACEFUL_END_SECONDS (900 seconds)",
        ),
        ("RR_SANDBOX_TIME_SCALE", "0", "RR_SANDBOX_TIME_SCALE: input should be greater than 0"),
        ("RR_LOG_LEVEL", "LOUD", "RR_LOG_LEVEL: input should be 'DEBUG', 'INFO'"),
    ],
)
def test_an_invalid_value_is_one_line_naming_the_setting_and_what_is_allowed(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(InvalidSettings) as invalid:
        load_settings()

    message = str(invalid.value)
    assert expected in message
    assert "\n" not in message
    assert invalid.value.__cause__ is None and invalid.value.__suppress_context__


def test_a_boot_lead_outside_its_floor_and_ceiling_is_refused_naming_all_three(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RR_SCHEDULE_BOOT_LEAD_MINUTES", "50")

    with pytest.raises(InvalidSettings) as invalid:
        load_settings()

    assert (
        "expected RR_SCHEDULE_BOOT_LEAD_FLOOR_MINUTES (10) <= RR_SCHEDULE_BOOT_LEAD_MINUTES (50) "
        "<= RR_SCHEDULE_BOOT_LEAD_CEILING_MINUTES (40)"
    ) in str(invalid.value)


def test_a_scaled_sandbox_clock_is_refused_with_real_ec2_servers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RR_COMPUTE", "ec2")
    monkeypatch.setenv("RR_SANDBOX_TIME_SCALE", "60")

    with pytest.raises(InvalidSettings) as invalid:
        load_settings()

    assert "RR_SANDBOX_TIME_SCALE: expected 1 with RR_COMPUTE=ec2" in str(invalid.value)


def test_a_real_discord_token_without_stripe_keys_is_refused_naming_both_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "token-value")

    with pytest.raises(InvalidSettings) as invalid:
        load_settings()

    message = str(invalid.value)
    assert message.startswith("Invalid settings: With DISCORD_TOKEN set, set STRIPE_API_KEY and ")
    assert "STRIPE_WEBHOOK_SECRET" in message and "RR_SANDBOX_PAYMENTS=true" in message
    assert "\n" not in message and "token-value" not in message


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"STRIPE_API_KEY": "sk_test_1"}, "set STRIPE_WEBHOOK_SECRET too"),
        (
            {"STRIPE_WEBHOOK_SECRET": "whsec_1", "DISCORD_TOKEN": "tok-en-value"},
            "set STRIPE_API_KEY too",
        ),
        (
            {"STRIPE_API_KEY": "sk_1", "STRIPE_WEBHOOK_SECRET": "wh_1", "RR_SANDBOX_PAYMENTS": "1"},
            "RR_SANDBOX_PAYMENTS=true cannot run with STRIPE_API_KEY",
        ),
    ],
)
def test_one_stripe_key_alone_or_with_sandbox_payments_is_refused(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], expected: str
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(InvalidSettings) as invalid:
        load_settings()

    assert expected in str(invalid.value)
    assert all(value not in str(invalid.value) for value in variables.values() if value != "1")


def test_real_discord_runs_with_stripe_keys_or_with_sandbox_payments_opted_in(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "token-value")
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_1")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_1")
    assert not load_settings().sandbox_payments_in_discord

    monkeypatch.delenv("STRIPE_API_KEY")
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET")
    monkeypatch.setenv("RR_SANDBOX_PAYMENTS", "true")
    assert load_settings().sandbox_payments_in_discord


def test_several_invalid_values_are_named_on_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RR_WEB_PORT", "x")
    monkeypatch.setenv("RR_COMPUTE", "y")

    with pytest.raises(InvalidSettings) as invalid:
        load_settings()

    message = str(invalid.value)
    assert message.startswith("Invalid settings ")
    assert "RR_WEB_PORT" in message and "RR_COMPUTE" in message
    assert "\n" not in message


def test_aws_variables_in_dotenv_reach_boto3_without_overriding_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("AWS_DEFAULT_REGION=eu-central-1\nAWS_PROFILE=rr\nRR_X=1\n")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_PROFILE", "RR_X"):  # set, then removed: restored to absent afterwards
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)

    export_aws_environment()

    assert os.environ["AWS_DEFAULT_REGION"] == "us-east-1"
    assert os.environ["AWS_PROFILE"] == "rr"
    assert "RR_X" not in os.environ


def test_env_example_documents_every_setting_with_its_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    example = (Path(__file__).parents[2] / ".env.example").read_text()
    documented = dict(
        line.removeprefix("# ").split("=", 1)
        for line in example.splitlines()
        if re.fullmatch(r"# [A-Z][A-Z0-9_]*=.*", line)
    )
    assert set(env_names()) <= set(documented)

    (tmp_path / ".env").write_text(
        "".join(f"{name}={value}\n" for name, value in documented.items())
    )
    for name in documented:
        if name.startswith("AWS_"):
            monkeypatch.delenv(name, raising=False)

    assert load_settings() == load_settings(env_file=None)
