"""What members do with servers: quote, start, book, extend, stop, cancel, look.

A booking and its credit reservation are one atomic write across the session's and the
squadron's streams (with the settlement of the paid request it carries out, if any), as are an
extension and its reservation, and a cancellation and the release of its credit. ``start``
books for now and launches in the background, so a Discord command answers within its three
seconds; progress reaches the members through the notifier.

A start now is prepaid time: it goes ahead on what credit is available as long as that covers
the shortest session, and the scheduler warns before that credit runs out and stops the server
when it has (a purchase in between keeps it running). A booking for later reserves its whole
cost, so a booked evening is guaranteed.
"""

import math
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import cast

from bot.clock import Clock
from bot.domain import library
from bot.domain import session as sessions
from bot.domain import squadron as squadrons
from bot.domain.actor import Actor
from bot.domain.billing import funded_until
from bot.domain.booking import require_bookable
from bot.domain.errors import DomainError, InvalidRequest, NotFound
from bot.domain.events import TERMINATION_REASONS, TerminationReason
from bot.domain.presence import KEEP_RUNNING_FOR
from bot.domain.pricing import Limits, Pricing, cost_at_rate
from bot.domain.session import SessionState, minimum_session_cents
from bot.domain.settings import SquadronSettings
from bot.domain.squadron import SquadronState
from bot.files.store import ObjectKey
from bot.services.background import BackgroundTasks
from bot.services.lifecycle import SCHEDULER, Lifecycle
from bot.services.logged import logged
from bot.services.server_files import session_options
from bot.services.streams import Streams, decide_session, decide_squadron
from bot.view.boots import BootLead
from eventstore import AlreadyAppended, NewEvent, StoredEvent

_SESSION_IDS = uuid.UUID("5b0c1c52-6a43-4b59-9a5e-2f6f3d4c7e10")
"""Namespace of session ids derived from the command that booked them."""
QUOTE_SESSION_ID = "quote"
"""The id of the booking a quote tries out (and never records)."""


@dataclass(frozen=True)
class Booking:
    """A start or booking placed: ``recorded`` is False when a repeat of the command found the
    session booked already."""

    session: SessionState
    recorded: bool


@dataclass(frozen=True)
class Quote:
    """What a start or booking would reserve, against what the squadron has available.

    ``shortfall_cents`` is what the available credit lacks of the whole cost. A booking needs all
    of it (``minimum_cents`` is the cost); a start goes ahead on less as long as the available
    credit covers ``minimum_cents``, the shortest session. The server then runs for
    ``covered_minutes``, until ``covered_until``, unless more credit is bought (0, and the start,
    when the request cannot go ahead).

    ``boot_lead_minutes`` is how long before ``start_at`` a booked server is launched so that it
    is ready then (0 for a start now, which boots inside its own time); it is not billed.
    ``boot`` is what that lead rests on: recent boots of the size in ``region`` (None for a
    start now).
    """

    cost_cents: int
    available_cents: int
    shortfall_cents: int
    start_at: datetime
    end_at: datetime
    rate_cents_per_hour: int
    currency: str
    minimum_cents: int
    covered_minutes: int
    covered_until: datetime
    boot_lead_minutes: int
    region: str
    boot: BootLead | None

    @property
    def can_go_ahead(self) -> bool:
        """The available credit is enough to start or book now (fully or partly funded)."""
        return self.available_cents >= self.minimum_cents

    @property
    def partly_funded(self) -> bool:
        """A start that can go ahead but stops at ``covered_until`` unless credit is bought."""
        return self.can_go_ahead and self.shortfall_cents > 0


def command_key(actor: Actor, command: str) -> str | None:
    """The idempotency key of a member's command: one write per interaction and command."""
    if actor.source_id is None:
        return None
    return f"{actor.source}:{actor.source_id}:{command}"


