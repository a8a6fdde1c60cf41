"""The preflight's web items: Stripe's keys (one read-only API call) and the public URL."""

import aiohttp
import stripe

from bot.config import Settings
from bot.preflight.findings import Finding, failed, passed

PUBLIC_URL_TIMEOUT = aiohttp.ClientTimeout(total=10)
WEBHOOK_SECRET_PREFIX = "whsec_"


async def stripe_keys(settings: Settings, api_base: str | None) -> list[Finding]:
    """The API key and webhook secret (the settings allow both or neither)."""
    key, secret = settings.stripe_api_key, settings.stripe_webhook_secret
    if key is None or secret is None:
        if settings.sandbox_payments_in_discord:
            return [
                failed(
                    "Stripe",
                    "RR_SANDBOX_PAYMENTS=true: Discord members get credit for free; set "
                    "STRIPE_API_KEY and STRIPE_WEBHOOK_SECRET for real payments.",
                )
            ]
        return [passed("Stripe", "not used: the local sandbox takes payments (no DISCORD_TOKEN)")]
    found = [await _api_key(key.get_secret_value(), api_base)]
    if not secret.get_secret_value().startswith(WEBHOOK_SECRET_PREFIX):
        found.append(
            failed(
                "Stripe webhook secret",
                "STRIPE_WEBHOOK_SECRET is not a signing secret (whsec_...); copy it "
                "from the webhook endpoint <RR_PUBLIC_URL>/stripe/webhook in Stripe.",
            )
        )
    else:
        found.append(passed("Stripe webhook secret", "set (whsec_...)"))
    return found


async def _api_key(key: str, api_base: str | None) -> Finding:
    item = "Stripe API key"
    http = stripe.AIOHTTPClient()
    client = stripe.StripeClient(
        key, base_addresses={"api": api_base} if api_base else None, http_client=http
    )
    try:
        await client.v1.checkout.sessions.list_async({"limit": 1})
    except stripe.AuthenticationError:
        return failed(item, "Stripe refuses STRIPE_API_KEY; copy a current key from Stripe.")
    except stripe.PermissionError:
        return failed(
            item,
            "the key may not read Checkout Sessions; give the restricted key write access "
            "to Checkout Sessions.",
        )
    except stripe.StripeError as error:
        return failed(item, f"Stripe did not answer as expected ({type(error).__name__}).")
    finally:
        await http.close_async()
    mode = "test" if key.startswith(("sk_test_", "rk_test_")) else "live"
    return passed(item, f"Stripe accepts it ({mode} mode; listed checkout sessions)")


async def public_url(settings: Settings) -> Finding:
    item = "public URL"
    if settings.public_url is None:
        return failed(
            item,
            "RR_PUBLIC_URL is not set; Stripe, buyers and the servers' agents reach rr there.",
        )
    url = f"{str(settings.public_url).rstrip('/')}/healthz"
    try:
        async with (
            aiohttp.ClientSession(timeout=PUBLIC_URL_TIMEOUT) as session,
            session.get(url, allow_redirects=False) as response,
        ):
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as error:
        return failed(
            item,
            f"{url} is not reachable ({type(error).__name__}); check DNS, TLS and the proxy in "
            "front of rr, and that rr is running.",
        )
    if status == 200:
        return passed(item, f"{url} answers 200")
    return failed(
        item, f"{url} answers {status}; rr's health check fails or a proxy is in the way."
    )
