"""The errors an event store raises; each carries the facts a caller needs to react."""


class EventStoreError(Exception):
    """Base class of every error the event store raises on purpose."""


class ConcurrencyError(EventStoreError):
    """The stream was not at the version the append expected: another writer got there first."""

    def __init__(self, stream_id: str, expected_version: int) -> None:
        super().__init__(
            f"stream {stream_id!r} is not at version {expected_version}: another writer appended "
            "first; read the new events and decide again"
        )
        self.stream_id = stream_id
        self.expected_version = expected_version


class AlreadyAppended(EventStoreError):
    """An append with this idempotency key has already been written; this one wrote nothing."""

    def __init__(self, idempotency_key: str) -> None:
        super().__init__(f"an append with idempotency key {idempotency_key!r} was already written")
        self.idempotency_key = idempotency_key


class EventTooLarge(EventStoreError, ValueError):
    """An event would exceed DynamoDB's 400 KB item limit; it is refused on every backend."""

    def __init__(self, stream_id: str, event_type: str, size: int, limit: int) -> None:
        super().__init__(
            f"event {event_type!r} on stream {stream_id!r} takes {size} bytes when stored, over "
            f"the {limit}-byte limit: keep large payloads elsewhere and store a reference"
        )
        self.stream_id = stream_id
        self.event_type = event_type
        self.size = size
        self.limit = limit


class LeaseLost(EventStoreError):
    """The lease is no longer this holder's: it expired or another process took it over.

    Raised by ``renew_lease`` and by an append fenced by the lease; the append wrote nothing.
    """

    def __init__(self, name: str, token: int) -> None:
        super().__init__(
            f"lease {name!r} with fencing token {token} is no longer held: it expired or another "
            "process acquired it; stop the work it authorised"
        )
        self.name = name
        self.token = token
