"""Once the payment lands, the start or booking it was bought for is carried out, once."""

import asyncio

from bot.domain.mission import MissionStatus
from bot.notify import BookingConfirmedNotice, IntentFailedNotice, ReadyNotice
from bot.view import Balance
from tests.services.harness import GUILD, HOUR, MEMBER, START, BotProcess, member


async def buy(bot: BotProcess, amount: int, intent: dict[str, object], n: int = 1) -> None:
    await bot.services.squadrons.record_purchase_started(
        member(MEMBER), GUILD, f"p{n}", amount, f"cs_{n}", intent
    )


async def test_a_paid_start_starts_the_server_for_the_buyer(bot: BotProcess) -> None:
    await buy(bot, 240, {"action": "start", "size": "medium", "duration_minutes": 60})

    assert await bot.services.squadrons.record_purchase(GUILD, "p1", 240, MEMBER, "cs_1", "evt_1")
    await bot.services.background.drain()

    [confirmed] = bot.notifier.of_type(BookingConfirmedNotice)
    assert (confirmed.purchase_id, confirmed.user_id) == ("p1", MEMBER)
    mission = await bot.services.missions.get(confirmed.mission.mission_id)
    assert (mission.status, mission.booked_by, mission.immediate) == (
        MissionStatus.RUNNING,
        MEMBER,
        True,
    )
    assert len(bot.notifier.of_type(ReadyNotice)) == 1
    assert await bot.services.squadrons.balance(GUILD) == Balance(240, 240, 0)


async def test_a_paid_booking_is_booked_for_its_time(bot: BotProcess) -> None:
    start_at = START + 3 * HOUR
    await buy(
        bot,
        320,
        {"action": "book", "duration_minutes": 60, "start_at": start_at.isoformat()},
    )

    await bot.services.squadrons.record_purchase(GUILD, "p1", 320, MEMBER, "cs_1", "evt_1")
    await bot.services.background.drain()

    [confirmed] = bot.notifier.of_type(BookingConfirmedNotice)
    assert (confirmed.mission.status, confirmed.mission.start_at) == (
        MissionStatus.BOOKED,
        start_at,
    )


async def test_a_paid_request_is_carried_out_once_however_often_payment_is_reported(
    bot: BotProcess,
) -> None:
    await buy(bot, 240, {"action": "start", "duration_minutes": 60})

    await asyncio.gather(
        *(
            bot.services.squadrons.record_purchase(GUILD, "p1", 240, MEMBER, "cs_1", f"evt_{n}")
            for n in range(5)
        )
    )
    await bot.services.background.drain()

    assert len(bot.notifier.of_type(BookingConfirmedNotice)) == 1
    assert len(await bot.services.missions.for_guild(GUILD)) == 1


async def test_a_paid_request_that_still_cannot_be_done_tells_the_buyer_why(
    bot: BotProcess,
) -> None:
    await buy(bot, 100, {"action": "start", "duration_minutes": 60})

    await bot.services.squadrons.record_purchase(GUILD, "p1", 100, MEMBER, "cs_1", "evt_1")
    await bot.services.background.drain()

    [failed] = bot.notifier.of_type(IntentFailedNotice)
    assert (failed.user_id, failed.purchase_id, failed.action) == (MEMBER, "p1", "start")
    assert "buy" in failed.message and failed.message.endswith(".")
    assert await bot.services.squadrons.balance(GUILD) == Balance(100, 0, 100)


async def test_a_plain_purchase_books_nothing(bot: BotProcess) -> None:
    await bot.services.squadrons.record_purchase_started(
        member(MEMBER), GUILD, "p1", 500, "cs_1", None
    )

    await bot.services.squadrons.record_purchase(GUILD, "p1", 500, MEMBER, "cs_1", "evt_1")
    await bot.services.background.drain()

    assert bot.notifier.notices == []
    assert await bot.services.missions.for_guild(GUILD) == []
