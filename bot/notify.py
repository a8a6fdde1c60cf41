"""What the bot tells people, as typed notices, and the notifiers that carry them out.

Services decide *that* something is worth telling and build a notice; a notifier decides *how*
and *where* (a Discord channel, a DM, a log line). Every notice says which guild, session and
member it concerns (``guild_id``, ``session_id``, ``user_id``; the last two may be None).
A server password only ever travels in ``ReadyNotice.password``; the Discord notifier decides
where it may be shown, and no notifier writes it to a log.

Reminders, ready notices, end, credit and idle warnings and debriefs *must arrive*
(``must_arrive``): each is recorded before it is sent, and a notifier that could not deliver one
raises ``DeliveryFailed`` so that the services send it again later rather than count it
delivered. A debrief's download links are bearer links: no notifier logs them.
"""

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from datetime import datetime
from typing import Literal, Protocol

from bot.domain.presence import ServerStatus
from bot.domain.session import SessionState
from bot.view import Balance

log = logging.getLogger("rr.notify")

ProgressStage = Literal["launching", "booting", "starting_dcs", "ready"]


class _AboutSession:
    """Derives the guild, session and member a notice concerns from the session it is about."""

    session: SessionState

    @property
    def guild_id(self) -> str:
        return self.session.guild_id

    @property
    def session_id(self) -> str | None:
        return self.session.session_id

    @property
    def user_id(self) -> str | None:
        return self.session.booked_by


class _AboutBuyer:
    """A notice about a member's purchase: no session, and the member is the buyer."""

    buyer_id: str

    @property
    def session_id(self) -> None:
        return None

    @property
    def user_id(self) -> str | None:
        return self.buyer_id


@dataclass(frozen=True)
class ReminderNotice(_AboutSession):
    """A reminder before a booked session starts; ``key`` is e.g. "start-60"."""

    key: str
    session: SessionState


@dataclass(frozen=True)
class ProgressNotice(_AboutSession):
    """A server moved one step closer to being playable."""

    session: SessionState
    stage: ProgressStage


@dataclass(frozen=True)
class ReadyNotice(_AboutSession):
    """The server answers on its game port. ``password`` is for managers or a DM only;
    ``srs_port`` is SRS's port when the session runs SRS."""

    session: SessionState
    address: str
    port: int
    password: str | None = field(default=None, repr=False)
    srs_port: int | None = None
    mission: str | None = None
    """The mission the server reported loaded, else the one chosen at the start, if any."""


@dataclass(frozen=True)
class EndWarningNotice(_AboutSession):
    """The booked time runs out in ``minutes_left`` minutes."""

    session: SessionState
    minutes_left: int


@dataclass(frozen=True)
class SessionExtendedNotice(_AboutSession):
    """``extended_by`` added ``minutes`` to the session; ``session.end_at`` is the new end."""

    session: SessionState
    minutes: int
    extended_by: str


@dataclass(frozen=True)
class LowCreditNotice(_AboutSession):
    """The squadron's credit for this server runs out in ``minutes_left`` minutes."""

    session: SessionState
    minutes_left: int


@dataclass(frozen=True)
class LiveStatusNotice(_AboutSession):
    """Who is on a running server now; one message per session shows it, edited as it
    changes."""

    session: SessionState
    status: ServerStatus


@dataclass(frozen=True)
class IdleWarningNotice(_AboutSession):
    """Nobody is on the server (``session.idle_warning`` says since when and why); it stops at
    ``session.idle_warning.stop_at`` unless a pilot joins or a member keeps it running."""

    session: SessionState


@dataclass(frozen=True)
class IdleWarningWithdrawnNotice(_AboutSession):
    """The idle warning no longer holds: a pilot joined."""

    session: SessionState


@dataclass(frozen=True)
class SessionEndedNotice(_AboutSession):
    """The server is gone and its minutes are billed; or, with reason "cancelled", a booking
    was cancelled before it started."""

    session: SessionState
    reason: str
    billed_minutes: int
    amount_cents: int


@dataclass(frozen=True)
class DebriefLink:
    """One file a server sent back, and a link to download it until the debrief's expiry."""

    kind: str
    name: str
    size: int
    url: str = field(repr=False)


@dataclass(frozen=True)
class DebriefNotice(_AboutSession):
    """After a session that served a game: who flew, what it cost, and the files it left, whose
    links (and the files themselves) expire at ``expires_at``."""

    session: SessionState
    pilots: tuple[str, ...]
    files: tuple[DebriefLink, ...]
    expires_at: datetime


