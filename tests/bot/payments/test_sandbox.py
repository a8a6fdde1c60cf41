"""The sandbox provider end to end: checkout page, Pay, signed webhook to the bot, credit lands."""

from datetime import timedelta

import pytest
from yarl import URL

from bot.domain.actor import Actor
from bot.domain.squadron import squadron_stream
from bot.notify import CreditsLandedNotice
from bot.payments import PaymentsConfig
from tests.bot.payments.conftest import BUYER, GUILD, Running, sandbox_config


async def page(app: Running, path: str) -> tuple[int, str]:
    async with app.http.get(app.base_url + path) as reply:
        return reply.status, await reply.text()


async def press_pay(app: Running, checkout_path: str) -> tuple[int, str, str]:
    async with app.http.post(app.base_url + checkout_path + "/pay") as reply:
        return reply.status, reply.url.path, await reply.text()


async def test_paying_on_the_sandbox_page_credits_the_squadron(
    running, buyer: Actor, ledger, notifier, store
) -> None:
    app: Running = await running(sandbox_config())
    link = await app.payments.start_checkout(buyer, GUILD, 1500)
    checkout_path = URL(link.url).path

    status, html = await page(app, checkout_path)
    assert status == 200
    assert "$15.00" in html and "DCS Server" in html and GUILD in html
    assert 'id="pay"' in html and 'href="/payments/cancelled"' in html

    status, landed_on, html = await press_pay(app, checkout_path)

    assert (status, landed_on) == (200, "/payments/success")
    assert "Payment received" in html
    assert (await ledger.balance(GUILD)).balance_cents == 1500
    stored = [e async for e in store.read(squadron_stream(GUILD))]
    assert [e.type for e in stored] == ["PurchaseStarted", "CreditsPurchased"]
    assert stored[1].data["checkout_session_id"] == stored[0].data["checkout_session_id"]
    assert stored[1].data["payment_event_id"].startswith("evt_sandbox_")
    landed = await notifier.wait_for(CreditsLandedNotice)
    assert (landed.buyer_id, landed.amount_cents) == (BUYER, 1500)


async def test_the_page_says_loudly_that_pay_is_free_when_real_discord_members_use_it(
    running, buyer: Actor
) -> None:
    quiet: Running = await running(sandbox_config())
    loud: Running = await running(
        PaymentsConfig(
            provider="sandbox", public_url="https://rr.example.test", sandbox_in_discord=True
        )
    )
    quiet_html = (
        await page(quiet, URL((await quiet.payments.start_checkout(buyer, GUILD, 1500)).url).path)
    )[1]
    loud_html = (
        await page(loud, URL((await loud.payments.start_checkout(buyer, GUILD, 1500)).url).path)
    )[1]

    assert "SANDBOX PAYMENTS ON A REAL DISCORD BOT" not in quiet_html
    assert "SANDBOX PAYMENTS ON A REAL DISCORD BOT" in loud_html
    assert "free credit" in loud_html and "RR_SANDBOX_PAYMENTS" in loud_html


async def test_pressing_pay_twice_credits_once(running, buyer: Actor, ledger) -> None:
    app: Running = await running(sandbox_config())
    checkout_path = URL((await app.payments.start_checkout(buyer, GUILD, 1500)).url).path

    first = await press_pay(app, checkout_path)
    second = await press_pay(app, checkout_path)

    assert first[1] == "/payments/success"
    assert second[0] == 200 and "Already paid" in second[2]
    assert (await ledger.balance(GUILD)).balance_cents == 1500


async def test_a_paid_checkout_link_says_it_was_paid_even_after_it_expired(
    running, buyer: Actor, ledger, clock
) -> None:
    app: Running = await running(sandbox_config())
    checkout_path = URL((await app.payments.start_checkout(buyer, GUILD, 1500)).url).path
    await press_pay(app, checkout_path)

    reopened = await page(app, checkout_path)
    await clock.advance(timedelta(hours=2))
    later = await page(app, checkout_path)

    for status, html in (reopened, later):
        assert status == 200
        assert "Already paid" in html and "no longer open" not in html and 'id="pay"' not in html
    assert (await ledger.balance(GUILD)).balance_cents == 1500


async def test_the_cancel_page_says_nothing_was_charged(running) -> None:
    app: Running = await running(sandbox_config())

    status, html = await page(app, "/payments/cancelled")

    assert status == 200 and "Nothing was charged" in html


async def test_an_unknown_or_expired_checkout_cannot_be_paid(
    running, buyer: Actor, ledger, clock
) -> None:
    app: Running = await running(sandbox_config())
    checkout_path = URL((await app.payments.start_checkout(buyer, GUILD, 1500)).url).path

    unknown = await page(app, "/sandbox/checkout/nope")
    await clock.advance(timedelta(hours=1))
    expired = await press_pay(app, checkout_path)

    assert unknown[0] == 404 and "no longer open" in unknown[1]
    assert expired[0] == 404 and "no longer open" in expired[2]
    assert (await ledger.balance(GUILD)).balance_cents == 0


async def test_a_forged_delivery_cannot_credit_the_sandbox(running, buyer: Actor, ledger) -> None:
    app: Running = await running(sandbox_config())
    await app.payments.start_checkout(buyer, GUILD, 1500)
    session = {
        "id": "cs_forged",
        "payment_status": "paid",
        "amount_total": 1500,
        "currency": "usd",
        "metadata": {"guild_id": GUILD, "buyer_id": BUYER, "purchase_id": "p"},
    }

    status, _ = await app.deliver(
        app.event("checkout.session.completed", session), secret="whsec_guess"
    )

    assert status == 400
    assert (await ledger.balance(GUILD)).balance_cents == 0


@pytest.mark.parametrize(
    ("keys", "named"),
    [
        ({"stripe_api_key": "sk_live_x"}, "STRIPE_API_KEY"),
        ({"stripe_webhook_secret": "whsec_x"}, "STRIPE_WEBHOOK_SECRET"),
    ],
)
def test_the_sandbox_refuses_to_run_with_stripe_keys(keys: dict[str, str], named: str) -> None:
    with pytest.raises(ValueError, match=f"sandbox payments provider refuses to run while {named}"):
        PaymentsConfig(provider="sandbox", public_url="http://127.0.0.1:8080", **keys)  # type: ignore[arg-type]
