from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from bot.domain import squadron as sq
from bot.domain.actor import Actor
from bot.domain.credited_purchases import Credit
from bot.domain.errors import Conflict, InsufficientCredit, InvalidRequest, NotAllowed, NotFound
from bot.domain.events import (
    CreditsRefunded,
    DomainEvent,
    ReservationReduced,
    SquadronSettingsChanged,
    from_stored,
)
from bot.domain.pricing import Limits
from bot.services.streams import decide_squadron
from tests.bot.domain.streams import LONG_AGO, RECORDED_AT, Stream

GUILD = "7"
MEMBER = Actor("42", GUILD, source_id="1300")
MANAGER = Actor("43", GUILD, is_manager=True)
OPERATOR = Actor("1", None, is_operator=True, source="admin")
STRIPE = Actor.system("stripe", "evt_1")
LIMITS = Limits()


def new_squadron() -> Stream[sq.SquadronState]:
    return Stream(sq.squadron_stream(GUILD), sq.evolve, sq.initial_squadron)


def run(stream: Stream[sq.SquadronState], command: sq.SquadronCommand) -> list[DomainEvent]:
    return [from_stored(event) for event in stream.append(decide_squadron(command, stream.state))]


def funded(cents: int) -> Stream[sq.SquadronState]:
    stream = new_squadron()
    run(stream, sq.GrantCredits(actor=OPERATOR, amount=cents, reason="test"))
    return stream


def purchased(cents: int, purchase_id: str = "p1") -> Stream[sq.SquadronState]:
    stream = new_squadron()
    run(stream, record(purchase_id, cents))
    return stream


def record(purchase_id: str, cents: int, session: str | None = None) -> sq.RecordPurchase:
    return sq.RecordPurchase(
        actor=STRIPE,
        purchase_id=purchase_id,
        amount_cents=cents,
        buyer_id="42",
        checkout_session_id=session or f"cs_{purchase_id}",
        payment_event_id=f"evt_{purchase_id}",
    )


def start(purchase_id: str, cents: int = 1000, session: str | None = None) -> sq.StartPurchase:
    return sq.StartPurchase(
        actor=MEMBER,
        purchase_id=purchase_id,
        amount_cents=cents,
        buyer_id="42",
        checkout_session_id=session or f"cs_{purchase_id}",
        lapsed_before=LONG_AGO,
        intent={"action": "start", "duration_minutes": 120},
    )


def reserve(session_id: str, cents: int) -> sq.Reserve:
    return sq.Reserve(actor=MEMBER, session_id=session_id, amount=cents, limits=LIMITS)


def stripe_refund(cents: int, purchase_id: str | None = "p1") -> sq.RefundCredits:
    return sq.RefundCredits(
        actor=STRIPE, amount=cents, reason="stripe refund", purchase_id=purchase_id, source="stripe"
    )


def admin_refund(cents: int, *, allow_negative: bool = False) -> sq.RefundCredits:
    return sq.RefundCredits(
        actor=OPERATOR, amount=cents, reason="goodwill", allow_negative=allow_negative
    )


# --- state ---------------------------------------------------------------------------------------


def test_a_new_squadron_has_default_settings_and_no_credit() -> None:
    state = sq.initial_squadron
    assert state.balance_cents == state.reserved_cents == state.available_cents == 0
    assert state.active_sessions == ()
    assert state.settings.instance_size == "medium"


def test_the_guild_id_comes_from_the_stream() -> None:
    assert funded(100).state.guild_id == GUILD


def test_events_carry_the_actors_metadata() -> None:
    stream = new_squadron()
    stream.append(decide_squadron(start("p1"), stream.state))
    assert stream.events[0].metadata == MEMBER.metadata()


# --- settings ------------------------------------------------------------------------------------


def test_a_manager_changes_settings_from_typed_text() -> None:
    stream = new_squadron()
    events = run(
        stream,
        sq.ChangeSettings(actor=MANAGER, changes={"srs.enabled": "yes", "max_players": "24"}),
    )
    assert events == [
        SquadronSettingsChanged(
            settings=stream.state.settings,
            changed=("srs.enabled", "max_players"),
            secrets_forgotten=False,
        )
    ]
    assert stream.state.settings.srs.enabled is True
    assert stream.state.settings.max_players == 24


def test_an_operator_may_change_any_squadrons_settings() -> None:
    stream = new_squadron()
    run(stream, sq.ChangeSettings(actor=OPERATOR, changes={"timezone": "europe/berlin"}))
    assert stream.state.settings.timezone == "Europe/Berlin"