@dataclass(frozen=True)
class LaunchFailedNotice(_AboutSession):
    """The server could not be started; ``message`` is one plain sentence for the members."""

    session: SessionState
    message: str


@dataclass(frozen=True)
class BookingConfirmedNotice(_AboutSession):
    """A start or booking that waited for a payment was carried out once the payment landed."""

    session: SessionState
    purchase_id: str


@dataclass(frozen=True)
class IntentFailedNotice(_AboutBuyer):
    """A start or booking that waited for a payment could not be carried out; says why."""

    guild_id: str
    buyer_id: str
    purchase_id: str
    action: str
    message: str


@dataclass(frozen=True)
class CreditsLandedNotice(_AboutBuyer):
    """A payment was recorded; ``balance`` is the squadron's balance afterwards."""

    guild_id: str
    buyer_id: str
    amount_cents: int
    balance: Balance


@dataclass(frozen=True)
class PurchaseClosedNotice(_AboutBuyer):
    """A checkout ended without payment ("expired" or "payment_failed")."""

    guild_id: str
    buyer_id: str
    purchase_id: str
    amount_cents: int
    reason: str


@dataclass(frozen=True)
class AdminAlertNotice:
    """Something the squadron's admins (or the operators, when guild_id is None) must know."""

    guild_id: str | None
    message: str

    @property
    def session_id(self) -> None:
        return None

    @property
    def user_id(self) -> None:
        return None


Notice = (
    ReminderNotice
    | ProgressNotice
    | ReadyNotice
    | EndWarningNotice
    | SessionExtendedNotice
    | LowCreditNotice
    | LiveStatusNotice
    | IdleWarningNotice
    | IdleWarningWithdrawnNotice
    | SessionEndedNotice
    | DebriefNotice
    | LaunchFailedNotice
    | BookingConfirmedNotice
    | IntentFailedNotice
    | CreditsLandedNotice
    | PurchaseClosedNotice
    | AdminAlertNotice
)

MUST_ARRIVE: tuple[type, ...] = (
    ReminderNotice,
    ReadyNotice,
    EndWarningNotice,
    LowCreditNotice,
    IdleWarningNotice,
    DebriefNotice,
)


def must_arrive(notice: Notice) -> bool:
    """A notice sent again until its delivery is confirmed."""
    return isinstance(notice, MUST_ARRIVE)


class DeliveryFailed(Exception):
    """A notice that must arrive did not reach its readers; the services try again later."""


_NOT_LOGGED = frozenset(
    {"session", "password", "guild_id", "buyer_id", "status", "files", "pilots"}
)
_RENAMED = {"message": "text"}
"""Fields whose names ``logging`` keeps for itself."""


def details(notice: Notice) -> dict[str, object]:
    """The notice as log fields (``extra=``), without its password."""
    found: dict[str, object] = {
        "guild_id": notice.guild_id,
        "session_id": notice.session_id,
        "user_id": notice.user_id,
    }
    for item in fields(notice):
        if item.name in _NOT_LOGGED:
            continue
        value = getattr(notice, item.name)
        name = _RENAMED.get(item.name, item.name)
        if is_dataclass(value) and not isinstance(value, type):
            found.update({f"{name}_{key}": inner for key, inner in asdict(value).items()})
        else:
            found[name] = value
    return found


class Notifier(Protocol):
    async def notify(self, notice: Notice) -> None:
        """Deliver ``notice``. Must not raise for delivery failures (log them instead), except
        ``DeliveryFailed`` for a notice that ``must_arrive``."""
        ...


class LoggingNotifier:
    """Writes one log line per notice; serves when Discord is not connected."""

    async def notify(self, notice: Notice) -> None:
        log.info(type(notice).__name__, extra=details(notice))


class FanoutNotifier:
    """Hands every notice to each notifier in turn; one failing notifier does not stop the rest,
    and a notice that must arrive and failed with any of them raises ``DeliveryFailed`` once
    all were tried."""

    def __init__(self, notifiers: Sequence[Notifier]) -> None:
        self._notifiers = tuple(notifiers)

    async def notify(self, notice: Notice) -> None:
        failed: Exception | None = None
        for notifier in self._notifiers:
            try:
                await notifier.notify(notice)
            except Exception as error:
                failed = failed or error
                log.warning(
                    "notifier failed",
                    exc_info=not isinstance(error, DeliveryFailed),
                    extra={"notifier": type(notifier).__name__, "notice": type(notice).__name__},
                )
        if failed is not None and must_arrive(notice):
            raise DeliveryFailed(f"{type(notice).__name__} was not delivered") from failed