def session_id_for(actor: Actor) -> str:
    """The id of the session a command books: the same for a repeat of one interaction (so
    it books once), a new random one when the command has no source id."""
    if actor.source_id is None:
        return str(uuid.uuid4())
    return str(uuid.uuid5(_SESSION_IDS, f"{actor.source}:{actor.source_id}"))


def _with_mission(
    book: sessions.Book, squadron: SquadronState, mission_name: str | None
) -> sessions.Book:
    """``book`` loading the mission ``mission_name`` names (a library mission, or one on the
    image), checked to fit the server's files; `InvalidRequest` when the squadron has none by
    that name."""
    if mission_name is None:
        return book
    choice = library.choose(squadron.missions, squadron.settings.missions, mission_name)
    key = None
    if choice.sha256 is not None:
        key = str(ObjectKey.content(book.guild_id, choice.sha256))
    session_options(
        book.session_id, choice.name, squadron.settings, library=choice.sha256 is not None
    )
    return replace(book, mission_name=choice.name, mission_sha256=choice.sha256, mission_key=key)


def _settlement(actor: Actor, session_id: str) -> squadrons.SettlePaidRequest | None:
    """The settlement a booking writes when it carries out a paid request."""
    if actor.source != squadrons.PURCHASE_SOURCE or actor.source_id is None:
        return None
    return squadrons.SettlePaidRequest(
        actor=actor, purchase_id=actor.source_id, outcome="carried_out", session_id=session_id
    )


def _reservation_cents(
    rate_cents_per_hour: int, duration_minutes: int, immediate: bool, limits: Limits
) -> tuple[int, int | None]:
    """(cost, least to reserve) of a booking: a start now goes ahead on the shortest session's
    credit; a booking for later (None) only on its whole cost. Either costs its booked minutes:
    the boot lead before a booked start is not billed (``bot.domain.billing``)."""
    cost = cost_at_rate(rate_cents_per_hour, duration_minutes)
    if not immediate:
        return cost, None
    return cost, min(cost, minimum_session_cents(rate_cents_per_hour, limits))


def termination_reason(text: str) -> TerminationReason:
    """``text`` as a termination reason, or ``InvalidRequest`` naming the reasons there are."""
    if text not in TERMINATION_REASONS:
        raise InvalidRequest(
            f"{text[:40]!r} is not a reason to end a session; use one of "
            f"{', '.join(sorted(TERMINATION_REASONS))}."
        )
    return cast(TerminationReason, text)


