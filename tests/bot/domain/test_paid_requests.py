"""A credited purchase made for a start or booking is settled once: carried out or refused."""

import pytest

from bot.domain import squadron as sq
from bot.domain.actor import Actor
from bot.domain.errors import Conflict, InvalidRequest, NotAllowed, NotFound
from bot.domain.events import DomainEvent, PaidRequestSettled, from_stored
from bot.services.streams import decide_squadron
from tests.bot.domain.streams import LONG_AGO, Stream

GUILD = "7"
BUYER = Actor("42", GUILD, source_id="1300")
STRIPE = Actor.system("stripe", "evt_1")
OPERATOR = Actor("1", None, is_operator=True, source="admin")
INTENT = {"action": "start", "duration_minutes": 60}


def paid_for(purchase_id: str = "p1") -> Actor:
    """The buyer, acting for the request the purchase paid for."""
    return Actor("42", GUILD, source=sq.PURCHASE_SOURCE, source_id=purchase_id)


def run(stream: Stream[sq.SquadronState], command: sq.SquadronCommand) -> list[DomainEvent]:
    return [from_stored(event) for event in stream.append(decide_squadron(command, stream.state))]


def squadron(
    *, intent: dict[str, object] | None = INTENT, paid: bool = True
) -> Stream[sq.SquadronState]:
    stream = Stream(sq.squadron_stream(GUILD), sq.evolve, sq.initial_squadron)
    run(
        stream,
        sq.StartPurchase(
            actor=BUYER,
            purchase_id="p1",
            amount_cents=500,
            buyer_id="42",
            checkout_session_id="cs_1",
            lapsed_before=LONG_AGO,
            intent=intent,
        ),
    )
    if paid:
        run(
            stream,
            sq.RecordPurchase(
                actor=STRIPE,
                purchase_id="p1",
                amount_cents=500,
                buyer_id="42",
                checkout_session_id="cs_1",
                payment_event_id="evt_1",
            ),
        )
    return stream


def carried_out(actor: Actor | None = None, session_id: str = "m1") -> sq.SettlePaidRequest:
    return sq.SettlePaidRequest(
        actor=actor or paid_for(), purchase_id="p1", outcome="carried_out", session_id=session_id
    )


def refused(message: str = "Not enough credit.") -> sq.SettlePaidRequest:
    return sq.SettlePaidRequest(
        actor=paid_for(), purchase_id="p1", outcome="refused", message=message
    )


def test_a_credited_purchase_with_a_request_waits_to_be_settled() -> None:
    state = squadron().state
    assert [purchase.purchase_id for purchase in state.unsettled_paid_requests] == ["p1"]
    assert state.purchases["p1"].status == "credited"


@pytest.mark.parametrize(
    ("intent", "paid"), [(INTENT, False), (None, True)], ids=["unpaid", "plain purchase"]
)
def test_only_a_credited_purchase_with_a_request_waits_to_be_settled(
    intent: dict[str, object] | None, paid: bool
) -> None:
    assert squadron(intent=intent, paid=paid).state.unsettled_paid_requests == ()


def test_a_request_carried_out_is_recorded_with_its_session_and_settled() -> None:
    stream = squadron()
    assert run(stream, carried_out()) == [
        PaidRequestSettled(purchase_id="p1", outcome="carried_out", session_id="m1", message=None)
    ]
    assert "p1" not in stream.state.purchases
    assert stream.state.unsettled_paid_requests == ()
    assert stream.state.balance_cents == 500


def test_a_refused_request_is_recorded_with_why_and_settled() -> None:
    stream = squadron()
    assert run(stream, refused("Not enough credit.")) == [
        PaidRequestSettled(
            purchase_id="p1", outcome="refused", session_id=None, message="Not enough credit."
        )
    ]
    assert stream.state.unsettled_paid_requests == ()


@pytest.mark.parametrize("first", [carried_out(), refused()], ids=["carried out", "refused"])
def test_refusing_a_settled_request_again_records_nothing(first: sq.SettlePaidRequest) -> None:
    stream = squadron()
    run(stream, first)
    assert sq.decide(refused("Something else."), stream.state) == []


@pytest.mark.parametrize("first", [carried_out(), refused()], ids=["carried out", "refused"])
def test_a_settled_request_is_not_carried_out_again(first: sq.SettlePaidRequest) -> None:
    stream = squadron()
    run(stream, first)
    with pytest.raises(Conflict, match="already settled"):
        sq.decide(carried_out(session_id="m2"), stream.state)


def test_an_operator_may_settle_a_request() -> None:
    assert run(squadron(), carried_out(OPERATOR))[0].TYPE == "PaidRequestSettled"


@pytest.mark.parametrize("actor", [BUYER, paid_for("p2")], ids=["from discord", "other purchase"])
def test_only_the_request_itself_or_an_operator_settles_it(actor: Actor) -> None:
    with pytest.raises(NotAllowed, match="paid request itself"):
        sq.decide(carried_out(actor), squadron().state)


@pytest.mark.parametrize(
    ("intent", "paid"), [(INTENT, False), (None, True)], ids=["unpaid", "plain purchase"]
)
def test_settling_what_is_not_a_paid_request_is_not_found(
    intent: dict[str, object] | None, paid: bool
) -> None:
    with pytest.raises(NotFound, match="No paid request"):
        sq.decide(carried_out(), squadron(intent=intent, paid=paid).state)


@pytest.mark.parametrize(
    "command",
    [
        sq.SettlePaidRequest(actor=paid_for(), purchase_id="p1", outcome="carried_out"),
        sq.SettlePaidRequest(actor=paid_for(), purchase_id="p1", outcome="refused"),
        sq.SettlePaidRequest(
            actor=paid_for(), purchase_id="p1", outcome="refused", session_id="m1", message="No."
        ),
        sq.SettlePaidRequest(
            actor=paid_for(), purchase_id="p1", outcome="carried_out", session_id="m1", message="?"
        ),
    ],
    ids=["carried out without session", "refused without why", "refused with session", "noted"],
)
def test_an_outcome_comes_with_its_session_or_its_reason_only(
    command: sq.SettlePaidRequest,
) -> None:
    with pytest.raises(InvalidRequest):
        sq.decide(command, squadron().state)
