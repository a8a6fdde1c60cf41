"""Opening a Stripe Checkout through the real stripe SDK against the fake Stripe API."""

from datetime import timedelta

import pytest

import eventstore
from bot.domain.actor import Actor
from bot.domain.errors import Conflict
from bot.domain.squadron import MAX_OPEN_PURCHASES, squadron_stream
from bot.payments import PaymentError
from tests.bot.payments.conftest import BUYER, GUILD, START, stripe_config
from tests.fakes.stripe_api import FailureMode, FakeStripeApi


async def events_of(store: eventstore.EventStore, guild_id: str = GUILD) -> list[str]:
    return [e.type async for e in store.read(squadron_stream(guild_id))]


async def test_checkout_creates_a_payment_session_and_records_the_purchase(
    running, stripe_api: tuple[FakeStripeApi, str], buyer: Actor, store
) -> None:
    fake, api_base = stripe_api
    app = await running(stripe_config(api_base))
    intent = {"action": "start", "size": "small", "duration_minutes": 120}

    link = await app.payments.start_checkout(buyer, GUILD, 2500, intent)

    (session,) = fake.sessions.values()
    assert link.url == session["url"]
    assert link.amount_cents == 2500
    assert session["client_reference_id"] == link.purchase_id
    assert session["metadata"] == {
        "guild_id": GUILD,
        "buyer_id": BUYER,
        "purchase_id": link.purchase_id,
    }
    assert fake.intent_metadata[session["id"]] == session["metadata"]
    assert session["amount_total"] == 2500 and session["currency"] == "usd"
    assert session["success_url"].startswith("https://rr.example.test/payments/success")
    assert session["cancel_url"] == "https://rr.example.test/payments/cancelled"
    assert session["expires_at"] == int((START + timedelta(hours=1)).timestamp())
    (request,) = fake.requests
    assert request.params["line_items"][0]["quantity"] == "1"
    assert request.idempotency_key == f"rr-checkout-{link.purchase_id}"
    stored = [e async for e in store.read(squadron_stream(GUILD))]
    assert [e.type for e in stored] == ["PurchaseStarted"]
    assert stored[0].data == {
        "purchase_id": link.purchase_id,
        "amount_cents": 2500,
        "buyer_id": BUYER,
        "checkout_session_id": session["id"],
        "intent": intent,
    }


@pytest.mark.parametrize(
    ("mode", "sentence"),
    [
        (FailureMode.CARD_DECLINED, "The card was declined; try another card or payment method."),
        (
            FailureMode.API_DOWN,
            "Stripe could not be reached just now; please try again in a few minutes.",
        ),
        (
            FailureMode.BAD_KEY,
            "Payments are not available right now because of a configuration problem; "
            "please tell the bot's operators.",
        ),
    ],
)
async def test_a_stripe_error_becomes_one_sentence_and_records_nothing(
    running, stripe_api, buyer: Actor, store, mode: FailureMode, sentence: str
) -> None:
    fake, api_base = stripe_api
    app = await running(stripe_config(api_base))
    fake.fail(mode)

    with pytest.raises(PaymentError) as raised:
        await app.payments.start_checkout(buyer, GUILD, 2500)

    assert str(raised.value) == sentence
    assert await events_of(store) == []


async def test_an_unreachable_stripe_is_a_plain_sentence(running, buyer: Actor, store) -> None:
    app = await running(stripe_config("http://127.0.0.1:9"))

    with pytest.raises(PaymentError, match="Stripe could not be reached"):
        await app.payments.start_checkout(buyer, GUILD, 2500)

    assert await events_of(store) == []


@pytest.mark.parametrize(
    ("amount", "sentence"),
    [
        (499, "The smallest purchase is $5.00; choose that or a larger amount."),
        (0, "The smallest purchase is $5.00; choose that or a larger amount."),
        (
            50_001,
            "The largest single purchase is $500.00; choose a smaller amount and buy again "
            "if you need more.",
        ),
        (12.5, "The amount must be a whole number of cents."),
        (True, "The amount must be a whole number of cents."),
    ],
)
async def test_an_amount_out_of_bounds_is_refused_before_stripe_is_asked(
    running, stripe_api, buyer: Actor, store, amount: object, sentence: str
) -> None:
    fake, api_base = stripe_api
    app = await running(stripe_config(api_base))

    with pytest.raises(PaymentError) as raised:
        await app.payments.start_checkout(buyer, GUILD, amount)  # type: ignore[arg-type]

    assert str(raised.value) == sentence
    assert fake.requests == []
    assert await events_of(store) == []


async def test_the_purchase_limits_are_inclusive(running, stripe_api, buyer: Actor) -> None:
    fake, api_base = stripe_api
    app = await running(stripe_config(api_base))

    await app.payments.start_checkout(buyer, GUILD, 500)
    await app.payments.start_checkout(buyer, GUILD, 50_000)

    assert sorted(s["amount_total"] for s in fake.sessions.values()) == [500, 50_000]


async def test_a_member_cannot_buy_for_another_guild(running, stripe_api, store) -> None:
    fake, api_base = stripe_api
    app = await running(stripe_config(api_base))
    stranger = Actor(user_id=BUYER, guild_id="999999999999999999")

    with pytest.raises(PaymentError, match="only buy credit for the Discord server you are in"):
        await app.payments.start_checkout(stranger, GUILD, 2500)

    assert fake.requests == []


async def test_a_member_with_the_most_open_checkouts_is_refused_until_one_lapses(
    running, stripe_api, buyer: Actor, store, clock
) -> None:
    fake, api_base = stripe_api
    app = await running(stripe_config(api_base))
    for _ in range(MAX_OPEN_PURCHASES):
        await app.payments.start_checkout(buyer, GUILD, 500)

    with pytest.raises(Conflict, match="payment links open; pay one of them"):
        await app.payments.start_checkout(buyer, GUILD, 500)

    assert len(fake.requests) == MAX_OPEN_PURCHASES
    assert len(await events_of(store)) == MAX_OPEN_PURCHASES
    await clock.advance(timedelta(hours=1, seconds=1))
    await app.payments.start_checkout(buyer, GUILD, 500)
    assert len(fake.requests) == MAX_OPEN_PURCHASES + 1