def test_a_plain_member_may_not_change_settings() -> None:
    with pytest.raises(NotAllowed, match="Only a squadron manager"):
        sq.decide(
            sq.ChangeSettings(actor=MEMBER, changes={"max_players": "8"}), sq.initial_squadron
        )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"max_players": "lots"}, "max_players must be a whole number from 1 to 128."),
        ({"no_such": "1"}, "There is no setting called 'no_such'"),
        ({"lotatc.enabled": "yes"}, "lotatc.enabled needs lotatc.blue_password"),
    ],
)
def test_a_bad_setting_is_an_invalid_request_with_the_settings_message(
    changes: dict[str, str], message: str
) -> None:
    with pytest.raises(InvalidRequest, match=message):
        sq.decide(sq.ChangeSettings(actor=MANAGER, changes=changes), sq.initial_squadron)


def test_changing_nothing_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="at least one setting"):
        sq.decide(sq.ChangeSettings(actor=MANAGER, changes={}), sq.initial_squadron)


def test_setting_the_current_values_records_nothing() -> None:
    command = sq.ChangeSettings(actor=MANAGER, changes={"max_players": "16", "is_public": "yes"})
    assert sq.decide(command, sq.initial_squadron) == []


def test_only_the_keys_whose_value_changed_are_listed() -> None:
    stream = new_squadron()
    events = run(
        stream,
        sq.ChangeSettings(actor=MANAGER, changes={"max_players": "16", "region": "eu-west-1"}),
    )
    assert isinstance(events[0], SquadronSettingsChanged)
    assert events[0].changed == ("region",)


# --- purchases -----------------------------------------------------------------------------------


def test_a_started_purchase_is_remembered_with_its_intent() -> None:
    stream = new_squadron()
    run(stream, start("p1", 1500))
    purchase = stream.state.purchases["p1"]
    assert purchase.status == "started"
    assert purchase.intent == {"action": "start", "duration_minutes": 120}
    assert stream.state.balance_cents == 0


def test_starting_the_same_purchase_twice_records_it_once() -> None:
    stream = new_squadron()
    run(stream, start("p1"))
    assert sq.decide(start("p1"), stream.state) == []


def test_a_purchase_id_cannot_be_reused_with_another_checkout() -> None:
    stream = new_squadron()
    run(stream, start("p1"))
    with pytest.raises(Conflict, match="another checkout"):
        sq.decide(start("p1", session="cs_other"), stream.state)


def test_a_checkout_session_cannot_belong_to_two_purchases() -> None:
    stream = new_squadron()
    run(stream, start("p1"))
    with pytest.raises(Conflict, match="another purchase"):
        sq.decide(start("p2", session="cs_p1"), stream.state)


@pytest.mark.parametrize("cents", [0, -5])
def test_a_purchase_must_be_for_a_positive_amount(cents: int) -> None:
    with pytest.raises(InvalidRequest, match="more than zero"):
        sq.decide(start("p1", cents), sq.initial_squadron)


def test_a_paid_purchase_credits_the_balance_and_keeps_its_intent() -> None:
    stream = new_squadron()
    run(stream, start("p1", 2000))
    run(stream, record("p1", 2000))
    assert stream.state.balance_cents == 2000
    assert stream.state.purchases["p1"].status == "credited"
    assert stream.state.purchases["p1"].intent == {"action": "start", "duration_minutes": 120}
    assert stream.state.credited.get("p1") == Credit(2000, 0, paid_request=True)


def test_a_paid_purchase_without_a_request_leaves_only_its_credit_in_the_state() -> None:
    stream = new_squadron()
    run(stream, replace(start("p1", 2000), intent=None))
    run(stream, record("p1", 2000))
    assert "p1" not in stream.state.purchases
    assert stream.state.credited.get("p1") == Credit(2000, 0, paid_request=False)


def test_a_paid_purchase_started_again_is_not_credited_again() -> None:
    stream = new_squadron()
    run(stream, replace(start("p1", 2000), intent=None))
    run(stream, record("p1", 2000))
    run(stream, replace(start("p1", 2000), intent=None))
    assert sq.decide(record("p1", 2000), stream.state) == []
    assert stream.state.balance_cents == 2000


