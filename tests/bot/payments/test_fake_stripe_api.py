"""The fake Stripe API answers the stripe SDK as Stripe would (the other tests rely on it)."""

from collections.abc import AsyncIterator

import pytest
import stripe

from tests.fakes.stripe_api import FakeStripeApi, decode_form


@pytest.fixture
async def sdk(stripe_api: tuple[FakeStripeApi, str]) -> AsyncIterator[stripe.StripeClient]:
    http = stripe.AIOHTTPClient()
    yield stripe.StripeClient(
        "sk_test_fake_key", base_addresses={"api": stripe_api[1]}, http_client=http
    )
    await http.close_async()


async def test_a_created_session_can_be_retrieved_and_an_unknown_one_is_missing(
    sdk: stripe.StripeClient,
) -> None:
    created = await sdk.v1.checkout.sessions.create_async(
        {
            "mode": "payment",
            "success_url": "https://rr.example.test/ok",
            "line_items": [
                {
                    "price_data": {
                        "currency": "eur",
                        "unit_amount": 700,
                        "product_data": {"name": "Time"},
                    },
                    "quantity": 2,
                }
            ],
        }
    )
    fetched = await sdk.v1.checkout.sessions.retrieve_async(created.id)
    with pytest.raises(stripe.InvalidRequestError) as missing:
        await sdk.v1.checkout.sessions.retrieve_async("cs_test_nope")

    assert (fetched.id, fetched.amount_total, fetched.currency) == (created.id, 1400, "eur")
    assert missing.value.code == "resource_missing"


@pytest.mark.parametrize("missing", ["mode", "line_items", "success_url"])
async def test_a_session_without_a_required_param_is_refused(
    stripe_api: tuple[FakeStripeApi, str], sdk: stripe.StripeClient, missing: str
) -> None:
    fake, _ = stripe_api
    params = {
        "mode": "payment",
        "success_url": "https://rr.example.test/ok",
        "line_items": [{"price": "price_1", "quantity": 1}],
    }
    del params[missing]

    with pytest.raises(stripe.InvalidRequestError) as refused:
        await sdk.v1.checkout.sessions.create_async(params)  # type: ignore[arg-type]

    assert refused.value.param == missing
    assert fake.sessions == {}


def test_stripe_form_encoding_decodes_to_nested_maps_and_lists() -> None:
    body = (
        "mode=payment&line_items[0][price_data][currency]=usd&line_items[0][quantity]=1"
        "&line_items[1][quantity]=3&metadata[guild_id]=42"
    )

    assert decode_form(body) == {
        "mode": "payment",
        "line_items": [{"price_data": {"currency": "usd"}, "quantity": "1"}, {"quantity": "3"}],
        "metadata": {"guild_id": "42"},
    }
