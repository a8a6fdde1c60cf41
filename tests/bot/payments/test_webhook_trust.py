"""What a correctly signed delivery may do: credit only the purchase rr started, as started, and
never put a key or secret in a log line on the way."""

import logging
from typing import Any

import pytest
from yarl import URL

from bot.domain.actor import Actor
from bot.domain.squadron import squadron_stream
from bot.notify import AdminAlertNotice
from tests.bot.payments.conftest import GUILD, Running, bought, sandbox_config, stripe_config
from tests.fakes.stripe_api import FailureMode, FakeStripeApi, sign

OTHER_GUILD = "333333333333333333"


@pytest.fixture
async def app(running, stripe_api) -> Running:
    _, api_base = stripe_api
    return await running(stripe_config(api_base))


async def types_in(store, guild_id: str) -> list[str]:
    return [e.type async for e in store.read(squadron_stream(guild_id))]


async def test_a_payment_naming_another_guild_credits_neither_until_the_genuine_one_arrives(
    app: Running, stripe_api, buyer: Actor, ledger, store
) -> None:
    fake, _ = stripe_api
    session = fake.complete(await bought(app, fake, buyer))
    moved = {**session, "metadata": {**session["metadata"], "guild_id": OTHER_GUILD}}

    moved_answer = await app.deliver(app.event("checkout.session.completed", moved))
    genuine_answer = await app.deliver(app.event("checkout.session.completed", session))

    assert moved_answer == (503, {"result": "not_yet_known", "detail": moved_answer[1]["detail"]})
    assert await types_in(store, OTHER_GUILD) == []
    assert genuine_answer[1]["result"] == "credited"
    assert (await ledger.balance(GUILD)).balance_cents == 2500


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"amount_total": 250_000}, "250000 cents were paid for a purchase of 2500 cents"),
        ({"id": "cs_test_someone_elses"}, "the purchase belongs to checkout cs_test_"),
        ({"buyer_id": "444444444444444444"}, "the purchase was started by member 2222"),
    ],
)
async def test_a_payment_that_differs_from_the_purchase_started_is_not_credited(
    app: Running,
    stripe_api,
    buyer: Actor,
    ledger,
    notifier,
    store,
    change: dict[str, Any],
    reason: str,
) -> None:
    fake, _ = stripe_api
    session = fake.complete(await bought(app, fake, buyer, 2500))
    if "buyer_id" in change:
        session["metadata"] = {**session["metadata"], **change}
    else:
        session.update(change)

    status, answer = await app.deliver(app.event("checkout.session.completed", session))

    assert (status, answer["result"]) == (200, "refused")
    assert answer["detail"].startswith(reason)
    assert await types_in(store, GUILD) == ["PurchaseStarted"]
    assert (await ledger.balance(GUILD)).balance_cents == 0
    alert = await notifier.wait_for(AdminAlertNotice)
    assert alert.guild_id is None and "credit it by hand if it is genuine" in alert.message


async def test_a_refund_in_another_currency_is_not_reversed(
    app: Running, stripe_api, buyer: Actor, ledger, notifier
) -> None:
    fake, _ = stripe_api
    session_id = await bought(app, fake, buyer, 2500)
    await app.deliver(app.event("checkout.session.completed", fake.complete(session_id)))
    charge = {**fake.refunded_charge(session_id, 2500), "currency": "jpy"}

    status, answer = await app.deliver(app.event("charge.refunded", charge))

    assert (status, answer["result"]) == (200, "refused")
    assert (await ledger.balance(GUILD)).balance_cents == 2500
    assert "reverse it by hand" in (await notifier.wait_for(AdminAlertNotice)).message


def logged_text(records: list[logging.LogRecord]) -> str:
    """Everything a log handler could print: messages, arguments, extra fields, tracebacks."""
    return "\n".join(f"{record.getMessage()} {vars(record)!r}" for record in records)


async def test_the_stripe_key_and_webhook_secret_never_reach_a_log_line(
    running, stripe_api: tuple[FakeStripeApi, str], buyer: Actor, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    fake, api_base = stripe_api
    app: Running = await running(stripe_config(api_base))
    fake.fail(FailureMode.BAD_KEY)
    with pytest.raises(Exception, match="configuration problem"):
        await app.payments.start_checkout(buyer, GUILD, 2500)
    fake.failure = None
    session_id = await bought(app, fake, buyer)
    await app.deliver(app.event("checkout.session.completed", fake.complete(session_id)))
    refunded = fake.refunded_charge(session_id, 2500, copy_metadata=False)
    await app.deliver(app.event("charge.refunded", refunded))
    now = int(app.clock.now().timestamp())
    await app.post_webhook(b"{}", {"Stripe-Signature": sign(b"{}", "whsec_wrong", now)})
    await app.payments.aclose()

    text = logged_text(caplog.records)
    assert "stripe checkout refused" in text and "Request to Stripe api" in text
    assert "sk_test_fake_key" not in text and "whsec_test_secret" not in text


async def test_the_sandbox_webhook_secret_never_reaches_a_log_line(
    running, buyer: Actor, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    app: Running = await running(sandbox_config())
    link = await app.payments.start_checkout(buyer, GUILD, 1500)
    async with app.http.post(app.base_url + URL(link.url).path + "/pay") as reply:
        assert reply.status == 200
    await app.payments.aclose()

    text = logged_text(caplog.records)
    assert "stripe event" in text
    assert app.payments.provider.webhook_secret not in text