def test_a_payment_for_a_purchase_already_credited_decides_nothing() -> None:
    stream = purchased(2000)
    assert sq.decide(record("p1", 2000), stream.state) == []
    assert sq.decide(record("p1", 2000, session="cs_other"), stream.state) == []
    assert stream.state.balance_cents == 2000


def test_a_payment_without_a_started_purchase_is_still_credited() -> None:
    stream = purchased(700, "p7")
    assert stream.state.balance_cents == 700
    assert "p7" not in stream.state.purchases
    assert stream.state.credited.get("p7") == Credit(700, 0, paid_request=False)


def test_only_the_payment_webhook_records_a_payment() -> None:
    command = sq.RecordPurchase(
        actor=MEMBER,
        purchase_id="p1",
        amount_cents=100,
        buyer_id="42",
        checkout_session_id="cs",
        payment_event_id="e",
    )
    with pytest.raises(NotAllowed, match="operator"):
        sq.decide(command, sq.initial_squadron)


def test_an_unpaid_checkout_is_closed_once() -> None:
    stream = new_squadron()
    run(stream, start("p1"))
    close = sq.ClosePurchase(actor=STRIPE, purchase_id="p1", reason="expired")
    run(stream, close)
    assert "p1" not in stream.state.purchases
    assert sq.decide(close, stream.state) == []


def test_closing_a_paid_purchase_decides_nothing() -> None:
    stream = new_squadron()
    run(stream, start("p1"))
    run(stream, record("p1", 1000))
    close = sq.ClosePurchase(actor=STRIPE, purchase_id="p1", reason="payment_failed")
    assert sq.decide(close, stream.state) == []


def start_by(
    buyer_id: str, purchase_id: str, lapsed_before: datetime = LONG_AGO
) -> sq.StartPurchase:
    return sq.StartPurchase(
        actor=Actor(buyer_id, GUILD),
        purchase_id=purchase_id,
        amount_cents=500,
        buyer_id=buyer_id,
        checkout_session_id=f"cs_{purchase_id}",
        lapsed_before=lapsed_before,
    )


def with_open_checkouts(count: int, buyer_id: str = "42") -> Stream[sq.SquadronState]:
    stream = new_squadron()
    for n in range(count):
        run(stream, start_by(buyer_id, f"p{n}"))
    return stream


def test_a_member_holding_the_most_open_checkouts_is_refused_another() -> None:
    stream = with_open_checkouts(sq.MAX_OPEN_PURCHASES)

    with pytest.raises(Conflict) as refused:
        sq.decide(start_by("42", "one_more"), stream.state)

    assert str(refused.value) == (
        "You already have 5 payment links open; pay one of them (they are in your DMs) or "
        "wait for one to expire before asking for another."
    )


def test_the_open_checkout_cap_counts_each_member_alone() -> None:
    stream = with_open_checkouts(sq.MAX_OPEN_PURCHASES)

    assert sq.decide(start_by("77", "theirs"), stream.state)


@pytest.mark.parametrize("ending", ["paid", "closed"])
def test_a_checkout_paid_or_closed_frees_its_place(ending: str) -> None:
    stream = with_open_checkouts(sq.MAX_OPEN_PURCHASES)
    if ending == "paid":
        run(stream, record("p0", 500))
    else:
        run(stream, sq.ClosePurchase(actor=STRIPE, purchase_id="p0", reason="expired"))

    assert sq.decide(start_by("42", "next"), stream.state)


def test_a_checkout_past_its_lifetime_no_longer_counts_as_open() -> None:
    stream = with_open_checkouts(sq.MAX_OPEN_PURCHASES)
    after_they_lapsed = RECORDED_AT + timedelta(seconds=1)

    assert sq.decide(start_by("42", "next", after_they_lapsed), stream.state)


def test_closing_a_purchase_that_is_not_open_decides_nothing() -> None:
    close = sq.ClosePurchase(actor=STRIPE, purchase_id="nope", reason="expired")
    assert sq.decide(close, sq.initial_squadron) == []


def test_a_payment_arriving_after_the_checkout_was_closed_is_credited() -> None:
    stream = new_squadron()
    run(stream, start("p1"))
    run(stream, sq.ClosePurchase(actor=STRIPE, purchase_id="p1", reason="expired"))
    run(stream, record("p1", 1000))
    assert stream.state.balance_cents == 1000


# --- grants and admin refunds ------------------------------------------------------------------


def test_an_operator_grants_credit() -> None:
    assert funded(2500).state.balance_cents == 2500


