"""Signed webhook deliveries posted over HTTP to the running web app."""

import asyncio
from datetime import timedelta
from functools import partial
from typing import Any

import pytest

import eventstore
from bot.domain.actor import Actor
from bot.domain.pricing import Limits
from bot.domain.squadron import (
    Charge,
    Reserve,
    evolve,
    initial_squadron,
    squadron_stream,
)
from bot.notify import (
    AdminAlertNotice,
    BookingConfirmedNotice,
    CreditsLandedNotice,
    PurchaseClosedNotice,
)
from bot.services.streams import decide_squadron
from tests.bot.payments.conftest import BUYER, GUILD, Running, bought, stripe_config
from tests.fakes.stripe_api import sign, signed_delivery


async def stored_types(store) -> list[str]:
    return [e.type async for e in store.read(squadron_stream(GUILD))]


@pytest.fixture
async def app(running, stripe_api) -> Running:
    _, api_base = stripe_api
    return await running(stripe_config(api_base))


async def test_a_paid_checkout_credits_the_squadron_and_tells_the_buyer(
    app: Running, stripe_api, buyer: Actor, ledger, notifier, store
) -> None:
    fake, _ = stripe_api
    session_id = await bought(app, fake, buyer, 2500)

    status, answer = await app.deliver(
        app.event("checkout.session.completed", fake.complete(session_id))
    )

    assert (status, answer["result"]) == (200, "credited")
    assert (await ledger.balance(GUILD)).balance_cents == 2500
    assert await stored_types(store) == ["PurchaseStarted", "CreditsPurchased"]
    landed = await notifier.wait_for(CreditsLandedNotice)
    assert (landed.guild_id, landed.buyer_id, landed.amount_cents) == (GUILD, BUYER, 2500)
    assert landed.balance.balance_cents == 2500


async def test_the_same_event_delivered_twenty_times_at_once_credits_once(
    app: Running, stripe_api, buyer: Actor, ledger, notifier, store
) -> None:
    fake, _ = stripe_api
    event = app.event("checkout.session.completed", fake.complete(await bought(app, fake, buyer)))

    answers = await asyncio.gather(*(app.deliver(event) for _ in range(20)))

    assert all(status == 200 for status, _ in answers)
    assert sorted(a["result"] for _, a in answers) == ["credited"] + ["duplicate"] * 19
    assert await stored_types(store) == ["PurchaseStarted", "CreditsPurchased"]
    assert (await ledger.balance(GUILD)).balance_cents == 2500
    await app.payments.aclose()
    assert len(notifier.of(CreditsLandedNotice)) == 1


async def test_two_events_for_the_same_session_credit_once(
    app: Running, stripe_api, buyer: Actor, ledger, store
) -> None:
    fake, _ = stripe_api
    session = fake.complete(await bought(app, fake, buyer))

    first = await app.deliver(app.event("checkout.session.completed", session))
    second = await app.deliver(app.event("checkout.session.async_payment_succeeded", session))

    assert [first[1]["result"], second[1]["result"]] == ["credited", "duplicate"]
    assert (await ledger.balance(GUILD)).balance_cents == 2500


async def test_a_delayed_payment_credits_when_it_succeeds(
    app: Running, stripe_api, buyer: Actor, ledger
) -> None:
    fake, _ = stripe_api
    session_id = await bought(app, fake, buyer)

    waiting = await app.deliver(
        app.event("checkout.session.completed", fake.complete(session_id, payment_status="unpaid"))
    )
    assert waiting == (200, {"result": "awaiting_payment", "detail": ""})
    assert (await ledger.balance(GUILD)).balance_cents == 0

    settled = await app.deliver(
        app.event("checkout.session.async_payment_succeeded", fake.settle_async_payment(session_id))
    )
    assert settled[1]["result"] == "credited"
    assert (await ledger.balance(GUILD)).balance_cents == 2500


