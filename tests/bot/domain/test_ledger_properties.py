"""The credit ledger's invariants under random sequences of commands."""

from collections.abc import Callable
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain import squadron as sq
from bot.domain.actor import Actor
from bot.domain.errors import DomainError
from bot.domain.pricing import Limits
from bot.services.streams import decide_squadron
from tests.bot.domain.streams import LONG_AGO, Stream

MEMBER = Actor("42", "7")
OPERATOR = Actor.system("admin")
LIMITS = Limits(max_concurrent_per_guild=3)

sessions = st.sampled_from(["m0", "m1", "m2", "m3"])
purchases = st.sampled_from(["p0", "p1", "p2", "p3"])
checkouts = st.sampled_from(["cs0", "cs1", "cs2", "cs3"])
cents = st.integers(min_value=0, max_value=3000)
share = st.floats(min_value=0, max_value=1)
overrun = st.floats(min_value=1, max_value=3)

Build = Callable[[sq.SquadronState], sq.SquadronCommand]


@dataclass(frozen=True)
class Step:
    """A command to build from the state it meets; `may_go_negative` marks the two exceptions."""

    build: Build
    may_go_negative: bool = False


def _grant(amount: int) -> Step:
    return Step(lambda _: sq.GrantCredits(actor=OPERATOR, amount=amount, reason="grant"))


def _start(purchase_id: str, checkout: str, amount: int) -> Step:
    return Step(
        lambda _: sq.StartPurchase(
            actor=MEMBER,
            purchase_id=purchase_id,
            amount_cents=amount,
            buyer_id="42",
            checkout_session_id=checkout,
            lapsed_before=LONG_AGO,
        )
    )


def _record(purchase_id: str, checkout: str, amount: int) -> Step:
    return Step(
        lambda _: sq.RecordPurchase(
            actor=OPERATOR,
            purchase_id=purchase_id,
            amount_cents=amount,
            buyer_id="42",
            checkout_session_id=checkout,
            payment_event_id=f"evt-{checkout}",
        )
    )


def _close(purchase_id: str) -> Step:
    return Step(
        lambda _: sq.ClosePurchase(actor=OPERATOR, purchase_id=purchase_id, reason="expired")
    )


def _admin_refund(amount: int) -> Step:
    return Step(lambda _: sq.RefundCredits(actor=OPERATOR, amount=amount, reason="admin"))


def _negative_refund(amount: int) -> Step:
    return Step(
        lambda _: sq.RefundCredits(
            actor=OPERATOR, amount=amount, reason="clawback", allow_negative=True
        ),
        may_go_negative=True,
    )


def _stripe_refund(purchase_id: str, amount: int) -> Step:
    return Step(
        lambda _: sq.RefundCredits(
            actor=OPERATOR, amount=amount, reason="stripe", purchase_id=purchase_id, source="stripe"
        )
    )


def _reserve(session_id: str, amount: int) -> Step:
    return Step(
        lambda _: sq.Reserve(actor=MEMBER, session_id=session_id, amount=amount, limits=LIMITS)
    )


def _prepaid_reserve(session_id: str, amount: int, minimum: int) -> Step:
    """A start now: as much of ``amount`` as is available, at least ``minimum``."""
    return Step(
        lambda _: sq.Reserve(
            actor=MEMBER, session_id=session_id, amount=amount, limits=LIMITS, minimum=minimum
        )
    )


def _release(session_id: str) -> Step:
    return Step(lambda _: sq.ReleaseReservation(actor=MEMBER, session_id=session_id))


def _charge(session_id: str, fraction: float) -> Step:
    """A charge within the session's reservation."""

    def build(state: sq.SquadronState) -> sq.SquadronCommand:
        amount = int(state.reservations.get(session_id, 0) * fraction)
        return sq.Charge(actor=OPERATOR, session_id=session_id, minutes=amount, amount=amount)

    return Step(build)


