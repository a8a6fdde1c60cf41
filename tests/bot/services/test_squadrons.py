import asyncio
from datetime import timedelta

import pytest

from bot.domain.errors import InvalidRequest, NotAllowed
from bot.domain.squadron import squadron_stream
from bot.view import Balance
from tests.bot.domain.streams import LONG_AGO
from tests.bot.services.harness import (
    GUILD,
    HOUR,
    MEMBER,
    MINUTE,
    START,
    BotProcess,
    member,
    operator,
)

# --- settings -------------------------------------------------------------------------------


async def test_settings_are_parsed_from_text_and_kept(bot: BotProcess) -> None:
    settings = await bot.services.squadrons.change_settings(
        member(manager=True), {"max_players": "32", "srs.enabled": "yes", "timezone": "Europe/Oslo"}
    )

    assert (settings.max_players, settings.srs.enabled, settings.timezone) == (
        32,
        True,
        "Europe/Oslo",
    )
    assert (await bot.services.squadrons.get(GUILD)).settings == settings


async def test_a_member_who_is_not_a_manager_cannot_change_settings(bot: BotProcess) -> None:
    with pytest.raises(NotAllowed):
        await bot.services.squadrons.change_settings(member(MEMBER), {"max_players": "32"})

    assert await bot.types(squadron_stream(GUILD)) == []


async def test_a_bad_setting_value_is_refused_in_one_sentence(bot: BotProcess) -> None:
    with pytest.raises(InvalidRequest, match=r"^max_players must be .*\.$"):
        await bot.services.squadrons.change_settings(member(manager=True), {"max_players": "999"})


async def test_a_new_squadron_has_default_settings_and_no_credit(bot: BotProcess) -> None:
    squadron = await bot.services.squadrons.get(GUILD)

    assert squadron.guild_id == GUILD
    assert squadron.settings.instance_size == "medium"
    assert await bot.services.squadrons.balance(GUILD) == Balance(0, 0, 0)
    assert await bot.services.squadrons.squadron_name(GUILD) == "DCS Server"


# --- grants and refunds ------------------------------------------------------------------------


async def test_only_an_operator_may_grant_credit(bot: BotProcess) -> None:
    with pytest.raises(NotAllowed):
        await bot.services.squadrons.grant(member(manager=True), GUILD, 500, "a gift")


async def test_an_admin_refund_beyond_available_credit_needs_allow_negative(
    bot: BotProcess,
) -> None:
    await bot.fund(1_000)
    await bot.services.sessions.book(member(), start_at=START + HOUR, duration_minutes=60)

    with pytest.raises(InvalidRequest, match="allow a negative balance"):
        await bot.services.squadrons.refund(operator(), GUILD, 900, "goodwill reversed")
    balance = await bot.services.squadrons.refund(
        operator(), GUILD, 900, "goodwill reversed", allow_negative=True
    )

    assert balance == Balance(100, 240, -140)


async def test_history_lists_balance_changes_newest_first_in_pages(bot: BotProcess) -> None:
    await bot.fund(1_000)
    await bot.services.squadrons.record_purchase(GUILD, "p1", 500, MEMBER, "cs_1", "evt_1")
    started = await bot.services.sessions.start(member(), duration_minutes=60)
    await bot.services.background.drain()
    await bot.clock.advance(30 * MINUTE)
    await bot.services.sessions.stop(member(), started.session_id)
    await bot.services.squadrons.refund(operator(), GUILD, 200, "mistake")

    first = await bot.services.squadrons.history(GUILD, page=0, page_size=3)
    second = await bot.services.squadrons.history(GUILD, page=1, page_size=3)

    assert (first.total, first.pages, second.page) == (4, 2, 1)
    assert [(e.kind, e.amount_cents, e.balance_cents) for e in first.items] == [
        ("refund", -200, 1_180),
        ("charge", -120, 1_380),
        ("purchase", 500, 1_500),
    ]
    assert first.items[1].session_id == started.session_id
    assert first.items[1].description == "Server time: 30 minutes"
    assert [(e.kind, e.amount_cents, e.description) for e in second.items] == [
        ("grant", 1_000, "Granted: test credit")
    ]


async def test_history_refuses_a_negative_page(bot: BotProcess) -> None:
    with pytest.raises(InvalidRequest):
        await bot.services.squadrons.history(GUILD, page=-1)


# --- payments ---------------------------------------------------------------------------------


async def test_a_payment_is_credited_once_however_often_it_is_reported(bot: BotProcess) -> None:
    results = await asyncio.gather(
        *(
            bot.services.squadrons.record_purchase(GUILD, "p1", 2_500, MEMBER, "cs_1", f"evt_{n}")
            for n in range(10)
        )
    )

    assert sorted(results) == [False] * 9 + [True]
    assert await bot.services.squadrons.balance(GUILD) == Balance(2_500, 0, 2_500)
    assert (await bot.types(squadron_stream(GUILD))).count("CreditsPurchased") == 1