async def test_a_failed_delayed_payment_closes_the_purchase_and_tells_the_buyer(
    app: Running, stripe_api, buyer: Actor, ledger, notifier, store
) -> None:
    fake, _ = stripe_api
    session = fake.complete(await bought(app, fake, buyer), payment_status="unpaid")

    status, answer = await app.deliver(app.event("checkout.session.async_payment_failed", session))

    assert (status, answer["result"], answer["detail"]) == (200, "closed", "payment_failed")
    assert await stored_types(store) == ["PurchaseStarted", "PurchaseClosed"]
    closed = await notifier.wait_for(PurchaseClosedNotice)
    assert (closed.buyer_id, closed.reason, closed.amount_cents) == (BUYER, "payment_failed", 2500)


async def test_an_expired_checkout_closes_the_purchase(
    app: Running, stripe_api, buyer: Actor, store
) -> None:
    fake, _ = stripe_api
    session_id = await bought(app, fake, buyer)

    status, answer = await app.deliver(
        app.event("checkout.session.expired", fake.expire(session_id))
    )

    assert (status, answer["result"]) == (200, "closed")
    assert await stored_types(store) == ["PurchaseStarted", "PurchaseClosed"]


async def test_expired_delivered_after_completed_changes_nothing(
    app: Running, stripe_api, buyer: Actor, ledger, store
) -> None:
    fake, _ = stripe_api
    session = fake.complete(await bought(app, fake, buyer))
    await app.deliver(app.event("checkout.session.completed", session))

    status, answer = await app.deliver(
        app.event("checkout.session.expired", {**session, "status": "expired"})
    )

    assert (status, answer["result"]) == (200, "duplicate")
    assert await stored_types(store) == ["PurchaseStarted", "CreditsPurchased"]
    assert (await ledger.balance(GUILD)).balance_cents == 2500


@pytest.mark.parametrize(
    "tamper",
    [
        "wrong secret",
        "missing header",
        "changed body",
        "replayed old",
        "from the future",
        "garbage header",
        "non-ASCII header",
    ],
)
async def test_a_delivery_that_is_not_signed_now_by_stripe_records_nothing(
    app: Running, stripe_api, buyer: Actor, store, tamper: str
) -> None:
    fake, _ = stripe_api
    event = app.event("checkout.session.completed", fake.complete(await bought(app, fake, buyer)))
    now = int(app.clock.now().timestamp())
    body, headers = signed_delivery(event, app.payments.provider.webhook_secret, now)
    if tamper == "wrong secret":
        headers["Stripe-Signature"] = sign(body, "whsec_someone_else", now)
    elif tamper == "missing header":
        del headers["Stripe-Signature"]
    elif tamper == "changed body":
        body = body.replace(b'"amount_total": 2500', b'"amount_total": 250000')
    elif tamper == "replayed old":
        headers["Stripe-Signature"] = sign(body, app.payments.provider.webhook_secret, now - 301)
    elif tamper == "from the future":
        headers["Stripe-Signature"] = sign(body, app.payments.provider.webhook_secret, now + 301)
    elif tamper == "garbage header":
        headers["Stripe-Signature"] = "t=abc,v1=zzz"
    else:
        headers["Stripe-Signature"] = f"t={now},v1=\u00e9"

    status, answer = await app.post_webhook(body, headers)

    assert status == 400 and answer["result"] == "rejected"
    assert await stored_types(store) == ["PurchaseStarted"]


async def test_a_signature_inside_the_tolerance_is_accepted(
    app: Running, stripe_api, buyer: Actor
) -> None:
    fake, _ = stripe_api
    event = app.event("checkout.session.completed", fake.complete(await bought(app, fake, buyer)))

    status, _ = await app.deliver(event, signed_at=int(app.clock.now().timestamp()) - 300)

    assert status == 200


async def test_a_ten_megabyte_body_is_rejected_and_records_nothing(
    app: Running, stripe_api, buyer: Actor, store
) -> None:
    fake, _ = stripe_api
    session = fake.complete(await bought(app, fake, buyer))
    event = app.event("checkout.session.completed", {**session, "padding": "x" * 10_000_000})

    status, answer = await app.deliver(event)

    assert status == 400 and answer == {"result": "rejected", "detail": "body too large"}
    assert await stored_types(store) == ["PurchaseStarted"]