def _overrun(session_id: str, factor: float) -> Step:
    """A charge beyond the session's reservation (it ran longer than reserved)."""

    def build(state: sq.SquadronState) -> sq.SquadronCommand:
        amount = int(state.reservations.get(session_id, 0) * factor) + 1
        return sq.Charge(actor=OPERATOR, session_id=session_id, minutes=amount, amount=amount)

    return Step(build, may_go_negative=True)


safe_steps = st.one_of(
    st.builds(_grant, cents),
    st.builds(_start, purchases, checkouts, cents),
    st.builds(_record, purchases, checkouts, cents),
    st.builds(_close, purchases),
    st.builds(_admin_refund, cents),
    st.builds(_stripe_refund, purchases, cents),
    st.builds(_reserve, sessions, cents),
    st.builds(_prepaid_reserve, sessions, cents, cents),
    st.builds(_release, sessions),
    st.builds(_charge, sessions, share),
)
negative_steps = st.one_of(
    st.builds(_overrun, sessions, overrun), st.builds(_negative_refund, cents)
)


def _run(step: Step, stream: Stream[sq.SquadronState]) -> sq.SquadronCommand | None:
    """Decide and fold one step; the command it ran, or None if a rule refused it."""
    command = step.build(stream.state)
    try:
        events = decide_squadron(command, stream.state)
    except DomainError:
        return None
    stream.append(events)
    return command


def _new_stream() -> Stream[sq.SquadronState]:
    return Stream(sq.squadron_stream("7"), sq.evolve, sq.initial_squadron)


@settings(max_examples=300, deadline=None)
@given(st.lists(safe_steps, max_size=40))
def test_without_overruns_or_negative_refunds_no_credit_figure_goes_negative(
    steps: list[Step],
) -> None:
    stream = _new_stream()
    for step in steps:
        _run(step, stream)
        state = stream.state
        assert state.balance_cents >= 0
        assert state.available_cents >= 0
        assert all(held >= 0 for held in state.reservations.values())
        assert len(state.reservations) <= LIMITS.max_concurrent_per_guild


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(safe_steps, negative_steps), max_size=40))
def test_only_overruns_and_negative_refunds_take_the_balance_lower_below_zero(
    steps: list[Step],
) -> None:
    """Free credit never goes below zero but by an overrun or an operator's explicit decision.

    The balance itself may follow later: when an operator refunds below zero while credit is
    reserved, the charge that spends the reservation realises that decision.
    """
    stream = _new_stream()
    negative_decision = False
    for step in steps:
        before = stream.state
        _run(step, stream)
        after = stream.state
        negative_decision = negative_decision or step.may_go_negative
        if not step.may_go_negative:
            assert after.available_cents >= min(before.available_cents, 0)
            if not negative_decision:
                assert after.balance_cents >= min(before.balance_cents, 0)
        assert all(held >= 0 for held in after.reservations.values())


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(safe_steps, negative_steps), max_size=40))
def test_the_balance_is_what_came_in_minus_what_went_out(steps: list[Step]) -> None:
    stream = _new_stream()
    purchased = 0
    for step in steps:
        already_credited = stream.state.credited
        command = _run(step, stream)
        if isinstance(command, sq.RecordPurchase):
            purchase_id = command.purchase_id
            if purchase_id not in already_credited and purchase_id in stream.state.credited:
                purchased += command.amount_cents
    granted = sum(e.data["amount_cents"] for e in stream.events if e.type == "CreditsGranted")
    refunded = sum(e.data["amount_cents"] for e in stream.events if e.type == "CreditsRefunded")
    charged = sum(e.data["amount_cents"] for e in stream.events if e.type == "SessionCharged")
    assert stream.state.balance_cents == purchased + granted - refunded - charged


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(safe_steps, negative_steps), max_size=40))
def test_a_purchase_is_never_refunded_beyond_what_it_credited(steps: list[Step]) -> None:
    stream = _new_stream()
    for step in steps:
        _run(step, stream)
    for _, credit in stream.state.credited.items():
        assert 0 <= credit.refunded_cents <= credit.credited_cents
