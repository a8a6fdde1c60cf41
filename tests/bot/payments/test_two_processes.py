"""Two bot processes on one store, each with its own web app, caches and view, hearing from
Stripe in any order."""

import asyncio

import pytest

from bot.domain.actor import Actor
from bot.domain.squadron import squadron_stream
from bot.notify import CreditsLandedNotice
from tests.bot.payments.conftest import GUILD, OtherProcess, Running, bought, stripe_config


@pytest.fixture
async def apps(running, stripe_api, other_process: OtherProcess) -> tuple[Running, Running]:
    _, api_base = stripe_api
    return (
        await running(stripe_config(api_base)),
        await running(stripe_config(api_base), other_process.services),
    )


async def test_the_same_event_delivered_twenty_times_to_two_processes_credits_once(
    apps: tuple[Running, Running],
    other_process: OtherProcess,
    stripe_api,
    buyer: Actor,
    store,
    notifier,
) -> None:
    fake, _ = stripe_api
    first, second = apps
    session_id = await bought(first, fake, buyer)
    await other_process.feeder.catch_up()
    event = first.event("checkout.session.completed", fake.complete(session_id))

    answers = await asyncio.gather(*(app.deliver(event) for app in (first, second) * 10))

    assert sorted(answer["result"] for _, answer in answers) == ["credited"] + ["duplicate"] * 19
    assert all(status == 200 for status, _ in answers)
    stored = [e.type async for e in store.read(squadron_stream(GUILD))]
    assert stored == ["PurchaseStarted", "CreditsPurchased"]
    await first.payments.aclose()
    await second.payments.aclose()
    assert len(notifier.of(CreditsLandedNotice)) == 1


async def test_a_process_whose_view_has_not_seen_the_purchase_credits_it_all_the_same(
    apps: tuple[Running, Running], other_process: OtherProcess, stripe_api, buyer: Actor
) -> None:
    fake, _ = stripe_api
    first, second = apps
    event = first.event(
        "checkout.session.completed", fake.complete(await bought(first, fake, buyer))
    )

    status, answer = await second.deliver(event)

    assert (status, answer["result"]) == (200, "credited")
    await other_process.feeder.catch_up()
    assert (await other_process.services.squadrons.balance(GUILD)).balance_cents == 2500


async def test_a_refund_reaches_a_process_whose_cache_predates_the_credit(
    apps: tuple[Running, Running], other_process: OtherProcess, stripe_api, buyer: Actor, ledger
) -> None:
    fake, _ = stripe_api
    first, second = apps
    await bought(second, fake, buyer, 700)
    session_id = await bought(first, fake, buyer, 2500)
    await first.deliver(first.event("checkout.session.completed", fake.complete(session_id)))
    await other_process.feeder.catch_up()

    status, answer = await second.deliver(
        second.event("charge.refunded", fake.refunded_charge(session_id, 2500))
    )

    assert (status, answer["result"]) == (200, "refunded")
    assert (await other_process.services.squadrons.balance(GUILD)).balance_cents == 0
