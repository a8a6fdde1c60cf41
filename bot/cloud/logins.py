"""The pool of ED server logins: one login per running server, never two servers on one login.

Each login is referenced by the name of the SSM SecureString parameter holding it (the bot
never reads the credential; the server does, with its instance profile). Each login has a
stream ``edlogin#<name>`` of ``LoginAcquired`` / ``LoginReleased`` events, and taking one is a
conditional append at the version the pool last saw: of two bot processes racing for one
login, only one append succeeds; the other reloads, sees it taken, and tries the next login.

Taking a login also appends ``LoginClaimed`` to the mission's stream ``edlogin-claim#<mission>``
in the same atomic append, at the version read before deciding. So of two processes acquiring
for one mission at once, only one takes a login (whichever login each would pick); the other
conflicts on the claim, reads it again and returns the login the first one took.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass

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


def claim_stream(mission_id: str) -> str:
    return f"{CLAIM_PREFIX}{mission_id}"


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

    Acquiring reads the mission's claim (and the login it names) fresh from the store; the
    logins' own states are cached at their version, and a stale one shows up as a conflict on
    append, which reloads that login and decides again. Releasing reads every login fresh.
    """

    def __init__(self, store: EventStore, names: Sequence[str]) -> None:
        self.names = tuple(names)
        self._store = store
        self._repository = Repository(store, evolve, LoginHolder(), max_streams=1_000)

    async def acquire(self, mission_id: str) -> str | None:
        """A login for ``mission_id`` (the one it already holds, if any); None when every
        login is held by another mission."""
        retries_left = _RETRIES
        while True:
            claimed, claim_version = await self._last_claim(mission_id)
            if claimed is not None and await self._fresh_holder(claimed) == mission_id:
                return claimed
            try:
                return await self._take_free(mission_id, claim_version)
            except ConcurrencyError as error:
                if error.stream_id != claim_stream(mission_id) or retries_left <= 0:
                    raise
                retries_left -= 1

    async def release(self, mission_id: str) -> None:
        """Give back every login ``mission_id`` holds; releasing twice is not an error."""
        self._forget_all()
        for name in self.names:
            _, stored = await self._repository.execute(
                login_stream(name),
                lambda state: _give_back(state, mission_id),
                metadata=_metadata(mission_id),
            )
            if stored:
                log.info("login released", extra={"mission_id": mission_id, "login": name})

    async def holders(self) -> dict[str, str]:
        """{login: mission id} for every held login, read fresh from the store."""
        self._forget_all()
        found = {}
        for name in self.names:
            holder, _ = await self._repository.load(login_stream(name))
            if holder.mission_id is not None:
                found[name] = holder.mission_id
        return found

    async def _last_claim(self, mission_id: str) -> tuple[str | None, int]:
        """The login last claimed for the mission, if any, and the claim stream's version."""
        login, version = None, 0
        async for event in self._store.read(claim_stream(mission_id)):
            login, version = event.data["login"], event.version
        return login, version

    async def _fresh_holder(self, name: str) -> str | None:
        self._repository.forget(login_stream(name))
        holder, _ = await self._repository.load(login_stream(name))
        return holder.mission_id

    async def _take_free(self, mission_id: str, claim_version: int) -> str | None:
        """The first free login, taken for the mission if its claim is still at
        ``claim_version`` (else ``ConcurrencyError`` on the claim stream)."""
        for fresh in (False, True):
            if fresh:
                self._forget_all()
            for name in self.names:
                if await self._take(name, mission_id, claim_version):
                    log.info("login acquired", extra={"mission_id": mission_id, "login": name})
                    return name
        log.info("no login free", extra={"mission_id": mission_id, "logins": len(self.names)})
        return None

    async def _take(self, name: str, mission_id: str, claim_version: int) -> bool:
        """Whether the mission holds the login after trying to take it."""
        stream = login_stream(name)
        metadata = _metadata(mission_id)
        retries_left = _RETRIES
        while True:
            holder, version = await self._repository.load(stream)
            if holder.mission_id == mission_id:
                # Perhaps given back since, through another process: only the store can say.
                self._repository.forget(stream)
                holder, version = await self._repository.load(stream)
            if holder.mission_id is not None:
                return holder.mission_id == mission_id
            claim = NewEvent(CLAIMED, {"login": name}, metadata)
            acquired = NewEvent(ACQUIRED, {"mission_id": mission_id}, metadata)
            try:
                stored = await self._store.append_many(
                    [
                        (claim_stream(mission_id), claim_version, [claim]),
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


def _give_back(state: LoginHolder, mission_id: str) -> list[NewEvent]:
    if state.mission_id != mission_id:
        return []
    return [NewEvent(RELEASED, {"mission_id": mission_id})]


def _metadata(mission_id: str) -> dict[str, str | None]:
    return Actor.system("login_pool", mission_id).metadata()