def test_a_member_may_not_grant_credit() -> None:
    with pytest.raises(NotAllowed, match="Only an rr operator can grant credit"):
        sq.decide(sq.GrantCredits(actor=MANAGER, amount=5, reason="x"), sq.initial_squadron)


@pytest.mark.parametrize(("cents", "reason"), [(0, "x"), (-1, "x"), (10, "  ")])
def test_a_grant_needs_a_positive_amount_and_a_reason(cents: int, reason: str) -> None:
    with pytest.raises(InvalidRequest):
        sq.decide(sq.GrantCredits(actor=OPERATOR, amount=cents, reason=reason), sq.initial_squadron)


def test_an_admin_refund_takes_available_credit() -> None:
    stream = funded(1000)
    run(stream, admin_refund(400))
    assert stream.state.balance_cents == 600


def test_an_admin_refund_may_not_take_reserved_credit() -> None:
    stream = funded(1000)
    run(stream, reserve("m1", 800))
    with pytest.raises(InvalidRequest) as refused:
        sq.decide(admin_refund(300), stream.state)
    assert str(refused.value) == (
        "The squadron has only $2.00 of unreserved credit; refund at most that "
        "or allow a negative balance."
    )


def test_an_admin_refund_beyond_the_balance_needs_allow_negative() -> None:
    stream = funded(1000)
    with pytest.raises(InvalidRequest, match="allow a negative balance"):
        sq.decide(admin_refund(1500), stream.state)
    run(stream, admin_refund(1500, allow_negative=True))
    assert stream.state.balance_cents == -500


def test_only_an_operator_refunds() -> None:
    command = sq.RefundCredits(actor=MANAGER, amount=1, reason="x")
    with pytest.raises(NotAllowed, match="refund credit"):
        sq.decide(command, funded(100).state)


def test_an_admin_refund_of_a_purchase_is_limited_to_what_is_left_of_it() -> None:
    stream = purchased(1000)
    command = sq.RefundCredits(actor=OPERATOR, amount=600, reason="r", purchase_id="p1")
    run(stream, command)
    with pytest.raises(InvalidRequest, match=r"Only \$4.00 of that purchase is left"):
        sq.decide(command, stream.state)


def test_a_refund_naming_an_unknown_purchase_is_not_found() -> None:
    command = sq.RefundCredits(actor=OPERATOR, amount=1, reason="r", purchase_id="zz")
    with pytest.raises(NotFound):
        sq.decide(command, funded(100).state)


# --- Stripe refunds ---------------------------------------------------------------------------


def test_a_stripe_refund_of_unspent_credit_is_reversed_in_full() -> None:
    stream = purchased(2000)
    events = run(stream, stripe_refund(2000))
    assert events == [
        CreditsRefunded(
            amount_cents=2000,
            reason="stripe refund",
            purchase_id="p1",
            shortfall_cents=0,
            source="stripe",
        )
    ]
    assert stream.state.balance_cents == 0


def test_a_stripe_refund_of_spent_credit_records_the_shortfall() -> None:
    stream = purchased(2000)
    run(stream, reserve("m1", 1500))
    run(stream, sq.Charge(actor=STRIPE, session_id="m1", minutes=300, amount=1500))
    events = run(stream, stripe_refund(2000))
    assert events[-1] == CreditsRefunded(
        amount_cents=500,
        reason="stripe refund",
        purchase_id="p1",
        shortfall_cents=1500,
        source="stripe",
    )
    assert stream.state.balance_cents == 0


def test_a_stripe_refund_cuts_reservations_newest_first() -> None:
    stream = purchased(3000)
    run(stream, reserve("old", 1000))
    run(stream, reserve("new", 1500))
    events = run(stream, stripe_refund(2000))
    assert events[:-1] == [ReservationReduced(session_id="new", amount_cents=1500)]
    events = run(stream, stripe_refund(1000))
    assert events[:-1] == [ReservationReduced(session_id="old", amount_cents=1000)]
    assert stream.state.balance_cents == 0
    assert stream.state.reservations == {"old": 0, "new": 0}


def test_a_stripe_refund_cuts_across_reservations_when_one_is_not_enough() -> None:
    stream = purchased(3000)
    run(stream, reserve("old", 1000))
    run(stream, reserve("new", 1500))
    events = run(stream, stripe_refund(2800))
    assert events[:-1] == [
        ReservationReduced(session_id="new", amount_cents=1500),
        ReservationReduced(session_id="old", amount_cents=800),
    ]
    assert stream.state.reservations == {"old": 200, "new": 0}
    assert stream.state.available_cents == 0