async def test_a_redelivered_payment_event_is_a_duplicate(bot: BotProcess) -> None:
    assert await bot.services.squadrons.record_purchase(GUILD, "p1", 500, MEMBER, "cs_1", "evt_1")

    assert not await bot.services.squadrons.record_purchase(
        GUILD, "p1", 500, MEMBER, "cs_1", "evt_1"
    )


async def test_closing_a_purchase_happens_once_and_never_after_payment(bot: BotProcess) -> None:
    buyer = member(MEMBER)
    for purchase_id, session in (("p1", "cs_1"), ("p2", "cs_2")):
        await bot.services.squadrons.record_purchase_started(
            buyer, GUILD, purchase_id, 500, session, None, lapsed_before=LONG_AGO
        )
    await bot.services.squadrons.record_purchase(GUILD, "p2", 500, MEMBER, "cs_2", "evt_paid")

    assert await bot.services.squadrons.close_purchase(GUILD, "p1", "expired", "evt_1")
    assert not await bot.services.squadrons.close_purchase(GUILD, "p1", "expired", "evt_1")
    assert not await bot.services.squadrons.close_purchase(GUILD, "p2", "expired", "evt_2")
    closed = await bot.services.squadrons.purchase(GUILD, "p1")
    assert closed is not None and closed.status == "closed"
    assert "p1" not in (await bot.services.squadrons.get(GUILD)).purchases


async def test_closing_an_unknown_purchase_records_nothing(bot: BotProcess) -> None:
    assert not await bot.services.squadrons.close_purchase(GUILD, "nope", "payment_failed", "evt_1")
    assert await bot.types(squadron_stream(GUILD)) == []


async def test_a_payment_redelivered_after_its_key_expired_is_still_a_duplicate(
    bot: BotProcess,
) -> None:
    """Long after the store forgot the append's idempotency key, the credit kept in the state
    refuses the purchase a second credit; the purchase itself is read from its events."""
    await bot.services.squadrons.record_purchase_started(
        member(MEMBER), GUILD, "p1", 500, "cs_1", None, lapsed_before=LONG_AGO
    )
    assert await bot.services.squadrons.record_purchase(GUILD, "p1", 500, MEMBER, "cs_1", "evt_1")
    await bot.clock.advance(timedelta(days=30))

    paid = await bot.services.squadrons.purchase(GUILD, "p1")
    redelivered = await bot.services.squadrons.record_purchase(
        GUILD, "p1", 500, MEMBER, "cs_1", "evt_1"
    )

    assert paid is not None
    assert (paid.status, paid.checkout_session_id, paid.amount_cents) == ("credited", "cs_1", 500)
    assert not redelivered
    assert (await bot.types(squadron_stream(GUILD))).count("CreditsPurchased") == 1
    assert await bot.services.squadrons.balance(GUILD) == Balance(500, 0, 500)


async def test_a_stripe_refund_reverses_up_to_the_refunded_total(bot: BotProcess) -> None:
    await bot.services.squadrons.record_purchase(GUILD, "p1", 1_000, MEMBER, "cs_1", "evt_1")

    assert await bot.services.squadrons.record_stripe_refund(GUILD, "p1", 300, "evt_r1") == 0
    assert await bot.services.squadrons.record_stripe_refund(GUILD, "p1", 300, "evt_r1") == 0
    assert await bot.services.squadrons.record_stripe_refund(GUILD, "p1", 500, "evt_r2") == 0

    assert await bot.services.squadrons.balance(GUILD) == Balance(500, 0, 500)


async def test_a_stripe_refund_after_spending_reports_the_shortfall(bot: BotProcess) -> None:
    await bot.services.squadrons.record_purchase(GUILD, "p1", 240, MEMBER, "cs_1", "evt_1")
    started = await bot.services.sessions.start(member(), duration_minutes=60)
    await bot.services.background.drain()
    await bot.clock.advance(60 * MINUTE)
    await bot.services.sessions.stop(member(), started.session_id)

    shortfall = await bot.services.squadrons.record_stripe_refund(GUILD, "p1", 240, "evt_r")

    assert shortfall == 240
    assert await bot.services.squadrons.balance(GUILD) == Balance(0, 0, 0)


async def test_a_malformed_intent_is_refused_before_anything_is_recorded(
    bot: BotProcess,
) -> None:
    with pytest.raises(InvalidRequest, match="duration"):
        await bot.services.squadrons.record_purchase_started(
            member(),
            GUILD,
            "p1",
            500,
            "cs_1",
            {"action": "start", "duration_minutes": "2h"},
            lapsed_before=LONG_AGO,
        )

    assert await bot.types(squadron_stream(GUILD)) == []
