"""A squadron's settings and credit: what members see and change, and what payments record.

Payments are recorded exactly once: the domain credits a purchase once, for good (its `Credit`
stays in the state), and the append carries the checkout session id as its idempotency key
(kept 7 days), so a redelivered webhook and a second event for the same session, however late,
both find nothing to do. A payment made for a start or booking
carries it out in the background; one the bot stopped before carrying out is taken up at the
next start-up by ``resume_paid_requests``.
"""

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from bot.domain import squadron as squadrons
from bot.domain.actor import Actor
from bot.domain.errors import InvalidRequest, NotAllowed
from bot.domain.events import (
    CreditsGranted,
    CreditsPurchased,
    CreditsRefunded,
    DomainEvent,
    SessionCharged,
    from_stored,
)
from bot.domain.pricing import Pricing
from bot.domain.session import describe_minutes
from bot.domain.settings import SquadronSettings
from bot.domain.squadron import Purchase, SquadronState, squadron_stream
from bot.secrets import KeyRing
from bot.services.background import BackgroundTasks
from bot.services.intents import Intent, IntentRunner
from bot.services.logged import logged
from bot.services.sessions import command_key
from bot.services.streams import Streams, decide_squadron
from bot.view import Balance
from eventstore import AlreadyAppended, NewEvent, StoredEvent

log = logging.getLogger("rr.services")

T = TypeVar("T")

LedgerKind = Literal["purchase", "grant", "refund", "charge"]
CloseReason = Literal["expired", "payment_failed"]
CLOSE_REASONS: dict[str, CloseReason] = {"expired": "expired", "payment_failed": "payment_failed"}