def test_a_stripe_refund_reverses_at_most_what_is_left_of_the_purchase() -> None:
    stream = funded(5000)
    run(stream, record("p1", 1000))
    run(stream, stripe_refund(700))
    events = run(stream, stripe_refund(700))
    assert isinstance(events[0], CreditsRefunded)
    assert events[0].amount_cents == 300
    assert sq.decide(stripe_refund(100), stream.state) == []
    assert stream.state.balance_cents == 5000


def test_a_stripe_refund_must_name_a_credited_purchase() -> None:
    with pytest.raises(InvalidRequest, match="must name the purchase"):
        sq.decide(stripe_refund(100, purchase_id=None), funded(100).state)
    stream = new_squadron()
    run(stream, start("p1"))
    with pytest.raises(NotFound):
        sq.decide(stripe_refund(100), stream.state)


# --- reservations and charges ----------------------------------------------------------------


def test_a_reservation_sets_credit_aside() -> None:
    stream = funded(1000)
    run(stream, reserve("m1", 600))
    state = stream.state
    assert (state.balance_cents, state.reserved_cents, state.available_cents) == (1000, 600, 400)
    assert state.active_sessions == ("m1",)


def test_a_reservation_beyond_available_credit_is_refused_with_the_shortfall() -> None:
    stream = funded(1000)
    run(stream, reserve("m1", 550))
    with pytest.raises(InsufficientCredit) as refused:
        sq.decide(reserve("m2", 1200), stream.state)
    error = refused.value
    assert (error.needed_cents, error.available_cents, error.shortfall_cents) == (1200, 450, 750)
    assert str(error) == (
        "That needs $12.00 of credit but the squadron has $4.50 available; "
        "buy $7.50 more with /credits buy."
    )


def prepaid(session_id: str, cents: int, minimum: int) -> sq.Reserve:
    return sq.Reserve(
        actor=MEMBER, session_id=session_id, amount=cents, limits=LIMITS, minimum=minimum
    )


def test_a_reservation_with_a_minimum_takes_the_available_credit_when_short() -> None:
    stream = funded(1000)
    run(stream, reserve("m1", 550))
    events = run(stream, prepaid("m2", 1200, minimum=300))
    assert [(e.session_id, e.amount_cents) for e in events] == [("m2", 450)]  # type: ignore[attr-defined]
    assert stream.state.reservations == {"m1": 550, "m2": 450}
    assert stream.state.available_cents == 0


def test_a_reservation_with_a_minimum_takes_only_the_amount_when_credit_covers_it() -> None:
    stream = funded(1000)
    run(stream, prepaid("m1", 600, minimum=300))
    assert stream.state.reservations == {"m1": 600}


def test_a_reservation_short_of_its_minimum_is_refused_with_what_the_minimum_lacks() -> None:
    stream = funded(1000)
    run(stream, reserve("m1", 800))
    with pytest.raises(InsufficientCredit) as refused:
        sq.decide(prepaid("m2", 1200, minimum=300), stream.state)
    error = refused.value
    assert (error.needed_cents, error.available_cents, error.shortfall_cents) == (300, 200, 100)
    assert error.shortest_session
    assert str(error) == (
        "The shortest session needs $3.00 of credit but the squadron has $2.00 available; "
        "buy $1.00 more with /credits buy."
    )


def test_a_minimum_above_the_amount_asks_only_for_the_amount() -> None:
    stream = funded(100)
    run(stream, prepaid("m1", 80, minimum=300))
    assert stream.state.reservations == {"m1": 80}
    with pytest.raises(InsufficientCredit) as refused:
        sq.decide(prepaid("m2", 80, minimum=300), stream.state)
    assert (refused.value.needed_cents, refused.value.shortfall_cents) == (80, 60)


def test_a_reservation_minimum_cannot_be_negative() -> None:
    with pytest.raises(InvalidRequest, match="minimum cannot be negative"):
        sq.decide(prepaid("m1", 100, minimum=-1), funded(1000).state)


def test_the_shortfall_is_shown_in_the_configured_currency() -> None:
    command = sq.Reserve(actor=MEMBER, session_id="m", amount=100, limits=LIMITS, currency="eur")
    with pytest.raises(InsufficientCredit, match="€1"):
        sq.decide(command, sq.initial_squadron)


