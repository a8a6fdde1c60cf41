"""A fixture setting up rr's own logging into a string for a test, and putting back the test
runner's logging afterwards."""

import io
import logging
from collections.abc import Callable, Iterator

import pytest

from bot.logs import configure_logging

LogToString = Callable[[str, list[str]], io.StringIO]


@pytest.fixture
def log_to_string() -> Iterator[LogToString]:
    """``log_to_string(level, secrets)`` configures logging as rr-bot does; returns the output."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level

    def configure(level: str, secrets: list[str]) -> io.StringIO:
        stream = io.StringIO()
        configure_logging(level, secrets, stream=stream)
        return stream

    yield configure
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved_handlers:
        root.addHandler(handler)
    root.setLevel(saved_level)
