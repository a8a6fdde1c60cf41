"""The squadron aggregate (stream `squadron#<guild_id>`): settings, the credit ledger and the
mission library (its rules in `bot.domain.library`: managers add and remove missions, within
the quota, under names unique across the library and the missions on the image).

Ledger model: `balance_cents` is all credit the squadron holds, reserved or not;
`reservations` holds what each active session has set aside (in the order reserved), and
`available_cents = balance - reserved` is what new reservations may take. Rules:

- No decision takes the balance below zero, except an admin refund with `allow_negative=True`.
  A `Charge` is a fact (the minutes ran) and is always recorded, even beyond the reservation.
- A reservation needs `available >= amount`; at most `limits.max_concurrent_per_guild`
  sessions hold reservations at once (a session holds one from booking until charged/released).
  A reservation with a `minimum` (a start now: prepaid time) takes `min(amount, available)`
  provided that is at least the minimum; the server runs on it, topped up from later credit.
- A Stripe refund reverses at most what is left of the purchase and at most the balance; the
  rest is recorded as `shortfall_cents` (already spent). When available credit does not cover
  it, reservations are cut, newest first (`ReservationReduced`).
- An admin refund may only take available credit, so it never eats into reservations;
  beyond that it needs `allow_negative=True` and then takes the balance below what is reserved.
- Purchases are credited once: recording one already credited decides nothing, however late
  (each credited purchase keeps its `Credit` for good). Starting one is checked against the
  purchases in play only (rr makes a new purchase id for each checkout, and a member's first
  checkout after a restart then need not read the credits); closing one not open decides
  nothing.
- A member holds at most `MAX_OPEN_PURCHASES` open checkouts (started, neither paid nor closed,
  nor older than the link's lifetime); another is refused until one is paid or lapses.
- A credited purchase made for a start or booking (its intent) is settled once: carried out
  with its booking, or refused. Refusing it again decides nothing; carrying out one already
  settled is refused, so a request refused elsewhere is not booked after all.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from immutables import Map

from bot.domain import library
from bot.domain.actor import Actor
from bot.domain.credited_purchases import Credit, CreditedPurchases
from bot.domain.errors import Conflict, InsufficientCredit, InvalidRequest, NotAllowed, NotFound
from bot.domain.events import (
    CreditsGranted,
    CreditsPurchased,
    CreditsRefunded,
    CreditsReserved,
    DomainEvent,
    MissionAdded,
    MissionRemoved,
    PaidRequestSettled,
    PurchaseClosed,
    PurchaseStarted,
    ReservationReduced,
    ReservationReleased,
    SessionCharged,
    SquadronSettingsChanged,
    from_stored,
)
from bot.domain.library import LibraryMission, MissionFacts
from bot.domain.mission_quota import MissionQuota, quota_refusal
from bot.domain.money import format_cents
from bot.domain.pricing import Limits
from bot.domain.settings import (
    SECRET_KEYS,
    SETTINGS_CATALOGUE,
    SettingsError,
    SquadronSettings,
    forgotten_secrets,
    parse_setting,
)
from bot.domain.words import counted
from eventstore.events import StoredEvent

STREAM_PREFIX = "squadron#"
PURCHASE_SOURCE = "purchase"
"""The source of a command carried out for a paid request; its source id is the purchase id."""

MAX_OPEN_PURCHASES = 5
"""Open checkouts one member may hold at once."""

PurchaseStatus = Literal["started", "credited", "closed"]


def squadron_stream(guild_id: str) -> str:
    return f"{STREAM_PREFIX}{guild_id}"


@dataclass(frozen=True, slots=True)
class Purchase:
    """One checkout, as the state holds it while it is open ("started") or paid for a request
    not yet settled ("credited" with an intent), or as its events tell it (`trace_purchase`)."""

    purchase_id: str
    amount_cents: int
    buyer_id: str
    checkout_session_id: str
    status: PurchaseStatus
    intent: Mapping[str, object] | None = None
    started_at: datetime | None = None
    """When its checkout was opened (None when it was credited without one)."""


@dataclass(frozen=True, slots=True)
class SquadronState:
    """What deciding needs, and no history: settings, balance and reservations, the purchases
    still in play (`purchases`: open checkouts and unsettled paid requests, a few), and a
    `Credit` for each purchase ever credited (so none is credited twice or refunded beyond it).
    Past purchases and the ledger are read from the events (``SquadronService.history``).

    Folded in constant time per event: the maps are persistent (a hash trie), so an event adds
    or replaces one entry and shares the rest with the state before it."""

    guild_id: str
    settings: SquadronSettings
    balance_cents: int = 0
    reservations: Mapping[str, int] = field(default_factory=dict)
    purchases: Map[str, Purchase] = field(default_factory=Map)
    """Open checkouts (status "started") and unsettled paid requests (status "credited")."""
    credited: CreditedPurchases = field(default_factory=CreditedPurchases)
    secrets_forgotten: bool = False
    """The squadron's secret settings were forgotten (its key deleted); set them again."""
    settings_version: int = 0
    """The stream version of the event that set `settings` (0: none did, they are defaults)."""
    missions: Map[str, LibraryMission] = field(default_factory=Map)
    """The mission library, by `library.name_key` of each name."""

    @property
    def reserved_cents(self) -> int:
        return sum(self.reservations.values())

    @property
    def available_cents(self) -> int:
        return self.balance_cents - self.reserved_cents

    @property
    def active_sessions(self) -> tuple[str, ...]:
        """Sessions holding a reservation, oldest first."""
        return tuple(self.reservations)

    @property
    def unsettled_paid_requests(self) -> tuple[Purchase, ...]:
        """Credited purchases whose start or booking was neither carried out nor refused."""
        return tuple(p for p in self.purchases.values() if p.status == "credited")

    def open_purchases(self, buyer_id: str, lapsed_before: datetime) -> list[Purchase]:
        """The buyer's open checkouts started at or after ``lapsed_before``."""
        return [
            purchase
            for purchase in self.purchases.values()
            if purchase.status == "started"
            and purchase.buyer_id == buyer_id
            and (purchase.started_at is None or purchase.started_at >= lapsed_before)
        ]