def test_a_limit_of_one_server_is_told_in_the_singular() -> None:
    stream = funded(10_000)
    one = replace(LIMITS, max_concurrent_per_guild=1)
    run(stream, sq.Reserve(actor=MEMBER, session_id="m1", amount=100, limits=one))
    with pytest.raises(Conflict, match="already has 1 server running or booked"):
        sq.decide(sq.Reserve(actor=MEMBER, session_id="m2", amount=100, limits=one), stream.state)


def test_at_most_the_concurrent_limit_of_sessions_hold_reservations() -> None:
    stream = funded(10_000)
    run(stream, reserve("m1", 100))
    run(stream, reserve("m2", 100))
    with pytest.raises(Conflict, match="already has 2 servers running or booked"):
        sq.decide(reserve("m3", 100), stream.state)


def test_extending_a_reserved_session_does_not_count_against_the_limit() -> None:
    stream = funded(10_000)
    run(stream, reserve("m1", 100))
    run(stream, reserve("m2", 100))
    run(stream, reserve("m1", 50))
    assert stream.state.reservations == {"m1": 150, "m2": 100}


def test_a_released_session_frees_its_slot_and_credit() -> None:
    stream = funded(1000)
    run(stream, reserve("m1", 300))
    run(stream, reserve("m1", 200))
    events = run(stream, sq.ReleaseReservation(actor=MEMBER, session_id="m1"))
    assert events[0].amount_cents == 500  # type: ignore[attr-defined]
    assert stream.state.available_cents == 1000
    assert stream.state.active_sessions == ()


def test_releasing_a_session_without_a_reservation_decides_nothing() -> None:
    assert sq.decide(sq.ReleaseReservation(actor=MEMBER, session_id="m"), funded(1).state) == []


def test_a_reservation_cannot_be_negative() -> None:
    with pytest.raises(InvalidRequest, match="cannot be negative"):
        sq.decide(reserve("m1", -1), funded(100).state)


def test_a_charge_takes_the_minutes_run_and_releases_the_whole_reservation() -> None:
    stream = funded(1000)
    run(stream, reserve("m1", 600))
    run(stream, sq.Charge(actor=STRIPE, session_id="m1", minutes=61, amount=255))
    state = stream.state
    assert (state.balance_cents, state.reserved_cents, state.available_cents) == (745, 0, 745)


def test_a_charge_beyond_the_reservation_is_still_recorded() -> None:
    stream = funded(500)
    run(stream, reserve("m1", 500))
    run(stream, sq.Charge(actor=STRIPE, session_id="m1", minutes=200, amount=800))
    assert stream.state.balance_cents == -300


@pytest.mark.parametrize(("minutes", "cents"), [(-1, 0), (0, -1)])
def test_a_charge_cannot_be_negative(minutes: int, cents: int) -> None:
    with pytest.raises(InvalidRequest):
        sq.decide(
            sq.Charge(actor=STRIPE, session_id="m", minutes=minutes, amount=cents), funded(1).state
        )


def test_a_charge_of_zero_still_frees_the_reservation() -> None:
    stream = funded(500)
    run(stream, reserve("m1", 500))
    run(stream, sq.Charge(actor=STRIPE, session_id="m1", minutes=0, amount=0))
    assert stream.state.reservations == {}


def test_forgetting_secrets_blanks_them_turns_off_what_needs_them_until_one_is_set() -> None:
    stream = new_squadron()
    run(
        stream,
        sq.ChangeSettings(
            actor=MANAGER,
            changes={
                "password": "hunter22",
                "lotatc.blue_password": "blue1",
                "lotatc.enabled": "yes",
            },
        ),
    )
    with pytest.raises(NotAllowed):
        run(stream, sq.ForgetSecrets(actor=MANAGER))
    [event] = run(stream, sq.ForgetSecrets(actor=OPERATOR))
    assert isinstance(event, SquadronSettingsChanged)
    assert event.secrets_forgotten
    assert set(event.changed) == {"password", "lotatc.blue_password", "lotatc.enabled"}
    assert stream.state.settings.password == ""
    assert stream.state.settings.lotatc.enabled is False
    assert stream.state.secrets_forgotten
    run(stream, sq.ChangeSettings(actor=MANAGER, changes={"max_players": "12"}))
    assert stream.state.secrets_forgotten, "still to be set again after an unrelated change"
    run(stream, sq.ChangeSettings(actor=MANAGER, changes={"password": "new-one"}))
    assert not stream.state.secrets_forgotten