@dataclass(frozen=True)
class LedgerEntry:
    """One change of a squadron's balance; ``amount_cents`` is negative when credit left."""

    recorded_at: datetime
    kind: LedgerKind
    amount_cents: int
    balance_cents: int
    """The balance right after this entry."""
    description: str
    session_id: str | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a longer list; ``page`` counts from 0."""

    items: tuple[T, ...]
    page: int
    page_size: int
    total: int

    @property
    def pages(self) -> int:
        return math.ceil(self.total / self.page_size)


class SquadronService:
    def __init__(
        self,
        *,
        streams: Streams,
        pricing: Pricing,
        intents: IntentRunner,
        background: BackgroundTasks,
        keys: KeyRing | None = None,
    ) -> None:
        self._keys = keys
        self._streams = streams
        self._pricing = pricing
        self._intents = intents
        self._background = background
        self.carries_out_paid_requests = True
        """False in a standby process: a payment it records leaves its paid request to the
        active process (which has Discord, to tell the buyer; see `resume_paid_requests`)."""

    # --- looking ----------------------------------------------------------------------------

    async def get(self, guild_id: str) -> SquadronState:
        return await self._streams.squadron(guild_id)

    async def squadron_name(self, guild_id: str) -> str:
        return (await self._streams.squadron(guild_id)).settings.server_name

    async def balance(self, guild_id: str) -> Balance:
        return Balance.of(await self._streams.squadron(guild_id))

    async def history(
        self, guild_id: str, *, page: int = 0, page_size: int = 10
    ) -> Page[LedgerEntry]:
        """The squadron's credit movements, newest first."""
        if page < 0 or page_size < 1:
            raise InvalidRequest("Ask for page 1 or later, with at least one entry a page.")
        entries: list[LedgerEntry] = []
        balance = 0
        async for stored in self._streams.store.read(squadron_stream(guild_id)):
            if stored.type not in _LEDGER_TYPES:
                continue
            entry = _ledger_entry(from_stored(stored), stored.recorded_at, balance)
            if entry is not None:
                entries.append(entry)
                balance = entry.balance_cents
        entries.reverse()
        first = page * page_size
        return Page(tuple(entries[first : first + page_size]), page, page_size, len(entries))

    # --- changing ---------------------------------------------------------------------------

    async def change_settings(self, actor: Actor, changes: Mapping[str, str]) -> SquadronSettings:
        """Apply settings typed as text (parsed and checked by the rules); managers only."""
        guild_id = _guild_of(actor)
        with logged("change settings", guild_id=guild_id, user_id=actor.user_id) as fields:
            fields["keys"] = ",".join(sorted(changes))
            state, _ = await self._streams.write_squadron(
                guild_id,
                lambda current: decide_squadron(
                    squadrons.ChangeSettings(actor=actor, changes=changes), current
                ),
                idempotency_key=command_key(actor, "settings"),
            )
            return state.settings

    async def forget_secrets(self, actor: Actor, guild_id: str) -> bool:
        """Delete the squadron's key, so the secret settings it sealed in the event history can
        never be read again, and record them blank (operators only). False when the squadron had
        no key: nothing of it was sealed."""
        if not actor.is_operator:
            raise NotAllowed("Only an rr operator can forget a squadron's secrets.")
        if self._keys is None:
            raise InvalidRequest("This rr keeps no squadron keys, so it has nothing to forget.")
        with logged("forget secrets", guild_id=guild_id, user_id=actor.user_id) as fields:
            deleted = await self._keys.forget(guild_id)
            fields["had_key"] = deleted
            await self._streams.write_squadron(
                guild_id,
                lambda current: decide_squadron(squadrons.ForgetSecrets(actor=actor), current),
                idempotency_key=command_key(actor, "forget-secrets"),
            )
            return deleted

    async def grant(self, actor: Actor, guild_id: str, amount_cents: int, reason: str) -> Balance:
        """Give credit (operators only)."""
        with logged("grant", guild_id=guild_id, user_id=actor.user_id, amount_cents=amount_cents):
            state, _ = await self._streams.write_squadron(
                guild_id,
                lambda current: decide_squadron(
                    squadrons.GrantCredits(actor=actor, amount=amount_cents, reason=reason), current
                ),
                idempotency_key=command_key(actor, "grant"),
            )
            return Balance.of(state)

    async def refund(
        self,
        actor: Actor,
        guild_id: str,
        amount_cents: int,
        reason: str,
        *,
        allow_negative: bool = False,
    ) -> Balance:
        """Take credit back (operators only); beyond what is available only with
        ``allow_negative``."""
        with logged("refund", guild_id=guild_id, user_id=actor.user_id, amount_cents=amount_cents):
            refund = squadrons.RefundCredits(
                actor=actor,
                amount=amount_cents,
                reason=reason,
                allow_negative=allow_negative,
                currency=self._pricing.currency,
            )
            state, _ = await self._streams.write_squadron(
                guild_id,
                lambda current: decide_squadron(refund, current),
                idempotency_key=command_key(actor, "refund"),
            )
            return Balance.of(state)

    # --- payments ---------------------------------------------------------------------------

    async def check_open_purchases(
        self, guild_id: str, buyer_id: str, *, lapsed_before: datetime
    ) -> None:
        """Refuse (``Conflict``) a buyer already holding the most open checkouts allowed, before
        a new checkout is opened for them."""
        state = await self._streams.squadron(guild_id)
        squadrons.check_open_purchases(state, buyer_id, lapsed_before)

    async def record_purchase_started(
        self,
        actor: Actor,
        guild_id: str,
        purchase_id: str,
        amount_cents: int,
        checkout_session_id: str,
        intent: Mapping[str, Any] | None,
        *,
        lapsed_before: datetime,
    ) -> None:
        """Record an opened checkout and what to do once it is paid (checked now, not later);
        checkouts opened before ``lapsed_before`` have expired and no longer count as open."""
        if intent is not None:
            Intent.from_data(intent)
        with logged("purchase started", guild_id=guild_id, purchase_id=purchase_id):
            await self._streams.write_squadron(
                guild_id,
                lambda current: decide_squadron(
                    squadrons.StartPurchase(
                        actor=actor,
                        purchase_id=purchase_id,
                        amount_cents=amount_cents,
                        buyer_id=actor.user_id,
                        checkout_session_id=checkout_session_id,
                        lapsed_before=lapsed_before,
                        intent=intent,
                    ),
                    current,
                ),
            )

    async def record_purchase(
        self,
        guild_id: str,
        purchase_id: str,
        amount_cents: int,
        buyer_id: str,
        checkout_session_id: str,
        payment_event_id: str,
    ) -> bool:
        """Credit a paid checkout; False when that session was already credited. A purchase
        made for a start or booking then carries it out in the background (in the active
        process; a standby leaves it unsettled for the active one to take up)."""
        actor = Actor.system("stripe", payment_event_id)
        with logged("purchase", guild_id=guild_id, purchase_id=purchase_id) as fields:
            try:
                state, stored = await self._streams.write_squadron(
                    guild_id,
                    lambda current: decide_squadron(
                        squadrons.RecordPurchase(
                            actor=actor,
                            purchase_id=purchase_id,
                            amount_cents=amount_cents,
                            buyer_id=buyer_id,
                            checkout_session_id=checkout_session_id,
                            payment_event_id=payment_event_id,
                        ),
                        current,
                    ),
                    idempotency_key=f"checkout:{checkout_session_id}",
                )
            except AlreadyAppended:
                stored = []
            if not stored:
                fields["outcome"] = "duplicate"
                return False
            purchase = state.purchases.get(purchase_id)
            if purchase is not None and purchase.intent is not None:
                fields["intent"] = purchase.intent.get("action")
                if not self.carries_out_paid_requests:
                    fields["outcome"] = "left to the active process"
                    return True
                if not self._intents.claim(purchase_id):
                    return True
                self._background.spawn(
                    self._intents.carry_out(guild_id, purchase, stored[0].id),
                    name=f"intent:{purchase_id}",
                )
            return True

    async def resume_paid_requests(self) -> int:
        """Carry out every paid request whose payment was recorded but which was never settled
        (the bot stopped in between); returns how many were taken up.

        Run at start-up, after the view is rebuilt, and by the active process after each pass
        of the feed (a standby records payments but leaves their requests to it); the requests
        are carried out in the background (one that fails is tried again after a back-off).
        Safe beside other processes doing the same or carrying one out: each request is
        settled, and its buyer told, once; one this process is carrying out already, or gave
        up on, is skipped.
        """
        resumed = 0
        for guild_id in await self._streams.view.guilds_with_unsettled_paid_requests():
            seen = (await self._streams.squadron(guild_id)).unsettled_paid_requests
            claimed = [p.purchase_id for p in seen if self._intents.claim(p.purchase_id)]
            if not claimed:
                continue
            # Read again once claimed: one this process settled meanwhile is let go.
            state = await self._streams.squadron(guild_id)
            unsettled = {p.purchase_id: p for p in state.unsettled_paid_requests}
            credited = await self._credited_purchases(guild_id)
            for purchase_id in claimed:
                purchase = unsettled.get(purchase_id)
                if purchase is None:
                    self._intents.release(purchase_id)
                    continue
                resumed += 1
                log.info(
                    "resuming paid request",
                    extra={"guild_id": guild_id, "purchase_id": purchase_id},
                )
                payment = credited.get(purchase_id)
                self._background.spawn(
                    self._intents.carry_out(
                        guild_id,
                        purchase,
                        payment.id if payment else None,
                        paid_at=payment.recorded_at if payment else None,
                    ),
                    name=f"intent:{purchase_id}",
                )
        return resumed

    async def _credited_purchases(self, guild_id: str) -> dict[str, StoredEvent]:
        """Each ``CreditsPurchased`` event on the squadron's stream, by purchase: its id is the
        cause recorded on the booking it pays for, its time when the payment landed."""
        found: dict[str, StoredEvent] = {}
        async for stored in self._streams.store.read(squadron_stream(guild_id)):
            if stored.type == CreditsPurchased.TYPE:
                found[str(stored.data["purchase_id"])] = stored
        return found

    async def purchase(self, guild_id: str, purchase_id: str) -> Purchase | None:
        """The purchase as the store holds it now: a webhook may name one that another process
        started, which neither this process's cache nor its view may have seen yet. One no
        longer in play (paid, or closed) is read from the stream's events, as history is."""
        self._decide_on_fresh_state(guild_id)
        state, _ = await self._streams.squadrons.load(squadron_stream(guild_id))
        in_play = state.purchases.get(purchase_id)
        if in_play is not None:
            return in_play
        found = None
        async for stored in self._streams.store.read(squadron_stream(guild_id)):
            if stored.data.get("purchase_id") == purchase_id:
                found = squadrons.trace_purchase(found, from_stored(stored), stored.recorded_at)
        return found

    def _decide_on_fresh_state(self, guild_id: str) -> None:
        """Drop this process's cached squadron before a webhook decides on it.

        A decision that finds nothing to do appends nothing, so no version check would catch a
        cache that predates another process's writes (the credit a refund reverses, the purchase
        an expiry closes). Webhooks are rare, so the one read this costs is cheap.
        """
        self._streams.squadrons.forget(squadron_stream(guild_id))

    async def close_purchase(
        self, guild_id: str, purchase_id: str, reason: str, event_id: str
    ) -> bool:
        """Close an unpaid checkout; False when it was already credited or closed."""
        close_reason = CLOSE_REASONS.get(reason)
        if close_reason is None:
            raise InvalidRequest(f"A purchase closes as {' or '.join(CLOSE_REASONS)}.")
        actor = Actor.system("stripe", event_id)
        self._decide_on_fresh_state(guild_id)
        with logged("purchase closed", guild_id=guild_id, purchase_id=purchase_id) as fields:
            try:
                _, stored = await self._streams.write_squadron(
                    guild_id,
                    lambda current: decide_squadron(
                        squadrons.ClosePurchase(
                            actor=actor,
                            purchase_id=purchase_id,
                            reason=close_reason,
                        ),
                        current,
                    ),
                    idempotency_key=f"stripe:{event_id}",
                )
            except AlreadyAppended:
                stored = []
            fields["outcome"] = "closed" if stored else "duplicate"
            return bool(stored)

    async def record_stripe_refund(
        self, guild_id: str, purchase_id: str, refunded_total_cents: int, event_id: str
    ) -> int:
        """Bring what was reversed of the purchase up to Stripe's refunded total; returns the
        shortfall (credit already spent, which could not be taken back)."""
        actor = Actor.system("stripe", event_id)

        def decide(current: SquadronState) -> list[NewEvent]:
            credit = current.credited.get(purchase_id)
            already = 0 if credit is None else credit.refunded_cents
            if refunded_total_cents <= already:
                return []
            refund = squadrons.RefundCredits(
                actor=actor,
                amount=refunded_total_cents - already,
                reason="Refunded through Stripe",
                purchase_id=purchase_id,
                source="stripe",
                currency=self._pricing.currency,
            )
            return decide_squadron(refund, current)

        self._decide_on_fresh_state(guild_id)
        with logged("stripe refund", guild_id=guild_id, purchase_id=purchase_id) as fields:
            try:
                _, stored = await self._streams.write_squadron(
                    guild_id, decide, idempotency_key=f"stripe:{event_id}"
                )
            except AlreadyAppended:
                stored = []
            shortfall = sum(_shortfall(event) for event in stored)
            fields["shortfall_cents"] = shortfall
            return shortfall


