"""The pool of ED server logins: one login per running server, never two servers on one login.

Each login is referenced by the name of the SSM SecureString parameter holding it (the bot
never reads the credential; the server does, with its instance profile). Each login has a
stream ``edlogin#<name>`` of ``LoginAcquired`` / ``LoginReleased`` events, and taking one is a
conditional append at the version the pool last saw: of two bot processes racing for one
login, only one append succeeds; the other reloads, sees it taken, and tries the next login.

Taking a login also appends ``LoginClaimed`` to the session's stream ``edlogin-claim#<session>``
in the same atomic append, at the version read before deciding. So of two processes acquiring
for one session at once, only one takes a login (whichever login each would pick); the other
conflicts on the claim, reads it again and returns the login the first one took.
"""

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.domain.actor import Actor
from eventstore import ConcurrencyError, EventStore, NewEvent, Repository, StoredEvent

log = logging.getLogger("rr.cloud.logins")

STREAM_PREFIX = "edlogin#"
CLAIM_PREFIX = "edlogin-claim#"
ACQUIRED = "LoginAcquired"
RELEASED = "LoginReleased"
CLAIMED = "LoginClaimed"
_RETRIES = 3


def login_stream(name: str) -> str:
    return f"{STREAM_PREFIX}{name}"


def claim_stream(session_id: str) -> str:
    return f"{CLAIM_PREFIX}{session_id}"


@dataclass(frozen=True, slots=True)
class LoginHolder:
    """Which session holds a login; None when it is free."""

    session_id: str | None = None


def evolve(state: LoginHolder, stored: StoredEvent) -> LoginHolder:
    if stored.type == ACQUIRED:
        return LoginHolder(_holder_id(stored.data))
    if stored.type == RELEASED:
        return LoginHolder(None)
    raise ValueError(f"{stored.type} does not belong to a login stream.")


def _holder_id(data: Mapping[str, Any]) -> str:
    """Events written before sessions were called sessions name the holder ``mission_id``."""
    return str(data["session_id"] if "session_id" in data else data["mission_id"])


class StoredLoginPool:
    """Hands out the configured logins (the app gives a launch no pool when none is configured).

    Acquiring reads the session's claim (and the login it names) fresh from the store; the
    logins' own states are cached at their version, and a stale one shows up as a conflict on
    append, which reloads that login and decides again. Releasing reads every login fresh.
    """

    def __init__(self, store: EventStore, names: Sequence[str]) -> None:
        self.names = tuple(names)
        self._store = store
        self._repository = Repository(store, evolve, LoginHolder(), max_streams=1_000)

    async def acquire(self, session_id: str) -> str | None:
        """A login for ``session_id`` (the one it already holds, if any); None when every
        login is held by another session."""
        retries_left = _RETRIES
        while True:
            claimed, claim_version = await self._last_claim(session_id)
            if claimed is not None and await self._fresh_holder(claimed) == session_id:
                return claimed
            try:
                return await self._take_free(session_id, claim_version)
            except ConcurrencyError as error:
                if error.stream_id != claim_stream(session_id) or retries_left <= 0:
                    raise
                retries_left -= 1

    async def release(self, session_id: str) -> None:
        """Give back every login ``session_id`` holds; releasing twice is not an error."""
        self._forget_all()
        for name in self.names:
            _, stored = await self._repository.execute(
                login_stream(name),
                lambda state: _give_back(state, session_id),
                metadata=_metadata(session_id),
            )
            if stored:
                log.info("login released", extra={"session_id": session_id, "login": name})

    async def holders(self) -> dict[str, str]:
        """{login: session id} for every held login, read fresh from the store."""
        self._forget_all()
        found = {}
        for name in self.names:
            holder, _ = await self._repository.load(login_stream(name))
            if holder.session_id is not None:
                found[name] = holder.session_id
        return found

    async def _last_claim(self, session_id: str) -> tuple[str | None, int]:
        """The login last claimed for the session, if any, and the claim stream's version."""
        login, version = None, 0
        async for event in self._store.read(claim_stream(session_id)):
            login, version = event.data["login"], event.version
        return login, version

    async def _fresh_holder(self, name: str) -> str | None:
        self._repository.forget(login_stream(name))
        holder, _ = await self._repository.load(login_stream(name))
        return holder.session_id

    async def _take_free(self, session_id: str, claim_version: int) -> str | None:
        """The first free login, taken for the session if its claim is still at
        ``claim_version`` (else ``ConcurrencyError`` on the claim stream)."""
        for fresh in (False, True):
            if fresh:
                self._forget_all()
            for name in self.names:
                if await self._take(name, session_id, claim_version):
                    log.info("login acquired", extra={"session_id": session_id, "login": name})
                    return name
        log.info("no login free", extra={"session_id": session_id, "logins": len(self.names)})
        return None

    async def _take(self, name: str, session_id: str, claim_version: int) -> bool:
        """Whether the session holds the login after trying to take it."""
        stream = login_stream(name)
        metadata = _metadata(session_id)
        retries_left = _RETRIES
        while True:
            holder, version = await self._repository.load(stream)
            if holder.session_id == session_id:
                # Perhaps given back since, through another process: only the store can say.
                self._repository.forget(stream)
                holder, version = await self._repository.load(stream)
            if holder.session_id is not None:
                return holder.session_id == session_id
            claim = NewEvent(CLAIMED, {"login": name}, metadata)
            acquired = NewEvent(ACQUIRED, {"session_id": session_id}, metadata)
            try:
                stored = await self._store.append_many(
                    [
                        (claim_stream(session_id), claim_version, [claim]),
                        (stream, version, [acquired]),
                    ]
                )
            except ConcurrencyError as error:
                if error.stream_id != stream or retries_left <= 0:
                    raise
                retries_left -= 1
                self._repository.forget(stream)
                continue
            self._repository.remember(stream, stored)
            return True

    def _forget_all(self) -> None:
        for name in self.names:
            self._repository.forget(login_stream(name))


def _give_back(state: LoginHolder, session_id: str) -> list[NewEvent]:
    if state.session_id != session_id:
        return []
    return [NewEvent(RELEASED, {"session_id": session_id})]


def _metadata(session_id: str) -> dict[str, str | None]:
    return Actor.system("login_pool", session_id).metadata()
