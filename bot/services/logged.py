"""One structured log line per command handled and per action taken, with its outcome."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from bot.domain.errors import DomainError
from bot.domain.settings import SettingsError

log = logging.getLogger("rr.services")


@contextmanager
def logged(what: str, **fields: object) -> Iterator[dict[str, object]]:
    """Log ``what`` with ``fields`` once the block ends.

    The block may add fields (a session id it learned) or set ``outcome`` (default "ok").
    A refusal of the rules is logged as "refused" with the error's class, anything else as
    "failed"; either way the exception goes on to the caller, which reports it. Never pass a
    secret as a field.
    """
    try:
        yield fields
    except (DomainError, SettingsError) as error:
        log.info(what, extra={**fields, "outcome": "refused", "refusal": type(error).__name__})
        raise
    except Exception as error:
        log.warning(what, extra={**fields, "outcome": "failed", "error": type(error).__name__})
        raise
    log.info(what, extra={"outcome": "ok", **fields})
