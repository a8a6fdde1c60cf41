"""When recording fails: the webhook answers 5xx so Stripe delivers the event again, and the
sandbox page says the payment was not recorded."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from yarl import URL

import eventstore
from bot.domain.actor import Actor
from bot.domain.squadron import squadron_stream
from tests.bot.payments.conftest import GUILD, Running, bought, sandbox_config, stripe_config
from tests.fakes.stripe_api import FakeStripeApi


@pytest.fixture
def database(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'rr.db'}"


@pytest.fixture
async def store(database: str) -> AsyncIterator[eventstore.EventStore]:
    """A SQLite store the test closes itself, to make every later write fail."""
    yield eventstore.open(database)


async def test_a_store_failure_answers_503_without_a_trace_and_records_nothing(
    running, stripe_api: tuple[FakeStripeApi, str], buyer: Actor, store, database: str
) -> None:
    fake, api_base = stripe_api
    app: Running = await running(stripe_config(api_base))
    link = await app.payments.start_checkout(buyer, GUILD, 2500)
    (session,) = fake.sessions.values()
    await store.close()

    status, answer = await app.deliver(
        app.event("checkout.session.completed", fake.complete(session["id"]))
    )

    assert status == 503
    assert answer == {"result": "error", "detail": "temporary failure; retry later"}
    reopened = eventstore.open(database)
    try:
        stored = [e async for e in reopened.read(squadron_stream(GUILD))]
    finally:
        await reopened.close()
    assert [(e.type, e.data["purchase_id"]) for e in stored] == [
        ("PurchaseStarted", link.purchase_id)
    ]


async def test_a_sandbox_payment_that_cannot_be_recorded_says_so_and_can_be_retried(
    running, buyer: Actor, store
) -> None:
    app: Running = await running(sandbox_config())
    link = await app.payments.start_checkout(buyer, GUILD, 1500)
    await store.close()

    async with app.http.post(app.base_url + URL(link.url).path + "/pay") as reply:
        status, html = reply.status, await reply.text()

    assert status == 502
    assert "could not record this payment" in html and "press Pay again" in html


async def test_a_refund_lookup_stripe_does_not_answer_gives_up_in_time_with_503(
    running, stripe_api: tuple[FakeStripeApi, str], buyer: Actor, store
) -> None:
    fake, api_base = stripe_api
    config = replace(stripe_config(api_base), provider_lookup_timeout=timedelta(milliseconds=50))
    app: Running = await running(config)
    session_id = await bought(app, fake, buyer, 2500)
    await app.deliver(app.event("checkout.session.completed", fake.complete(session_id)))
    charge = fake.refunded_charge(session_id, 2500, copy_metadata=False)
    stalled = fake.stall()
    try:
        async with asyncio.timeout(1):
            status, answer = await app.deliver(app.event("charge.refunded", charge))
    finally:
        stalled.set()

    assert (status, answer["result"]) == (503, "error")
    stored = [e.type async for e in store.read(squadron_stream(GUILD))]
    assert stored == ["PurchaseStarted", "CreditsPurchased"]