async def test_a_refund_after_part_of_the_credit_was_spent_reverses_what_is_left(
    app: Running, stripe_api, buyer: Actor, ledger, notifier, store, feeder
) -> None:
    fake, _ = stripe_api
    session_id = await bought(app, fake, buyer, 2500)
    await app.deliver(app.event("checkout.session.completed", fake.complete(session_id)))
    await spend_in_another_process(store, 1500)
    await feeder.catch_up()
    assert (await ledger.balance(GUILD)).balance_cents == 1000

    status, answer = await app.deliver(
        app.event("charge.refunded", fake.refunded_charge(session_id, 2500))
    )

    assert (status, answer["result"]) == (200, "refunded")
    refund = [e async for e in store.read(squadron_stream(GUILD)) if e.type == "CreditsRefunded"]
    assert [(e.data["amount_cents"], e.data["shortfall_cents"]) for e in refund] == [(1000, 1500)]
    assert (await ledger.balance(GUILD)).balance_cents == 0
    alert = await notifier.wait_for(AdminAlertNotice)
    assert "1500 cents could not be taken back" in alert.message


async def test_partial_refunds_reverse_the_running_total_once_even_out_of_order(
    app: Running, stripe_api, buyer: Actor, ledger
) -> None:
    fake, _ = stripe_api
    session_id = await bought(app, fake, buyer, 2500)
    await app.deliver(app.event("checkout.session.completed", fake.complete(session_id)))
    first = app.event("charge.refunded", fake.refunded_charge(session_id, 500))
    second = app.event("charge.refunded", fake.refunded_charge(session_id, 1200))

    results = [await app.deliver(e) for e in (second, first, second)]

    assert [a["result"] for _, a in results] == ["refunded", "refunded", "refunded"]
    assert (await ledger.balance(GUILD)).balance_cents == 1300


async def test_a_refund_larger_than_the_purchase_reverses_only_the_purchase(
    app: Running, stripe_api, buyer: Actor, ledger, store
) -> None:
    fake, _ = stripe_api
    first = await bought(app, fake, buyer, 2500)
    await app.deliver(app.event("checkout.session.completed", fake.complete(first)))
    second = await bought(app, fake, buyer, 1000)
    await app.deliver(app.event("checkout.session.completed", fake.complete(second)))
    oversized = {**fake.refunded_charge(first, 2500), "amount_refunded": 9_999}

    status, answer = await app.deliver(app.event("charge.refunded", oversized))

    assert (status, answer["result"]) == (200, "refunded")
    refund = [e async for e in store.read(squadron_stream(GUILD)) if e.type == "CreditsRefunded"]
    assert [(e.data["amount_cents"], e.data["shortfall_cents"]) for e in refund] == [(2500, 0)]
    assert (await ledger.balance(GUILD)).balance_cents == 1000


async def test_a_refund_without_metadata_finds_its_purchase_through_stripe(
    app: Running, stripe_api, buyer: Actor, ledger
) -> None:
    fake, _ = stripe_api
    session_id = await bought(app, fake, buyer, 2500)
    await app.deliver(app.event("checkout.session.completed", fake.complete(session_id)))
    charge = fake.refunded_charge(session_id, 2500, copy_metadata=False)

    status, answer = await app.deliver(app.event("charge.refunded", charge))

    assert (status, answer["result"]) == (200, "refunded")
    assert (await ledger.balance(GUILD)).balance_cents == 0


@pytest.mark.parametrize(
    ("event_type", "obj"),
    [
        ("customer.created", {"id": "cus_1", "object": "customer"}),
        (
            "checkout.session.completed",
            {"id": "cs_other", "payment_status": "paid", "metadata": {}},
        ),
    ],
)
async def test_events_that_are_not_rr_purchases_are_acknowledged_and_ignored(
    app: Running, store, event_type: str, obj: dict[str, Any]
) -> None:
    status, answer = await app.deliver(app.event(event_type, obj))

    assert (status, answer["result"]) == (200, "ignored")
    assert await stored_types(store) == []


