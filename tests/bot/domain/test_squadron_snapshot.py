"""A squadron's state written as a snapshot reads back equal, and decides as the full fold does
after any tail; another schema's is not read."""

import json
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain import squadron as sq
from bot.domain import squadron_snapshot
from bot.domain.actor import Actor
from bot.domain.credited_purchases import Credit
from bot.domain.errors import DomainError
from bot.domain.events import from_stored
from bot.domain.mission_quota import MissionQuota
from bot.domain.pricing import Limits
from bot.services.streams import decide_squadron
from eventstore import StoredEvent
from tests.bot.domain.streams import LONG_AGO, Stream, stored
from tests.bot.domain.test_library import facts

GUILD = "7"
MEMBER = Actor("42", GUILD)
MANAGER = Actor("43", GUILD, is_manager=True)
STRIPE = Actor.system("stripe", "evt")
OPERATOR = Actor("1", None, is_operator=True, source="admin")


def run(stream: Stream[sq.SquadronState], command: sq.SquadronCommand) -> None:
    stream.append(decide_squadron(command, stream.state))


def start(purchase_id: str, intent: dict[str, object] | None = None) -> sq.StartPurchase:
    return sq.StartPurchase(
        actor=MEMBER,
        purchase_id=purchase_id,
        amount_cents=1000,
        buyer_id="42",
        checkout_session_id=f"cs_{purchase_id}",
        lapsed_before=LONG_AGO,
        intent=intent,
    )


def paid(purchase_id: str) -> sq.RecordPurchase:
    return sq.RecordPurchase(
        actor=STRIPE,
        purchase_id=purchase_id,
        amount_cents=1000,
        buyer_id="42",
        checkout_session_id=f"cs_{purchase_id}",
        payment_event_id=f"evt_{purchase_id}",
    )


PASSWORD = "hunter2-secret"


def a_busy_squadron() -> Stream[sq.SquadronState]:
    stream = Stream(sq.squadron_stream(GUILD), sq.evolve, sq.initial_squadron)
    run(
        stream,
        sq.ChangeSettings(
            actor=MANAGER, changes={"server_name": "Jolly Rogers", "password": PASSWORD}
        ),
    )
    run(stream, start("open"))
    run(stream, start("closed"))
    run(stream, sq.ClosePurchase(actor=STRIPE, purchase_id="closed", reason="expired"))
    run(stream, start("unsettled", {"action": "start", "duration_minutes": 60}))
    run(stream, paid("unsettled"))
    run(stream, paid("without-checkout"))
    run(
        stream,
        sq.RefundCredits(
            actor=STRIPE, amount=300, reason="r", purchase_id="without-checkout", source="stripe"
        ),
    )
    run(stream, sq.Reserve(actor=MEMBER, session_id="m1", amount=700, limits=Limits()))
    quota = MissionQuota(max_count=5, max_bytes=10_000, max_file_bytes=5_000)
    for name, sha in (("Red Flag", "a"), ("Gone", "b"), ("Ünïcode Strike", "c")):
        run(stream, sq.AddMission(actor=MANAGER, name=name, facts=facts(sha * 64), quota=quota))
    run(stream, sq.RemoveMission(actor=MANAGER, name="gone"))
    return stream


def test_a_snapshot_reads_back_as_the_state_it_was_written_from_with_its_settings_event() -> None:
    stream = a_busy_squadron()
    state = stream.state
    assert sorted(p.status for p in state.purchases.values()) == ["credited", "started"]
    assert state.reservations
    assert state.credited.get("without-checkout") == Credit(1000, 300, paid_request=False)
    assert state.settings_version == 1
    assert sorted(m.name for m in state.missions.values()) == ["Red Flag", "Ünïcode Strike"]

    read = squadron_snapshot.decode(squadron_snapshot.encode(state))

    assert read is not None
    settings_event = from_stored(stream.events[read.settings_version - 1])
    assert squadron_snapshot.with_settings(read, settings_event) == state


def test_a_snapshot_holds_no_secret_setting() -> None:
    state = a_busy_squadron().state
    assert state.settings.value("password") == PASSWORD

    assert PASSWORD.encode() not in squadron_snapshot.encode(state)


def test_a_snapshot_written_by_other_code_is_not_read() -> None:
    document = json.loads(squadron_snapshot.encode(a_busy_squadron().state))
    document["schema"] = "squadron/0"

    assert squadron_snapshot.decode(json.dumps(document).encode()) is None


# --- deciding from a snapshot and its tail, as from every event --------------------------------

PURCHASE_IDS = ["p0", "p1", "p2", "p3"]
SESSION_IDS = ["m0", "m1", "m2"]
LIMITS = Limits(max_concurrent_per_guild=2)
MISSION_QUOTA = MissionQuota(max_count=3, max_bytes=3_000, max_file_bytes=2_000)


def paid_request(purchase_id: str) -> sq.StartPurchase:
    return replace(
        start(purchase_id, {"action": "start", "duration_minutes": 60}),
        checkout_session_id=f"cs_request_{purchase_id}",
    )


