"""Reading old events: a registry of upcasters chained from a stored schema version to the current.

An upcaster turns one event type's `data` from schema version `n` into version `n + 1`. It is
frozen history: once released it never changes, because events written at that version exist.
"""

from collections.abc import Callable, Mapping
from typing import Any

EventData = Mapping[str, Any]
Upcaster = Callable[[EventData], EventData]


class EventSchemaError(ValueError):
    """A stored event cannot be read by this code: unknown type, newer version or bad shape."""


class Upcasters:
    """Upcasters by (event type, the version they upgrade from)."""

    def __init__(self) -> None:
        self._steps: dict[tuple[str, int], Upcaster] = {}

    def register(self, event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Decorator registering `fn` to turn `event_type` data from `from_version` to the next."""

        def add(fn: Upcaster) -> Upcaster:
            key = (event_type, from_version)
            if key in self._steps:
                raise ValueError(
                    f"{event_type} already has an upcaster from version {from_version}."
                )
            self._steps[key] = fn
            return fn

        return add

    def upcast(self, event_type: str, version: int, current: int, data: EventData) -> EventData:
        """`data` stored at `version` brought to `current` by applying each step in turn."""
        if version > current:
            raise EventSchemaError(
                f"{event_type} schema version {version} is newer than this code reads "
                f"(version {current}); run a newer rr."
            )
        if version < 1:
            raise EventSchemaError(
                f"{event_type} has schema version {version}; versions start at 1."
            )
        while version < current:
            step = self._steps.get((event_type, version))
            if step is None:
                raise EventSchemaError(
                    f"{event_type} has no upcaster from schema version {version} to {version + 1}."
                )
            data = step(data)
            version += 1
        return data
