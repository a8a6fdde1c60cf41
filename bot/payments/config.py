"""How payments are set up: which provider, where people come back to, what a purchase may be."""

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal, Protocol

from pydantic import SecretStr

ProviderName = Literal["stripe", "sandbox"]

STRIPE_MAX_CHECKOUT_EXPIRY = timedelta(hours=24)
STRIPE_MIN_CHECKOUT_EXPIRY = timedelta(minutes=30)


class _PricingSettings(Protocol):
    @property
    def currency(self) -> str: ...


class _Settings(Protocol):
    """The part of ``bot.config.Settings`` payments read."""

    @property
    def stripe_api_key(self) -> SecretStr | None: ...
    @property
    def stripe_webhook_secret(self) -> SecretStr | None: ...
    @property
    def pricing(self) -> _PricingSettings: ...
    @property
    def sandbox_payments_in_discord(self) -> bool: ...


@dataclass(frozen=True)
class PaymentsConfig:
    """Payments configuration; construction refuses any combination that cannot work.

    Purchases are any whole number of cents from ``min_purchase_cents`` to
    ``max_purchase_cents``, not fixed packs, so a member can pay for exactly what a start or
    booking lacks (a shortfall below the minimum is rounded up to it by the caller). The minimum
    must stay at or above Stripe's minimum charge for ``currency`` (50 cents for usd and eur).
    """

    provider: ProviderName
    public_url: str
    currency: str = "usd"
    min_purchase_cents: int = 500
    max_purchase_cents: int = 50_000
    stripe_api_key: str | None = field(default=None, repr=False)
    stripe_webhook_secret: str | None = field(default=None, repr=False)
    stripe_api_base: str | None = None
    stripe_network_retries: int = 2
    checkout_expiry: timedelta = timedelta(hours=1)
    webhook_tolerance: timedelta = timedelta(seconds=300)
    max_webhook_body_bytes: int = 256 * 1024
    provider_lookup_timeout: timedelta = timedelta(milliseconds=750)
    """How long a webhook may wait on the provider, so that it still answers within a second."""
    sandbox_in_discord: bool = False
    """The sandbox checkout serves members of real Discord guilds (RR_SANDBOX_PAYMENTS): its
    page warns that paying there gives free credit."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "public_url", self.public_url.rstrip("/"))
        object.__setattr__(self, "currency", self.currency.lower())
        keys_given = [
            name
            for name, value in (
                ("STRIPE_API_KEY", self.stripe_api_key),
                ("STRIPE_WEBHOOK_SECRET", self.stripe_webhook_secret),
            )
            if value
        ]
        if self.provider == "sandbox" and keys_given:
            raise ValueError(
                f"The sandbox payments provider refuses to run while {' and '.join(keys_given)} "
                "is set; remove the Stripe keys or use the stripe provider."
            )
        if self.provider == "stripe" and len(keys_given) < 2:
            raise ValueError(
                "The stripe payments provider needs both STRIPE_API_KEY and STRIPE_WEBHOOK_SECRET."
            )
        if not self.public_url.startswith(("http://", "https://")):
            raise ValueError(
                f"The public URL must start with http:// or https://, not {self.public_url!r}."
            )
        if not 0 < self.min_purchase_cents <= self.max_purchase_cents:
            raise ValueError("The purchase limits must satisfy 0 < minimum <= maximum (in cents).")
        if not STRIPE_MIN_CHECKOUT_EXPIRY <= self.checkout_expiry <= STRIPE_MAX_CHECKOUT_EXPIRY:
            raise ValueError(
                "A checkout must expire between 30 minutes and 24 hours after it starts."
            )

    @classmethod
    def from_settings(cls, settings: _Settings, public_url: str) -> "PaymentsConfig":
        """Stripe when both STRIPE_API_KEY and STRIPE_WEBHOOK_SECRET are set, else the sandbox.

        Only one of the two set is a mistake, refused rather than quietly falling back to the
        sandbox. ``public_url`` is where buyers and Stripe reach the web app.
        """
        api_key = _revealed(settings.stripe_api_key)
        webhook_secret = _revealed(settings.stripe_webhook_secret)
        return cls(
            provider="stripe" if api_key or webhook_secret else "sandbox",
            public_url=public_url,
            currency=settings.pricing.currency,
            stripe_api_key=api_key,
            stripe_webhook_secret=webhook_secret,
            sandbox_in_discord=settings.sandbox_payments_in_discord,
        )


def _revealed(secret: SecretStr | None) -> str | None:
    return None if secret is None else secret.get_secret_value() or None