async def test_the_answer_does_not_wait_for_the_notices(
    app: Running, stripe_api, buyer: Actor, notifier, monkeypatch
) -> None:
    fake, _ = stripe_api
    release = asyncio.Event()
    delivered = notifier.notify

    async def slow_notify(notice: Any) -> None:
        await release.wait()
        await delivered(notice)

    monkeypatch.setattr(notifier, "notify", slow_notify)
    event = app.event("checkout.session.completed", fake.complete(await bought(app, fake, buyer)))

    status, answer = await app.deliver(event)

    assert (status, answer["result"]) == (200, "credited")
    assert notifier.of(CreditsLandedNotice) == []
    release.set()
    await notifier.wait_for(CreditsLandedNotice)


async def spend_in_another_process(store: eventstore.EventStore, amount: int) -> None:
    """Another bot process on the same store runs a session and charges ``amount`` for it."""
    other = eventstore.Repository(store, evolve, initial_squadron)
    actor = Actor.system("scheduler")
    reserve = Reserve(actor=actor, session_id="m1", amount=amount, limits=Limits())
    charge = Charge(actor=actor, session_id="m1", minutes=60, amount=amount)
    for command in (reserve, charge):
        await other.execute(squadron_stream(GUILD), partial(decide_squadron, command))


async def test_a_booking_that_waited_for_its_payment_is_made_once_when_paid(
    app: Running, stripe_api, buyer: Actor, services, notifier
) -> None:
    fake, _ = stripe_api
    start_at = app.clock.now() + timedelta(days=1)
    intent = {
        "action": "book",
        "duration_minutes": 60,
        "size": "small",
        "start_at": start_at.isoformat(),
    }
    link = await app.payments.start_checkout(buyer, GUILD, 500, intent)
    session_id = next(
        s["id"] for s in fake.sessions.values() if s["client_reference_id"] == link.purchase_id
    )
    event = app.event("checkout.session.completed", fake.complete(session_id))

    await asyncio.gather(*(app.deliver(event) for _ in range(5)))
    await services.background.drain()

    (confirmed,) = notifier.of(BookingConfirmedNotice)
    assert (confirmed.purchase_id, confirmed.session.start_at) == (link.purchase_id, start_at)
    assert [m.session_id for m in await services.sessions.for_guild(GUILD)] == [
        confirmed.session.session_id
    ]


async def test_an_event_the_rules_refuse_is_acknowledged_and_reported_to_the_operators(
    app: Running, stripe_api, buyer: Actor, notifier, store
) -> None:
    fake, _ = stripe_api
    never_paid = await bought(app, fake, buyer, 2500)
    before = await stored_types(store)

    status, answer = await app.deliver(
        app.event("charge.refunded", fake.refunded_charge(never_paid, 2500))
    )

    assert (status, answer["result"]) == (200, "refused")
    assert await stored_types(store) == before
    alert = await notifier.wait_for(AdminAlertNotice)
    assert alert.guild_id is None and "was not recorded" in alert.message


async def test_a_chunked_body_over_the_limit_is_rejected_without_reading_it_all(
    app: Running, store
) -> None:
    async def endless_json() -> Any:
        yield b'{"id": "evt_1", "padding": "'
        for _ in range(100):
            yield b"x" * 65_536

    headers = {"Stripe-Signature": "t=1,v1=00", "Content-Type": "application/json"}
    status, answer = await app.post_webhook(endless_json(), headers)  # type: ignore[arg-type]

    assert status == 400 and answer["detail"] == "body too large"
    assert await stored_types(store) == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "body is not JSON"),
        (b'{"id": "evt_1", "type": "checkout.session.completed"}', "body is not a Stripe event"),
        (b'{"id": "evt_\xff"}', "body is not UTF-8"),
    ],
)
async def test_a_signed_body_that_is_not_a_stripe_event_is_rejected(
    app: Running, store, body: bytes, reason: str
) -> None:
    now = int(app.clock.now().timestamp())
    headers = {"Stripe-Signature": sign(body, app.payments.provider.webhook_secret, now)}

    status, answer = await app.post_webhook(body, headers)

    assert (status, answer) == (400, {"result": "rejected", "detail": reason})
    assert await stored_types(store) == []