def _guild_of(actor: Actor) -> str:
    if actor.guild_id is None:
        raise InvalidRequest("Change settings from inside your squadron's Discord server.")
    return actor.guild_id


def _shortfall(stored: StoredEvent) -> int:
    event = from_stored(stored)
    return event.shortfall_cents if isinstance(event, CreditsRefunded) else 0


_LEDGER_TYPES = frozenset(
    kind.TYPE for kind in (CreditsPurchased, CreditsGranted, CreditsRefunded, SessionCharged)
)
"""The events that move a squadron's balance (as its fold does); history reads only these."""


def _ledger_entry(event: DomainEvent, at: datetime, before_cents: int) -> LedgerEntry | None:
    """The entry for ``event``, which found the balance at ``before_cents``."""
    match event:
        case CreditsPurchased():
            amount = event.amount_cents
            return LedgerEntry(at, "purchase", amount, before_cents + amount, "Credit bought")
        case CreditsGranted():
            amount, text = event.amount_cents, f"Granted: {event.reason}"
            return LedgerEntry(at, "grant", amount, before_cents + amount, text)
        case CreditsRefunded():
            text = f"Refunded: {event.reason}"
            if event.shortfall_cents:
                text += f" ({event.shortfall_cents} cents already spent)"
            amount = -event.amount_cents
            return LedgerEntry(at, "refund", amount, before_cents + amount, text)
        case SessionCharged():
            text = f"Server time: {describe_minutes(event.minutes)}"
            amount = -event.amount_cents
            return LedgerEntry(at, "charge", amount, before_cents + amount, text, event.session_id)
    return None
