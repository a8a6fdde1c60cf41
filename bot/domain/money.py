"""Showing integer cents as money in the messages users read."""

_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "cad": "CA$", "aud": "A$"}


def format_cents(cents: int, currency: str) -> str:
    """`1250, "usd"` → "$12.50"; `-300, "eur"` → "-€3.00"; unknown codes follow the amount."""
    sign = "-" if cents < 0 else ""
    units, rest = divmod(abs(cents), 100)
    amount = f"{units:,}.{rest:02d}"
    symbol = _SYMBOLS.get(currency.lower())
    if symbol is None:
        return f"{sign}{amount} {currency.upper()}"
    return f"{sign}{symbol}{amount}"
