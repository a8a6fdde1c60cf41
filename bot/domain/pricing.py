"""Prices and limits: configuration the services pass into the deciders, never stored state."""

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from bot.domain.errors import InvalidRequest


def cost_at_rate(rate_cents_per_hour: int, minutes: int) -> int:
    """What `minutes` cost at an hourly rate, rounded up to a whole cent."""
    return -(-(minutes * rate_cents_per_hour) // 60)


@dataclass(frozen=True)
class Pricing:
    """Hourly rates in cents by instance size ("small", "medium", "large")."""

    rates_cents_per_hour: Mapping[str, int]
    currency: str = "usd"

    def __post_init__(self) -> None:
        for size, rate in self.rates_cents_per_hour.items():
            if type(rate) is not int or rate < 0:
                raise ValueError(
                    f"The rate for {size} must be a whole number of cents, not {rate!r}."
                )
        object.__setattr__(
            self, "rates_cents_per_hour", MappingProxyType(dict(self.rates_cents_per_hour))
        )

    def rate(self, size: str) -> int:
        """The hourly rate of `size` in cents; an unknown size is an `InvalidRequest`."""
        try:
            return self.rates_cents_per_hour[size]
        except KeyError:
            sizes = ", ".join(self.rates_cents_per_hour)
            raise InvalidRequest(
                f"There is no server size called {size[:40]!r}; choose one of {sizes}."
            ) from None

    def cost_cents(self, size: str, minutes: int) -> int:
        """`ceil(minutes * rate / 60)` for `size`."""
        return cost_at_rate(self.rate(size), minutes)


@dataclass(frozen=True)
class Limits:
    """The booking rules' numbers; durations in minutes."""

    min_duration_minutes: int = 30
    max_duration_minutes: int = 12 * 60
    booking_horizon_days: int = 60
    max_concurrent_per_guild: int = 2
    min_extension_minutes: int = 15
