"""Where the agent API finds a launch's server files (rendered configs, passwords included)."""

from collections.abc import Mapping
from types import MappingProxyType
from typing import Protocol


class SessionFiles(Protocol):
    async def files_for(self, session_id: str, attempt: int) -> Mapping[str, bytes] | None:
        """{path relative to the DCS write folder: bytes} for that launch; None if unknown."""
        ...


class LaunchFiles:
    """Files put in memory per launch: a `SessionFiles` for tests and the benchmark of the API
    alone (rr renders each launch's files when asked instead, keeping none)."""

    def __init__(self) -> None:
        self._files: dict[str, tuple[int, Mapping[str, bytes]]] = {}

    def put(self, session_id: str, attempt: int, files: Mapping[str, bytes]) -> None:
        self._files[session_id] = (attempt, MappingProxyType(dict(files)))

    def forget(self, session_id: str) -> None:
        self._files.pop(session_id, None)

    async def files_for(self, session_id: str, attempt: int) -> Mapping[str, bytes] | None:
        found = self._files.get(session_id)
        if found is None or found[0] != attempt:
            return None
        return found[1]