class SessionService:
    def __init__(
        self,
        *,
        streams: Streams,
        lifecycle: Lifecycle,
        clock: Clock,
        pricing: Pricing,
        limits: Limits,
        background: BackgroundTasks,
    ) -> None:
        self._streams = streams
        self._lifecycle = lifecycle
        self._clock = clock
        self._pricing = pricing
        self._limits = limits
        self._background = background

    # --- looking ----------------------------------------------------------------------------

    async def get(self, session_id: str) -> SessionState:
        """The session as the view knows it (this process's changes at once)."""
        state = await self._streams.view.session(session_id)
        if state is None:
            raise NotFound("session", session_id)
        return state

    async def for_guild(self, guild_id: str) -> list[SessionState]:
        """Every session of the guild, ended ones too, by start time."""
        return await self._streams.view.sessions_for_guild(guild_id)

    async def session_numbers(self, guild_id: str) -> dict[str, int]:
        """Each of the guild's sessions by id: its number in the order they were booked."""
        return await self._streams.view.session_numbers(guild_id)

    async def quote(
        self,
        guild_id: str,
        size: str | None,
        duration_minutes: int,
        start_at: datetime | None = None,
        mission_name: str | None = None,
    ) -> Quote:
        """The credit a start (``start_at`` None) or booking would reserve, any shortfall, and
        how long the available credit keeps the server running.

        Everything but credit is checked as for the booking itself (``require_bookable``), so
        a request that would be refused (its duration, its start time, its mission file, the
        squadron's limit on servers at once) is refused here, before the member confirms or
        pays for anything. A quote that refuses, or falls short, on the view's squadron (a feed
        pass behind another process's payment, perhaps) is made again on the squadron as stored.
        """
        request = (guild_id, size, duration_minutes, start_at, mission_name)
        try:
            quote = await self._quote(await self._streams.squadron(guild_id), *request)
        except DomainError:
            quote = None
        if quote is not None and quote.can_go_ahead:
            return quote
        return await self._quote(await self._streams.squadron_in_store(guild_id), *request)

    async def _quote(
        self,
        squadron: SquadronState,
        guild_id: str,
        size: str | None,
        duration_minutes: int,
        start_at: datetime | None,
        mission_name: str | None,
    ) -> Quote:
        book = self._book_command(
            Actor.system("quote"),
            QUOTE_SESSION_ID,
            guild_id,
            squadron.settings,
            start_at,
            duration_minutes,
            size,
            None,
        )
        require_bookable(book, squadron)
        _with_mission(book, squadron, mission_name)
        rate = book.rate
        view = self._streams.view
        boot = None if start_at is None else await view.boot_lead(book.size, book.region)
        cost, least = _reservation_cents(rate, duration_minutes, start_at is None, self._limits)
        minimum = cost if least is None else least
        available = squadron.available_cents
        begins = start_at or book.now
        end_at = begins + timedelta(minutes=duration_minutes)
        if available >= cost:
            covered_until = end_at
        elif available >= minimum:
            covered_until = min(funded_until(begins, available, rate), end_at)
        else:
            covered_until = begins
        return Quote(
            cost_cents=cost,
            available_cents=available,
            shortfall_cents=max(0, cost - available),
            start_at=begins,
            end_at=end_at,
            rate_cents_per_hour=rate,
            currency=self._pricing.currency,
            minimum_cents=minimum,
            covered_minutes=(covered_until - begins) // timedelta(minutes=1),
            covered_until=covered_until,
            boot_lead_minutes=0 if boot is None else math.ceil(boot.lead / timedelta(minutes=1)),
            region=book.region,
            boot=boot,
        )

    # --- booking ----------------------------------------------------------------------------

    async def start(
        self,
        actor: Actor,
        *,
        size: str | None = None,
        duration_minutes: int,
        mission_name: str | None = None,
        causation_id: str | None = None,
    ) -> SessionState:
        """Book a server for now and launch it in the background; it reserves what credit is
        available of its cost, at least the shortest session's."""
        booking = await self.place(
            actor,
            start_at=None,
            duration_minutes=duration_minutes,
            size=size,
            mission_name=mission_name,
            causation_id=causation_id,
        )
        return booking.session

    async def book(
        self,
        actor: Actor,
        *,
        start_at: datetime,
        duration_minutes: int,
        size: str | None = None,
        mission_name: str | None = None,
        causation_id: str | None = None,
    ) -> SessionState:
        """Book a server for later; the scheduler launches it ahead of its start."""
        booking = await self.place(
            actor,
            start_at=start_at,
            duration_minutes=duration_minutes,
            size=size,
            mission_name=mission_name,
            causation_id=causation_id,
        )
        return booking.session

    async def place(
        self,
        actor: Actor,
        *,
        start_at: datetime | None,
        duration_minutes: int,
        size: str | None = None,
        mission_name: str | None = None,
        causation_id: str | None = None,
    ) -> Booking:
        """Start a server now (``start_at`` None: launched in the background) or book it for
        later, saying whether this call recorded it. An actor acting for a paid request (source
        ``PURCHASE_SOURCE``) settles that request in the same write."""
        what = "start" if start_at is None else "book"
        with logged(what, guild_id=actor.guild_id, user_id=actor.user_id) as fields:
            state, stored = await self._book(
                actor, start_at, duration_minutes, size, mission_name, causation_id
            )
            fields["session_id"] = state.session_id
            if stored and start_at is None:
                self._background.spawn(
                    self._lifecycle.launch(
                        state.session_id,
                        actor=Actor.system(actor.source, actor.source_id),
                        causation_id=stored[0].id,
                    ),
                    name=f"launch:{state.session_id}",
                )
            return Booking(state, recorded=bool(stored))

    async def _book(
        self,
        actor: Actor,
        start_at: datetime | None,
        duration_minutes: int,
        size: str | None,
        mission_name: str | None,
        causation_id: str | None,
    ) -> tuple[SessionState, list[StoredEvent]]:
        guild_id = actor.guild_id
        if guild_id is None:
            raise InvalidRequest("Book servers from inside your squadron's Discord server.")
        squadron = await self._streams.squadron(guild_id)
        session_id = session_id_for(actor)
        book = self._book_command(
            actor, session_id, guild_id, squadron.settings, start_at, duration_minutes, size, None
        )
        book = _with_mission(book, squadron, mission_name)
        amount, minimum = _reservation_cents(
            book.rate, duration_minutes, start_at is None, self._limits
        )
        reserve = squadrons.Reserve(
            actor=actor,
            session_id=session_id,
            amount=amount,
            limits=self._limits,
            currency=self._pricing.currency,
            minimum=minimum,
        )
        settle = _settlement(actor, session_id)

        def decide(
            session: SessionState | None, squadron: squadrons.SquadronState
        ) -> tuple[list[NewEvent], list[NewEvent]]:
            if session is not None:  # a repeat of this command: it is booked already
                return [], []
            # Every other refusal before a shortfall: the member is offered to buy only what
            # would then be carried out.
            require_bookable(book, squadron)
            squadron_events = decide_squadron(reserve, squadron)
            if settle is not None:
                squadron_events += decide_squadron(settle, squadron)
            return decide_session(book, session), squadron_events

        try:
            state, stored = await self._streams.write_both(
                session_id,
                guild_id,
                decide,
                new_session=True,
                idempotency_key=command_key(actor, "book"),
                causation_id=causation_id,
            )
        except AlreadyAppended:
            return await self._streams.reload_session(session_id), []
        assert state is not None
        return state, stored

    def _book_command(
        self,
        actor: Actor,
        session_id: str,
        guild_id: str,
        settings: SquadronSettings,
        start_at: datetime | None,
        duration_minutes: int,
        size: str | None,
        mission_name: str | None,
    ) -> sessions.Book:
        """The booking of ``size`` (the squadron's default when None) at its rate, as of now."""
        size = size or settings.instance_size
        return sessions.Book(
            session_id=session_id,
            guild_id=guild_id,
            actor=actor,
            start_at=start_at,
            duration_minutes=duration_minutes,
            size=size,
            region=settings.region,
            rate=self._pricing.rate(size),
            mission_name=mission_name,
            limits=self._limits,
            now=self._clock.now(),
        )

    # --- changing ---------------------------------------------------------------------------

    async def extend(self, actor: Actor, session_id: str, minutes: int) -> SessionState:
        """Add time, reserving its cost; a running server's backstop moves with its end."""
        with logged("extend", session_id=session_id, user_id=actor.user_id, minutes=minutes) as f:
            state = await self._streams.session(session_id)
            f["guild_id"] = state.guild_id
            try:
                extended, _ = await self._streams.write_both(
                    session_id,
                    state.guild_id,
                    lambda session, squadron: self._decide_extension(
                        actor, minutes, session, squadron
                    ),
                    idempotency_key=command_key(actor, "extend"),
                )
            except AlreadyAppended:
                return await self._streams.reload_session(session_id)
            assert extended is not None
            await self._lifecycle.follow_extension(extended, minutes, actor)
            return extended

    def _decide_extension(
        self,
        actor: Actor,
        minutes: int,
        session: SessionState | None,
        squadron: squadrons.SquadronState,
    ) -> tuple[list[NewEvent], list[NewEvent]]:
        extension = decide_session(
            sessions.Extend(
                actor=actor, now=self._clock.now(), minutes=minutes, limits=self._limits
            ),
            session,
        )
        assert session is not None
        reserve = squadrons.Reserve(
            actor=actor,
            session_id=session.session_id,
            amount=cost_at_rate(session.rate_cents_per_hour, minutes),
            limits=self._limits,
            currency=self._pricing.currency,
        )
        return extension, decide_squadron(reserve, squadron)

    async def request_stop(self, actor: Actor, session_id: str) -> SessionState:
        """Record that the member stops the server now; from then on the stop holds, billed to
        this moment, whatever happens to this process. Tell the member only after this."""
        return await self._lifecycle.request_stop(
            session_id, "stopped_by_user", actor=actor, idempotency_key=command_key(actor, "stop")
        )

    async def stop(self, actor: Actor, session_id: str) -> SessionState:
        """Stop the server now: record the stop, terminate the server, bill what ran."""
        await self.request_stop(actor, session_id)
        return await self._lifecycle.terminate(session_id, "stopped_by_user", actor=actor)

    async def keep_running(self, actor: Actor, session_id: str) -> tuple[SessionState, bool]:
        """Hold off the idle stop the server was warned of for ``KEEP_RUNNING_FOR``; returns
        the session and whether this kept it running (False: a pilot joined or another member
        kept it running first, so it was not going to stop)."""
        with logged("keep running", session_id=session_id, user_id=actor.user_id) as fields:
            until = self._clock.now() + KEEP_RUNNING_FOR
            command = sessions.KeepRunning(actor=actor, now=self._clock.now(), until=until)
            try:
                state, stored = await self._streams.write_session(
                    session_id,
                    lambda current: decide_session(command, current),
                    idempotency_key=command_key(actor, "keep-running"),
                )
            except AlreadyAppended:  # the same press, delivered twice
                return await self._streams.reload_session(session_id), True
            assert state is not None
            fields["guild_id"] = state.guild_id
            fields["outcome"] = "kept running" if stored else "not warned"
            return state, bool(stored)

    async def cancel(self, actor: Actor, session_id: str) -> SessionState:
        """Cancel a booking that has not started, releasing its credit."""
        with logged("cancel", session_id=session_id, user_id=actor.user_id) as fields:
            state = await self._streams.session(session_id)
            fields["guild_id"] = state.guild_id
            try:
                cancelled, _ = await self._streams.write_both(
                    session_id,
                    state.guild_id,
                    lambda session, squadron: (
                        decide_session(
                            sessions.Cancel(actor=actor, now=self._clock.now()), session
                        ),
                        decide_squadron(
                            squadrons.ReleaseReservation(actor=actor, session_id=session_id),
                            squadron,
                        ),
                    ),
                    idempotency_key=command_key(actor, "cancel"),
                )
            except AlreadyAppended:
                return await self._streams.reload_session(session_id)
            assert cancelled is not None
            await self._lifecycle.follow_cancellation(cancelled)
            return cancelled

    # --- what the scheduler and the reconciler call -----------------------------------------

    async def launch(self, session_id: str) -> SessionState:
        return await self._lifecycle.launch(session_id)

    async def check_ready(self, session_id: str) -> SessionState:
        return await self._lifecycle.check_ready(session_id)

    async def terminate(
        self,
        session_id: str,
        reason: str,
        *,
        actor: Actor | None = None,
        ended_at: datetime | None = None,
    ) -> SessionState:
        """Terminate and bill; ``ended_at`` when the server is known to have stopped earlier."""
        return await self._lifecycle.terminate(
            session_id,
            termination_reason(reason),
            actor=actor or SCHEDULER,
            ended_at=ended_at,
        )

    async def send_reminder(self, session_id: str, key: str) -> SessionState:
        return await self._lifecycle.send_reminder(session_id, key)

    async def deliver(self, session_id: str, key: str) -> SessionState:
        return await self._lifecycle.deliver(session_id, key)
