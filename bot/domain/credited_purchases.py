"""What a squadron keeps of each purchase ever credited: only what a later decision needs.

A purchase credited once is never credited again, a refund reverses at most what is left of it,
and a paid request is settled once; so each credited purchase keeps its `Credit` (a few numbers)
for good, while everything else about it (checkout, buyer, time) lives in its events.

A squadron may have tens of thousands of them and most loads never look at one, so a snapshot
holds them as JSON text, read only when a decision first asks about a purchase: an object
``{purchase_id: [credited_cents, refunded_cents, paid_request], ...}`` in which a later key
replaces an earlier one (as Python's `json` reads it), so what changed since is appended to the
text without reading it.
"""

import json
from collections.abc import Iterator
from typing import Any, NamedTuple

from immutables import Map


class Credit(NamedTuple):
    credited_cents: int
    refunded_cents: int
    paid_request: bool
    """The purchase paid for a start or booking (it had an intent)."""

    @property
    def refundable_cents(self) -> int:
        return self.credited_cents - self.refunded_cents


_NONE = "{}"


class CreditedPurchases:
    """Persistent: `set` returns a new value sharing the rest. The rows read from a snapshot
    (``text``, parsed on first use and kept) plus a hash trie of the credits set since."""

    __slots__ = ("_changes", "_read", "_text")

    def __init__(self, text: str = _NONE, changes: Map[str, Credit] | None = None) -> None:
        self._text = text
        self._read: dict[str, list[Any]] | None = {} if text == _NONE else None
        self._changes: Map[str, Credit] = Map() if changes is None else changes

    def get(self, purchase_id: str) -> Credit | None:
        changed = self._changes.get(purchase_id)
        if changed is not None:
            return changed
        read = self._rows().get(purchase_id)
        return None if read is None else Credit._make(read)

    def __contains__(self, purchase_id: object) -> bool:
        return purchase_id in self._changes or purchase_id in self._rows()

    def set(self, purchase_id: str, credit: Credit) -> "CreditedPurchases":
        after = CreditedPurchases(self._text, self._changes.set(purchase_id, credit))
        after._read = self._read
        return after

    def items(self) -> Iterator[tuple[str, Credit]]:
        for purchase_id, read in self._rows().items():
            if purchase_id not in self._changes:
                yield purchase_id, Credit._make(read)
        yield from self._changes.items()

    def __len__(self) -> int:
        return sum(1 for _ in self.items())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CreditedPurchases):
            return NotImplemented
        return dict(self.items()) == dict(other.items())

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"CreditedPurchases({dict(self.items())!r})"

    def to_text(self) -> str:
        """The credits as JSON text: the text read, with the changes since appended (unparsed)."""
        if not self._changes:
            return self._text
        added = json.dumps(dict(self._changes.items()), separators=(",", ":"))
        if self._text == _NONE:
            return added
        return f"{self._text[:-1]},{added[1:]}"

    def _rows(self) -> dict[str, list[Any]]:
        """The text read (once): each purchase's credit as a list, made a `Credit` when asked."""
        if self._read is None:
            self._read = json.loads(self._text)
        return self._read
