"""Paying for exactly what is needed: a start or booking that waits for its payment.

When a member is short of credit, the cog opens a checkout carrying an *intent*, the request to
carry out once paid. ``PurchaseStarted`` records it; when the payment is recorded, the intent
is carried out with the buyer as the actor, once: the session's id is derived from the
purchase, so a second attempt finds it booked already.

Its outcome is recorded on the squadron's stream as ``PaidRequestSettled``: in the booking's own
write when carried out, alone when refused. The buyer is told only by the attempt that
recorded it, so two processes, or a retry at start-up, never tell them twice; a request
credited but never settled (the bot stopped in between) is carried out at the next start-up.

Only a rule refuses a paid request for good. An unexpected error (the store or the cloud
failing) settles nothing: the operators are told, and the request is tried again after a
back-off that doubles, a few times; what is still unsettled then (or when the bot stops) is
taken up at the next start-up.
"""

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from bot.clock import Clock
from bot.domain import squadron as squadrons
from bot.domain.actor import Actor
from bot.domain.errors import DomainError, InvalidRequest
from bot.domain.session import SessionState
from bot.domain.settings import SettingsError
from bot.domain.squadron import PURCHASE_SOURCE, Purchase
from bot.notify import AdminAlertNotice, BookingConfirmedNotice, IntentFailedNotice, Notifier
from bot.services.sessions import SessionService, command_key
from bot.services.streams import Streams, decide_squadron
from eventstore import AlreadyAppended

log = logging.getLogger("rr.services")

LATE_START = timedelta(minutes=30)
TOO_LATE_TO_START = (
    "Your payment landed while rr was unavailable, so the server was not started late; the "
    "credit is yours to use: start it with /server start when you are ready."
)
RETRY_BACKOFF = timedelta(seconds=15)
"""Wait after a paid request's first unexpected failure; it doubles after each further one."""
RETRY_ATTEMPTS = 6
"""Tries in one run before the request is left for the next start-up (about 8 minutes)."""


@dataclass(frozen=True)
class Intent:
    """``{"action": "start" | "book", "duration_minutes": int, "size"?: str,
    "mission_name"?: str, "start_at"?: ISO-8601 text (for "book")}`` as stored in the event."""

    action: Literal["start", "book"]
    duration_minutes: int
    size: str | None = None
    mission_name: str | None = None
    start_at: datetime | None = None

    @classmethod
    def from_data(cls, data: Mapping[str, object]) -> "Intent":
        """Read an intent, or raise ``InvalidRequest`` saying what is wrong with it."""
        action = data.get("action")
        minutes = data.get("duration_minutes")
        size = data.get("size")
        mission_name = data.get("mission_name")
        start_text = data.get("start_at")
        if action not in ("start", "book"):
            raise InvalidRequest('A paid request must be "start" or "book".')
        if type(minutes) is not int:
            raise InvalidRequest("A paid request needs its duration in whole minutes.")
        if not isinstance(size, str | None) or not isinstance(mission_name, str | None):
            raise InvalidRequest("A paid request names its size and mission as text.")
        start_at = None
        if action == "book":
            if not isinstance(start_text, str):
                raise InvalidRequest("A paid booking needs its start time.")
            try:
                start_at = datetime.fromisoformat(start_text)
            except ValueError:
                raise InvalidRequest("A paid booking's start time is not a valid time.") from None
        return cls(action, minutes, size, mission_name, start_at)