initial_squadron = SquadronState(guild_id="", settings=SquadronSettings())
"""A squadron with no events; `evolve` fills `guild_id` in from the stream id."""


# --- commands -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeSettings:
    """`changes` maps catalogue keys to the text a user typed ("yes", "42674", "Europe/Oslo")."""

    actor: Actor
    changes: Mapping[str, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class ForgetSecrets:
    """Blank the secret settings once their key is deleted (operators only)."""

    actor: Actor


@dataclass(frozen=True, slots=True, kw_only=True)
class StartPurchase:
    """``lapsed_before``: checkouts opened before it have expired and no longer count as open."""

    actor: Actor
    purchase_id: str
    amount_cents: int
    buyer_id: str
    checkout_session_id: str
    lapsed_before: datetime
    intent: Mapping[str, object] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordPurchase:
    actor: Actor
    purchase_id: str
    amount_cents: int
    buyer_id: str
    checkout_session_id: str
    payment_event_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ClosePurchase:
    actor: Actor
    purchase_id: str
    reason: Literal["expired", "payment_failed"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SettlePaidRequest:
    """Record how a paid request ended: carried out as `session_id`, or refused with `message`."""

    actor: Actor
    purchase_id: str
    outcome: Literal["carried_out", "refused"]
    session_id: str | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GrantCredits:
    actor: Actor
    amount: int
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RefundCredits:
    """`allow_negative` lets an admin refund go beyond available credit (even below zero)."""

    actor: Actor
    amount: int
    reason: str
    purchase_id: str | None = None
    source: Literal["admin", "stripe"] = "admin"
    allow_negative: bool = False
    currency: str = "usd"


@dataclass(frozen=True, slots=True, kw_only=True)
class Reserve:
    """Set credit aside for a session: its booking, or an extension of one already reserved.

    Without `minimum` the whole `amount` must be available. With it, as much of `amount` as is
    available is set aside, provided that is at least `minimum` (a minimum above the amount
    counts as the amount).
    """

    actor: Actor
    session_id: str
    amount: int
    limits: Limits
    currency: str = "usd"
    minimum: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReleaseReservation:
    actor: Actor
    session_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Charge:
    actor: Actor
    session_id: str
    minutes: int
    amount: int


@dataclass(frozen=True, slots=True, kw_only=True)
class AddMission:
    """Keep an uploaded mission (its bytes already stored) in the library as ``name``."""

    actor: Actor
    name: str
    facts: MissionFacts
    quota: MissionQuota


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoveMission:
    actor: Actor
    name: str


SquadronCommand = (
    ChangeSettings
    | ForgetSecrets
    | StartPurchase
    | RecordPurchase
    | ClosePurchase
    | SettlePaidRequest
    | GrantCredits
    | RefundCredits
    | Reserve
    | ReleaseReservation
    | Charge
    | AddMission
    | RemoveMission
)


# --- decide -------------------------------------------------------------------------------------


def decide(command: SquadronCommand, state: SquadronState) -> list[DomainEvent]:
    """The events `command` causes; raises a `DomainError` when a rule refuses it."""
    match command:
        case ChangeSettings():
            return _change_settings(command, state)
        case ForgetSecrets():
            return _forget_secrets(command, state)
        case StartPurchase():
            return _start_purchase(command, state)
        case RecordPurchase():
            return _record_purchase(command, state)
        case ClosePurchase():
            return _close_purchase(command, state)
        case SettlePaidRequest():
            return _settle_paid_request(command, state)
        case GrantCredits():
            return _grant(command)
        case RefundCredits():
            return _refund(command, state)
        case Reserve():
            return _reserve(command, state)
        case ReleaseReservation():
            held = state.reservations.get(command.session_id)
            if held is None:
                return []
            return [ReservationReleased(session_id=command.session_id, amount_cents=held)]
        case Charge():
            _require_not_negative(command.minutes, "The billed minutes")
            _require_not_negative(command.amount, "The charge")
            return [
                SessionCharged(
                    session_id=command.session_id,
                    minutes=command.minutes,
                    amount_cents=command.amount,
                )
            ]
        case AddMission():
            return _add_mission(command, state)
        case RemoveMission():
            _require_library_manager(command.actor, "remove missions from")
            found = library.find(state.missions, command.name)
            return [MissionRemoved(name=found.name, sha256=found.facts.sha256)]
    raise TypeError(f"Not a squadron command: {command!r}")


def _require_library_manager(actor: Actor, what: str) -> None:
    if not (actor.is_manager or actor.is_operator):
        raise NotAllowed(f"Only a squadron manager can {what} the mission library; ask one.")


def _add_mission(command: AddMission, state: SquadronState) -> list[DomainEvent]:
    _require_library_manager(command.actor, "add missions to")
    name = library.check_name(command.name)
    facts = command.facts
    library.require_new(state.missions, state.settings.missions, name, facts.sha256)
    refusal = quota_refusal(command.quota, library.usage(state.missions), facts.size)
    if refusal is not None:
        raise InvalidRequest(refusal)
    return [
        MissionAdded(
            name=name,
            sha256=facts.sha256,
            size=facts.size,
            filename=facts.filename,
            terrain=facts.terrain,
            sortie=facts.sortie,
            mission_start=facts.mission_start,
            required_modules=facts.required_modules,
            client_slots=dict(facts.client_slots),
            desanitized_scripting=facts.desanitized_scripting,
            uploaded_by=command.actor.user_id,
        )
    ]


def _require_operator(actor: Actor, what: str) -> None:
    if not actor.is_operator:
        raise NotAllowed(f"Only an rr operator can {what}.")


def _require_not_negative(amount: int, what: str) -> None:
    if amount < 0:
        raise InvalidRequest(f"{what} cannot be negative; give zero or more.")


def _require_positive(amount: int, what: str) -> None:
    if amount <= 0:
        raise InvalidRequest(f"{what} must be more than zero; give a positive amount.")


def _change_settings(command: ChangeSettings, state: SquadronState) -> list[DomainEvent]:
    if not (command.actor.is_manager or command.actor.is_operator):
        raise NotAllowed("Only a squadron manager can change the settings; ask one to do it.")
    if not command.changes:
        raise InvalidRequest("Name at least one setting to change.")
    try:
        typed = {key: parse_setting(key, text) for key, text in command.changes.items()}
        settings = state.settings.apply_changes(typed)
    except SettingsError as error:
        raise InvalidRequest(str(error)) from None
    changed = tuple(key for key in typed if settings.value(key) != state.settings.value(key))
    if not changed:
        return []
    forgotten = state.secrets_forgotten and not any(key in SECRET_KEYS for key in changed)
    return [
        SquadronSettingsChanged(settings=settings, changed=changed, secrets_forgotten=forgotten)
    ]


def _forget_secrets(command: ForgetSecrets, state: SquadronState) -> list[DomainEvent]:
    _require_operator(command.actor, "forget a squadron's secrets")
    settings = state.settings.apply_changes(forgotten_secrets())
    changed = tuple(
        spec.key
        for spec in SETTINGS_CATALOGUE
        if settings.value(spec.key) != state.settings.value(spec.key)
    )
    return [SquadronSettingsChanged(settings=settings, changed=changed, secrets_forgotten=True)]


def _start_purchase(command: StartPurchase, state: SquadronState) -> list[DomainEvent]:
    _require_positive(command.amount_cents, "A purchase")
    existing = state.purchases.get(command.purchase_id)
    if existing is not None:
        if existing.checkout_session_id == command.checkout_session_id:
            return []
        raise Conflict("That purchase was already started with another checkout; start a new one.")
    checkouts = (purchase.checkout_session_id for purchase in state.purchases.values())
    if command.checkout_session_id in checkouts:
        raise Conflict(
            "That checkout session already belongs to another purchase; start a new one."
        )
    check_open_purchases(state, command.buyer_id, command.lapsed_before)
    return [
        PurchaseStarted(
            purchase_id=command.purchase_id,
            amount_cents=command.amount_cents,
            buyer_id=command.buyer_id,
            checkout_session_id=command.checkout_session_id,
            intent=command.intent,
        )
    ]


def check_open_purchases(state: SquadronState, buyer_id: str, lapsed_before: datetime) -> None:
    """Refuse another checkout to a buyer already holding `MAX_OPEN_PURCHASES` open ones."""
    if len(state.open_purchases(buyer_id, lapsed_before)) >= MAX_OPEN_PURCHASES:
        raise Conflict(
            f"You already have {MAX_OPEN_PURCHASES} payment links open; pay one of them (they "
            "are in your DMs) or wait for one to expire before asking for another."
        )


def _record_purchase(command: RecordPurchase, state: SquadronState) -> list[DomainEvent]:
    _require_operator(command.actor, "record a payment")
    _require_not_negative(command.amount_cents, "A purchase")
    if command.purchase_id in state.credited:
        return []
    return [
        CreditsPurchased(
            purchase_id=command.purchase_id,
            amount_cents=command.amount_cents,
            buyer_id=command.buyer_id,
            checkout_session_id=command.checkout_session_id,
            payment_event_id=command.payment_event_id,
        )
    ]


def _close_purchase(command: ClosePurchase, state: SquadronState) -> list[DomainEvent]:
    _require_operator(command.actor, "close a purchase")
    purchase = state.purchases.get(command.purchase_id)
    if purchase is None or purchase.status != "started":
        return []
    return [PurchaseClosed(purchase_id=command.purchase_id, reason=command.reason)]


def _settle_paid_request(command: SettlePaidRequest, state: SquadronState) -> list[DomainEvent]:
    actor = command.actor
    acts_for_it = actor.source == PURCHASE_SOURCE and actor.source_id == command.purchase_id
    if not (acts_for_it or actor.is_operator):
        raise NotAllowed("Only the paid request itself or an rr operator can settle it.")
    credit = state.credited.get(command.purchase_id)
    if credit is None or not credit.paid_request:
        raise NotFound("paid_request", command.purchase_id)
    if (command.outcome == "carried_out") != (command.session_id is not None):
        raise InvalidRequest("A paid request carried out names its session, and only then.")
    if (command.outcome == "refused") != (command.message is not None):
        raise InvalidRequest("A refused paid request says why, and only then.")
    if command.purchase_id not in state.purchases:
        if command.outcome == "refused":
            return []
        raise Conflict("That paid request was already settled; it is not carried out again.")
    return [
        PaidRequestSettled(
            purchase_id=command.purchase_id,
            outcome=command.outcome,
            session_id=command.session_id,
            message=command.message,
        )
    ]


def _grant(command: GrantCredits) -> list[DomainEvent]:
    _require_operator(command.actor, "grant credit")
    _require_positive(command.amount, "A grant")
    if not command.reason.strip():
        raise InvalidRequest("Give a reason for the grant; it is kept in the ledger.")
    return [CreditsGranted(amount_cents=command.amount, reason=command.reason)]


def _refund(command: RefundCredits, state: SquadronState) -> list[DomainEvent]:
    _require_operator(command.actor, "refund credit")
    _require_positive(command.amount, "A refund")
    credit = None
    if command.purchase_id is not None:
        credit = state.credited.get(command.purchase_id)
        if credit is None:
            raise NotFound("credited_purchase", command.purchase_id)
    if command.source == "stripe":
        if command.purchase_id is None or credit is None:
            raise InvalidRequest("A Stripe refund must name the purchase it refunds.")
        return _stripe_refund(command, state, command.purchase_id, credit)
    if credit is not None and command.amount > credit.refundable_cents:
        left = format_cents(credit.refundable_cents, command.currency)
        raise InvalidRequest(
            f"Only {left} of that purchase is left to refund; refund at most that."
        )
    if command.amount > state.available_cents and not command.allow_negative:
        available = format_cents(max(state.available_cents, 0), command.currency)
        raise InvalidRequest(
            f"The squadron has only {available} of unreserved credit; refund at most that "
            "or allow a negative balance."
        )
    return [
        CreditsRefunded(
            amount_cents=command.amount,
            reason=command.reason,
            purchase_id=command.purchase_id,
            shortfall_cents=0,
            source="admin",
        )
    ]


def _stripe_refund(
    command: RefundCredits, state: SquadronState, purchase_id: str, credit: Credit
) -> list[DomainEvent]:
    refunded = min(command.amount, credit.refundable_cents)
    if refunded == 0:
        return []
    reversed_cents = min(refunded, max(state.balance_cents, 0))
    events: list[DomainEvent] = []
    to_cut = reversed_cents - max(state.available_cents, 0)
    for session_id, held in reversed(list(state.reservations.items())):
        if to_cut <= 0:
            break
        cut = min(to_cut, held)
        if cut > 0:
            events.append(ReservationReduced(session_id=session_id, amount_cents=cut))
            to_cut -= cut
    events.append(
        CreditsRefunded(
            amount_cents=reversed_cents,
            reason=command.reason,
            purchase_id=purchase_id,
            shortfall_cents=refunded - reversed_cents,
            source="stripe",
        )
    )
    return events


def _reserve(command: Reserve, state: SquadronState) -> list[DomainEvent]:
    _require_not_negative(command.amount, "A reservation")
    if command.minimum is not None:
        _require_not_negative(command.minimum, "A reservation's minimum")
    require_room(state, command.session_id, command.limits)
    available = state.available_cents
    if command.amount <= available:
        return [CreditsReserved(session_id=command.session_id, amount_cents=command.amount)]
    if command.minimum is None:
        raise InsufficientCredit(
            command.amount - available, command.amount, available, command.currency
        )
    minimum = min(command.minimum, command.amount)
    if available < minimum:
        raise InsufficientCredit(
            minimum - available, minimum, available, command.currency, shortest_session=True
        )
    return [CreditsReserved(session_id=command.session_id, amount_cents=available)]


def require_room(state: SquadronState, session_id: str, limits: Limits) -> None:
    """Refuse a reservation for a new session when the squadron already holds as many as it
    may at once (``Conflict``); a session already holding one may add to it."""
    active = len(state.reservations)
    if session_id not in state.reservations and active >= limits.max_concurrent_per_guild:
        raise Conflict(
            f"The squadron already has {counted(active, 'server')} running or booked, the most "
            "allowed at once; stop or cancel one first."
        )


# --- evolve -------------------------------------------------------------------------------------


def evolve(state: SquadronState, stored: StoredEvent) -> SquadronState:
    """The state after one stored event of the squadron's stream."""
    if not state.guild_id:
        state = replace(state, guild_id=stored.stream_id.removeprefix(STREAM_PREFIX))
    state = apply(state, from_stored(stored), stored.recorded_at)
    if stored.type == SquadronSettingsChanged.TYPE:
        state = replace(state, settings_version=stored.version)
    return state


def apply(state: SquadronState, event: DomainEvent, recorded_at: datetime) -> SquadronState:
    """The state after one typed squadron event, recorded at ``recorded_at``."""
    match event:
        case SquadronSettingsChanged():
            return replace(
                state, settings=event.settings, secrets_forgotten=event.secrets_forgotten
            )
        case PurchaseStarted():
            started = _started(event, recorded_at)
            return replace(state, purchases=state.purchases.set(event.purchase_id, started))
        case CreditsPurchased():
            return _credit(state, event)
        case PurchaseClosed() | PaidRequestSettled():
            return replace(state, purchases=_without_purchase(state.purchases, event.purchase_id))
        case CreditsGranted():
            return replace(state, balance_cents=state.balance_cents + event.amount_cents)
        case CreditsRefunded():
            credit = None if event.purchase_id is None else state.credited.get(event.purchase_id)
            if event.purchase_id is not None and credit is not None:
                taken = credit.refunded_cents + event.amount_cents + event.shortfall_cents
                refunded = credit._replace(refunded_cents=taken)
                state = replace(state, credited=state.credited.set(event.purchase_id, refunded))
            return replace(state, balance_cents=state.balance_cents - event.amount_cents)
        case CreditsReserved():
            held = state.reservations.get(event.session_id, 0)
            return replace(
                state,
                reservations={**state.reservations, event.session_id: held + event.amount_cents},
            )
        case ReservationReduced():
            held = state.reservations[event.session_id]
            return replace(
                state,
                reservations={**state.reservations, event.session_id: held - event.amount_cents},
            )
        case ReservationReleased():
            return replace(state, reservations=_without(state.reservations, event.session_id))
        case SessionCharged():
            return replace(
                state,
                balance_cents=state.balance_cents - event.amount_cents,
                reservations=_without(state.reservations, event.session_id),
            )
        case MissionAdded():
            added = LibraryMission(
                name=event.name,
                facts=MissionFacts(
                    sha256=event.sha256,
                    size=event.size,
                    filename=event.filename,
                    terrain=event.terrain,
                    sortie=event.sortie,
                    mission_start=event.mission_start,
                    required_modules=event.required_modules,
                    client_slots=event.client_slots,
                    desanitized_scripting=event.desanitized_scripting,
                ),
                uploaded_by=event.uploaded_by,
                added_at=recorded_at,
            )
            return replace(state, missions=state.missions.set(library.name_key(event.name), added))
        case MissionRemoved():
            key = library.name_key(event.name)
            return replace(state, missions=state.missions.delete(key))
    raise TypeError(f"{event.TYPE} does not belong to a squadron stream.")


def trace_purchase(
    purchase: Purchase | None, event: DomainEvent, recorded_at: datetime
) -> Purchase | None:
    """The purchase as its events up to ``event`` tell it, for one that is no longer in play
    (read from the stream: ``SquadronService.purchase``); ``event`` must name it."""
    match event:
        case PurchaseStarted():
            return _started(event, recorded_at)
        case CreditsPurchased():
            return Purchase(
                purchase_id=event.purchase_id,
                amount_cents=event.amount_cents,
                buyer_id=event.buyer_id,
                checkout_session_id=event.checkout_session_id,
                status="credited",
                intent=None if purchase is None else purchase.intent,
                started_at=None if purchase is None else purchase.started_at,
            )
        case PurchaseClosed() if purchase is not None and purchase.status == "started":
            return replace(purchase, status="closed")
    return purchase


def _started(event: PurchaseStarted, recorded_at: datetime) -> Purchase:
    return Purchase(
        purchase_id=event.purchase_id,
        amount_cents=event.amount_cents,
        buyer_id=event.buyer_id,
        checkout_session_id=event.checkout_session_id,
        status="started",
        intent=event.intent,
        started_at=recorded_at,
    )


def _credit(state: SquadronState, event: CreditsPurchased) -> SquadronState:
    """The purchase credited: its `Credit` kept for good; the purchase itself stays in play
    only while the request it paid for waits to be settled."""
    started = state.purchases.get(event.purchase_id)
    intent = None if started is None or started.status != "started" else started.intent
    purchases = _without_purchase(state.purchases, event.purchase_id)
    if intent is not None:
        assert started is not None
        paid_request = replace(
            started,
            amount_cents=event.amount_cents,
            buyer_id=event.buyer_id,
            checkout_session_id=event.checkout_session_id,
            status="credited",
        )
        purchases = purchases.set(event.purchase_id, paid_request)
    credit = Credit(event.amount_cents, 0, paid_request=intent is not None)
    return replace(
        state,
        balance_cents=state.balance_cents + event.amount_cents,
        purchases=purchases,
        credited=state.credited.set(event.purchase_id, credit),
    )


def _without_purchase(purchases: Map[str, Purchase], purchase_id: str) -> Map[str, Purchase]:
    return purchases.delete(purchase_id) if purchase_id in purchases else purchases


def _without(reservations: Mapping[str, int], session_id: str) -> dict[str, int]:
    return {key: held for key, held in reservations.items() if key != session_id}
