"""Paying for exactly what is needed: a start or booking that waits for its payment.

When a member is short of credit, the cog opens a checkout carrying an *intent*, the request to
carry out once paid. ``PurchaseStarted`` records it; when the payment is recorded, the intent
is carried out with the buyer as the actor, once: the mission's id is derived from the
purchase, so a second attempt finds it booked already.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from bot.domain.actor import Actor
from bot.domain.errors import DomainError, InvalidRequest
from bot.domain.mission import MissionState
from bot.domain.settings import SettingsError
from bot.domain.squadron import Purchase
from bot.notify import BookingConfirmedNotice, IntentFailedNotice, Notifier
from bot.services.missions import MissionService

log = logging.getLogger("rr.services")

PURCHASE_SOURCE = "purchase"
UNEXPECTED_FAILURE = (
    "Your payment was recorded, but the server could not be booked because of an error on our "
    "side; book it again with /server start or /server schedule."
)


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
    def __init__(self, missions: MissionService, notifier: Notifier) -> None:
        self._missions = missions
        self._notifier = notifier

    async def carry_out(
        self, guild_id: str, purchase: Purchase, causation_id: str | None
    ) -> MissionState | None:
        """Do what the paid purchase was for and tell the buyer how it went; returns the
        mission, or None when the request could not be carried out."""
        assert purchase.intent is not None
        actor = Actor(
            user_id=purchase.buyer_id,
            guild_id=guild_id,
            source=PURCHASE_SOURCE,
            source_id=purchase.purchase_id,
        )
        action = str(purchase.intent.get("action"))
        try:
            intent = Intent.from_data(purchase.intent)
            if intent.start_at is None:
                mission = await self._missions.start(
                    actor,
                    size=intent.size,
                    duration_minutes=intent.duration_minutes,
                    mission_name=intent.mission_name,
                    causation_id=causation_id,
                )
            else:
                mission = await self._missions.book(
                    actor,
                    start_at=intent.start_at,
                    duration_minutes=intent.duration_minutes,
                    size=intent.size,
                    mission_name=intent.mission_name,
                    causation_id=causation_id,
                )
        except (DomainError, SettingsError) as error:
            await self._failed(guild_id, purchase, action, str(error))
            return None
        except Exception:
            log.exception(
                "paid request failed",
                extra={"guild_id": guild_id, "purchase_id": purchase.purchase_id},
            )
            await self._failed(guild_id, purchase, action, UNEXPECTED_FAILURE)
            return None
        await self._notifier.notify(BookingConfirmedNotice(mission, purchase.purchase_id))
        return mission

    async def _failed(self, guild_id: str, purchase: Purchase, action: str, message: str) -> None:
        await self._notifier.notify(
            IntentFailedNotice(
                guild_id=guild_id,
                buyer_id=purchase.buyer_id,
                purchase_id=purchase.purchase_id,
                action=action,
                message=message,
            )
        )