class IntentRunner:
    def __init__(
        self, sessions: SessionService, streams: Streams, notifier: Notifier, clock: Clock
    ) -> None:
        self._sessions = sessions
        self._streams = streams
        self._notifier = notifier
        self._clock = clock
        self._stopping = asyncio.Event()
        self._taken: set[str] = set()
        """Purchase ids this process is carrying out, or gave up on until its next start."""

    def stop(self) -> None:
        """Stop waiting to try failed requests again: they stay unsettled, for the next
        start-up, and the tasks carrying them out end now instead of after their back-off."""
        self._stopping.set()

    def claim(self, purchase_id: str) -> bool:
        """Take the request up in this process before carrying it out; False when this process
        is carrying it out already, or gave up on it (until its next start)."""
        if purchase_id in self._taken:
            return False
        self._taken.add(purchase_id)
        return True

    def release(self, purchase_id: str) -> None:
        """Let a claimed request go (it was settled meanwhile, or is carried out)."""
        self._taken.discard(purchase_id)

    async def carry_out(
        self,
        guild_id: str,
        purchase: Purchase,
        causation_id: str | None,
        *,
        paid_at: datetime | None = None,
    ) -> SessionState | None:
        """Do what the paid purchase was for, once, and tell the buyer how it went; returns the
        session, or None when it was refused or is left for later.

        ``paid_at`` is when the payment was recorded (now, unless the request is taken up
        later, after a restart): a "start now" paid more than ``LATE_START`` ago is refused
        rather than starting a server nobody may be waiting for any more. An unexpected error
        is reported to the operators and the request tried again after a back-off. The caller
        has ``claim``-ed the request; it is released once settled.
        """
        purchase_id = purchase.purchase_id
        paid_at = paid_at or self._clock.now()
        failures = 0
        while True:
            try:
                outcome = await self._attempt(guild_id, purchase, causation_id, paid_at)
            except Exception as error:
                failures += 1
                log.exception(
                    "paid request failed",
                    extra={
                        "guild_id": guild_id,
                        "purchase_id": purchase.purchase_id,
                        "failures": failures,
                    },
                )
                if failures >= RETRY_ATTEMPTS:
                    await self._alert(purchase, guild_id, error, "left for the next start-up of rr")
                    return None
                backoff = RETRY_BACKOFF * 2 ** (failures - 1)
                if failures == 1:
                    await self._alert(
                        purchase, guild_id, error, f"trying again in {backoff.seconds} seconds"
                    )
                if not await self._wait(backoff):
                    return None
                continue
            self.release(purchase_id)
            return outcome

    async def _attempt(
        self, guild_id: str, purchase: Purchase, causation_id: str | None, paid_at: datetime
    ) -> SessionState | None:
        assert purchase.intent is not None
        actor = Actor(
            user_id=purchase.buyer_id,
            guild_id=guild_id,
            source=PURCHASE_SOURCE,
            source_id=purchase.purchase_id,
        )
        action = str(purchase.intent.get("action"))
        if action == "start" and self._clock.now() - paid_at > LATE_START:
            await self._refuse(actor, guild_id, purchase, action, TOO_LATE_TO_START, causation_id)
            return None
        try:
            intent = Intent.from_data(purchase.intent)
            booking = await self._sessions.place(
                actor,
                start_at=intent.start_at,
                duration_minutes=intent.duration_minutes,
                size=intent.size,
                mission_name=intent.mission_name,
                causation_id=causation_id,
            )
        except (DomainError, SettingsError) as error:
            await self._refuse(actor, guild_id, purchase, action, str(error), causation_id)
            return None
        if booking.recorded:
            await self._notifier.notify(
                BookingConfirmedNotice(booking.session, purchase.purchase_id)
            )
        return booking.session

    async def _wait(self, backoff: timedelta) -> bool:
        """Sleep ``backoff`` on the clock; False when the runner was stopped meanwhile."""
        sleeper = asyncio.ensure_future(self._clock.sleep_until(self._clock.now() + backoff))
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({sleeper, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in (sleeper, stopping):
                waiter.cancel()
            await asyncio.gather(sleeper, stopping, return_exceptions=True)
        return not self._stopping.is_set()

    async def _alert(self, purchase: Purchase, guild_id: str, error: Exception, then: str) -> None:
        """Tell the operators; the error's type only, as its text may carry anything."""
        action = str(purchase.intent.get("action")) if purchase.intent else "request"
        await self._notifier.notify(
            AdminAlertNotice(
                None,
                f"A paid {action} (purchase {purchase.purchase_id}, guild {guild_id}) failed "
                f"with an unexpected {type(error).__name__}; {then}.",
            )
        )

    async def _refuse(
        self,
        actor: Actor,
        guild_id: str,
        purchase: Purchase,
        action: str,
        message: str,
        causation_id: str | None,
    ) -> None:
        """Record the refusal, then tell the buyer; a request another attempt settled first is
        left as that attempt recorded it (and told)."""
        settle = squadrons.SettlePaidRequest(
            actor=actor, purchase_id=purchase.purchase_id, outcome="refused", message=message
        )
        try:
            _, stored = await self._streams.write_squadron(
                guild_id,
                lambda current: decide_squadron(settle, current),
                idempotency_key=command_key(actor, "settle"),
                causation_id=causation_id,
            )
        except AlreadyAppended:
            return
        if stored:
            await self._notifier.notify(
                IntentFailedNotice(
                    guild_id=guild_id,
                    buyer_id=purchase.buyer_id,
                    purchase_id=purchase.purchase_id,
                    action=action,
                    message=message,
                )
            )
