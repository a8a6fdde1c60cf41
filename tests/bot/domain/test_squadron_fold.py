"""Folding a squadron costs the same per event however long its history: counted in bytes
allocated by one more event, which a copy of the growing maps would make proportional to it."""

import tracemalloc

from bot.domain import squadron as sq
from bot.domain.actor import Actor
from bot.services.streams import decide_squadron
from tests.bot.domain.streams import LONG_AGO, Stream

GUILD = "7"
STRIPE = Actor.system("stripe", "evt")


def with_purchases(count: int) -> Stream[sq.SquadronState]:
    stream = Stream(sq.squadron_stream(GUILD), sq.evolve, sq.initial_squadron)
    for n in range(count + 1):
        stream.append(decide_squadron(_start(n), stream.state))
        stream.append(decide_squadron(_record(n), stream.state))
    return stream


def _start(n: int) -> sq.StartPurchase:
    return sq.StartPurchase(
        actor=Actor(str(n), GUILD),
        purchase_id=f"p{n}",
        amount_cents=500,
        buyer_id=str(n),
        checkout_session_id=f"cs_{n}",
        lapsed_before=LONG_AGO,
    )


def _record(n: int) -> sq.RecordPurchase:
    return sq.RecordPurchase(
        actor=STRIPE,
        purchase_id=f"p{n}",
        amount_cents=500,
        buyer_id=str(n),
        checkout_session_id=f"cs_{n}",
        payment_event_id=f"evt_{n}",
    )


def bytes_to_fold_the_last_purchase(stream: Stream[sq.SquadronState]) -> int:
    """Bytes allocated while folding the stream's last two events (a purchase started and
    paid) onto the state before them."""
    before = Stream(stream.stream_id, sq.evolve, sq.initial_squadron)
    for event in stream.events[:-2]:
        before.state = sq.evolve(before.state, event)
    tracemalloc.start()
    try:
        state = before.state
        for event in stream.events[-2:]:
            state = sq.evolve(state, event)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


def test_one_more_purchase_costs_no_more_after_a_long_history() -> None:
    short = bytes_to_fold_the_last_purchase(with_purchases(100))
    long = bytes_to_fold_the_last_purchase(with_purchases(4_000))

    assert long < 2 * short + 4_096


def test_the_folded_state_keeps_of_paid_purchases_only_their_credit() -> None:
    state = with_purchases(1_000).state

    assert len(state.purchases) == 0
    assert len(state.credited) == 1_001
