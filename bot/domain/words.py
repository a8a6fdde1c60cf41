"""Numbers in sentences members read."""


def counted(number: int, noun: str) -> str:
    """``counted(1, "minute")`` → "1 minute", ``counted(2, "server")`` → "2 servers"."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
