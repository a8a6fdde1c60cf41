"""The pool of ED server logins: one login per running server, never two servers on one login.

Each login is referenced by the name of the SSM SecureString parameter holding it (the bot
never reads the credential; the server does, with its instance profile). Each login has a
stream ``edlogin#<name>`` of ``LoginAcquired`` / ``LoginReleased`` events, and taking one is a
conditional append at the version the pool last saw: of two bot processes racing for one
login, only one append succeeds; the other reloads, sees it taken, and tries the next login.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from bot.domain.actor import Actor
from eventstore import EventStore, NewEvent, Repository, StoredEvent

log = logging.getLogger("rr.cloud.logins")

STREAM_PREFIX = "edlogin#"
ACQUIRED = "LoginAcquired"
RELEASED = "LoginReleased"


def login_stream(name: str) -> str:
    return f"{STREAM_PREFIX}{name}"


@dataclass(frozen=True, slots=True)
class LoginHolder:
    """Which mission holds a login; None when it is free."""

    mission_id: str | None = None


def evolve(state: LoginHolder, stored: StoredEvent) -> LoginHolder:
    if stored.type == ACQUIRED:
        return LoginHolder(stored.data["mission_id"])
    if stored.type == RELEASED:
        return LoginHolder(None)
    raise ValueError(f"{stored.type} does not belong to a login stream.")


class LoginPool:
    """Hands out the configured logins (the app gives a launch no pool when none is configured).

    Warm calls read nothing: each login's stream is cached at its version, and a stale cache
    shows up as a conflict on append, which reloads that login and decides again.
    """

    def __init__(self, store: EventStore, names: Sequence[str]) -> None:
        self.names = tuple(names)
        self._repository = Repository(store, evolve, LoginHolder(), max_streams=1_000)

    async def acquire(self, mission_id: str) -> str | None:
        """A login for ``mission_id`` (the one it already holds, if any); None when every
        login is held by another mission."""
        for fresh in (False, True):
            if fresh:
                self._forget_all()
            held = await self._held_by(mission_id)
            if held is not None:
                return held
            for name in self.names:
                holder, _ = await self._repository.execute(
                    login_stream(name),
                    lambda state: _take(state, mission_id),
                    metadata=_metadata(mission_id),
                )
                if holder.mission_id == mission_id:
                    log.info("login acquired", extra={"mission_id": mission_id, "login": name})
                    return name
        log.info("no login free", extra={"mission_id": mission_id, "logins": len(self.names)})
        return None

    async def release(self, mission_id: str) -> None:
        """Give back whatever login ``mission_id`` holds; releasing twice is not an error."""
        for fresh in (False, True):
            if fresh:
                self._forget_all()
            name = await self._held_by(mission_id)
            if name is None:
                continue
            _, stored = await self._repository.execute(
                login_stream(name),
                lambda state: _give_back(state, mission_id),
                metadata=_metadata(mission_id),
            )
            if stored:
                log.info("login released", extra={"mission_id": mission_id, "login": name})
                return

    async def holders(self) -> dict[str, str]:
        """{login: mission id} for every held login, read fresh from the store."""
        self._forget_all()
        found = {}
        for name in self.names:
            holder, _ = await self._repository.load(login_stream(name))
            if holder.mission_id is not None:
                found[name] = holder.mission_id
        return found

    async def _held_by(self, mission_id: str) -> str | None:
        for name in self.names:
            holder, _ = await self._repository.load(login_stream(name))
            if holder.mission_id == mission_id:
                return name
        return None

    def _forget_all(self) -> None:
        for name in self.names:
            self._repository.forget(login_stream(name))


def _take(state: LoginHolder, mission_id: str) -> list[NewEvent]:
    if state.mission_id is not None:
        return []
    return [NewEvent(ACQUIRED, {"mission_id": mission_id})]


def _give_back(state: LoginHolder, mission_id: str) -> list[NewEvent]:
    if state.mission_id != mission_id:
        return []
    return [NewEvent(RELEASED, {"mission_id": mission_id})]


def _metadata(mission_id: str) -> dict[str, str | None]:
    return Actor.system("login_pool", mission_id).metadata()
