"""Bounded exponential back-off: 1, 2, 4 … seconds, never more than ``ceiling``."""


class Backoff:
    def __init__(self, first: float = 1.0, ceiling: float = 60.0) -> None:
        self._first = first
        self._ceiling = ceiling
        self._next = first

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self._ceiling, self._next * 2)
        return delay

    def reset(self) -> None:
        self._next = self._first
