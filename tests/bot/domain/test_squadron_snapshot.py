"""A squadron's state written as a snapshot reads back equal; another schema's is not read."""

import json

from bot.domain import squadron as sq
from bot.domain import squadron_snapshot
from bot.domain.actor import Actor
from bot.domain.events import from_stored
from bot.domain.mission_quota import MissionQuota
from bot.domain.pricing import Limits
from bot.services.streams import decide_squadron
from tests.bot.domain.streams import LONG_AGO, Stream
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
    assert state.open_purchase_ids and state.unsettled_ids and state.reservations
    assert state.purchases["without-checkout"].refunded_cents == 300
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