def settle(purchase_id: str, outcome: str) -> sq.SettlePaidRequest:
    actor = Actor.system(sq.PURCHASE_SOURCE, purchase_id)
    if outcome == "carried_out":
        return sq.SettlePaidRequest(
            actor=actor, purchase_id=purchase_id, outcome="carried_out", session_id="m9"
        )
    return sq.SettlePaidRequest(
        actor=actor, purchase_id=purchase_id, outcome="refused", message="No room."
    )


def stripe_refund(purchase_id: str, cents: int) -> sq.RefundCredits:
    return sq.RefundCredits(
        actor=STRIPE, amount=cents, reason="r", purchase_id=purchase_id, source="stripe"
    )


def commands(purchase_id: str, session_id: str, cents: int) -> list[sq.SquadronCommand]:
    """Every kind of squadron command, about one purchase and one session."""
    return [
        start(purchase_id),
        paid_request(purchase_id),
        paid(purchase_id),
        replace(paid(purchase_id), checkout_session_id=f"cs_request_{purchase_id}"),
        sq.ClosePurchase(actor=STRIPE, purchase_id=purchase_id, reason="expired"),
        settle(purchase_id, "carried_out"),
        settle(purchase_id, "refused"),
        stripe_refund(purchase_id, cents),
        sq.RefundCredits(actor=OPERATOR, amount=cents, reason="r", purchase_id=purchase_id),
        sq.GrantCredits(actor=OPERATOR, amount=cents + 1, reason="g"),
        sq.Reserve(actor=MEMBER, session_id=session_id, amount=cents, limits=LIMITS),
        sq.ReleaseReservation(actor=MEMBER, session_id=session_id),
        sq.Charge(actor=OPERATOR, session_id=session_id, minutes=1, amount=cents // 2),
        sq.ChangeSettings(actor=MANAGER, changes={"password": f"pw{cents}"}),
        sq.AddMission(
            actor=MANAGER,
            name=f"Mission {purchase_id}",
            facts=facts(purchase_id[-1] * 64, size=cents + 1),
            quota=MISSION_QUOTA,
        ),
        sq.RemoveMission(actor=MANAGER, name=f"mission {purchase_id}"),
    ]


any_command = st.builds(
    lambda purchase_id, session_id, cents, pick: commands(purchase_id, session_id, cents)[pick],
    st.sampled_from(PURCHASE_IDS),
    st.sampled_from(SESSION_IDS),
    st.integers(min_value=0, max_value=1500),
    st.integers(min_value=0, max_value=15),
)


def outcome(command: sq.SquadronCommand, state: sq.SquadronState) -> object:
    """What deciding ``command`` on ``state`` gives: its events, or the refusal."""
    try:
        return sq.decide(command, state)
    except DomainError as refusal:
        return (type(refusal), str(refusal))


def restored(stream: Stream[sq.SquadronState], state: sq.SquadronState) -> sq.SquadronState:
    """``state`` written as a snapshot and read back as the loader does."""
    read = squadron_snapshot.decode(squadron_snapshot.encode(state))
    assert read is not None
    if read.settings_version == 0:
        return read
    settings_event = from_stored(stream.events[read.settings_version - 1])
    return squadron_snapshot.with_settings(read, settings_event)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(any_command, max_size=40),
    st.lists(st.integers(min_value=0, max_value=40), max_size=3),
)
def test_deciding_from_snapshots_and_their_tails_equals_deciding_from_every_event(
    history: list[sq.SquadronCommand], snapshot_points: list[int]
) -> None:
    stream = Stream(sq.squadron_stream(GUILD), sq.evolve, sq.initial_squadron)
    for command in history:
        decided = outcome(command, stream.state)
        if isinstance(decided, list):
            run(stream, command)
    points = sorted({min(point, len(stream.events)) for point in snapshot_points})
    state = sq.initial_squadron
    for version, event in enumerate(stream.events, start=1):
        state = sq.evolve(state, event)
        if version in points:
            state = restored(stream, state)
    if 0 in points and not stream.events:
        state = restored(stream, state)

    assert state == stream.state
    for purchase_id in PURCHASE_IDS:
        for probe in commands(purchase_id, "m0", 700):
            assert outcome(probe, state) == outcome(probe, stream.state)


def test_a_credit_refunded_after_a_snapshot_is_read_back_refunded_from_the_next() -> None:
    stream = a_busy_squadron()
    once = restored(stream, stream.state)
    refunded = sq.evolve(once, stream_event(stream, stripe_refund("unsettled", 400)))

    twice = restored(stream, refunded)

    assert twice.credited.get("unsettled") == Credit(1000, 400, paid_request=True)
    assert twice.credited.get("without-checkout") == Credit(1000, 300, paid_request=False)
    assert twice == refunded


def stream_event(stream: Stream[sq.SquadronState], command: sq.SquadronCommand) -> StoredEvent:
    """The one event ``command`` decides on the stream's state, stored after its events."""
    (event,) = decide_squadron(command, stream.state)
    return stored(event, stream.stream_id, len(stream.events) + 1)
