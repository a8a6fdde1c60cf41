"""The journeys squadrons make, end to end through discord.py and the emulator."""

from datetime import timedelta

import pytest

from bot.domain.actor import Actor
from bot.domain.session import SessionStatus
from discord_emulator import InteractionHandle, Message
from discord_emulator.models import walk_components
from tests.cogs.conftest import World

pytestmark = pytest.mark.e2e

MINUTE = timedelta(minutes=1)


def mentions(message: Message, who: object) -> bool:
    return f"<@{who.id}>" in message.content  # type: ignore[attr-defined]


def labels(message: Message) -> dict[str, str]:
    """The message's buttons: custom id to label."""
    return {
        str(c["custom_id"]): str(c["label"])
        for c in walk_components(message.components)
        if "custom_id" in c
    }


async def buy_credit(w: World, amount: str) -> None:
    """A manager buys credit and pays on the sandbox checkout page."""
    dm = w.emu.next_message(w.manager)
    handle = await w.emu.invoke(w.guild, w.manager, "credits buy", {"amount": amount})
    reply = await handle.message()
    assert reply.ephemeral
    assert "sent you a DM" in reply.content
    link = await dm
    assert link.content.startswith(f"Pay ${amount}.00 of server credit here: http")
    receipt = w.emu.next_message(w.manager)
    await w.pay(link)
    assert f"Receipt: ${amount}.00 of server credit added" in (await receipt).content


async def test_buy_start_ready_warn_extend_and_end_on_time(world: World) -> None:
    w = world
    landed = w.emu.next_message(w.reminders)
    await buy_credit(w, "20")
    assert "added $20.00 of server credit" in (await landed).content

    start = await w.emu.invoke(w.guild, w.manager, "server start", {"duration": "1h"})
    quote = await start.message()
    assert quote.ephemeral
    assert quote.embeds[0]["title"] == "Start a server now"
    fields = {field["name"]: field["value"] for field in quote.embeds[0]["fields"]}
    assert fields["Cost"] == "$2.00"
    assert fields["Credit available"] == "$20.00"

    announced = w.emu.next_message(w.general)
    ready = w.emu.next_message(w.reminders)
    confirm = await start.click("confirm")
    await confirm.response()
    announcement = await announced
    assert mentions(announcement, w.manager)
    assert "server starting" in announcement.content
    await w.app.services.background.drain()
    await w.ready()
    await w.advance(timedelta(seconds=30))
    ready_message = await ready
    [session] = await w.app.services.sessions.for_guild(w.guild_id)
    assert session.status is SessionStatus.RUNNING
    assert session.instance_id is not None
    assert mentions(ready_message, w.manager)
    assert "Server #1 · " in ready_message.content
    assert "is ready at `127.0.0.1:" in ready_message.content

    warning = w.emu.next_message(w.reminders)
    await w.advance(45 * MINUTE)
    warned = await warning
    assert "ends in 15 minutes" in warned.content
    assert f"rr:extend:{session.session_id}:30" in warned.custom_ids()

    extend = await w.emu.click(warned, f"rr:extend:{session.session_id}:30", w.manager)
    extended = await extend.message()
    assert extended.ephemeral
    assert "by 30 minutes; it now ends" in extended.content

    ended = w.emu.until(
        lambda: next(
            (m for m in w.emu.channel_messages(w.reminders) if "has stopped" in m.content), None
        ),
        "the end notice",
    )
    await w.advance(46 * MINUTE)
    notice = await ended
    assert "booked time over" in notice.content
    assert "90 minutes billed, $3.00" in notice.content
    final = await w.app.services.sessions.get(session.session_id)
    assert final.status is SessionStatus.ENDED
    instance = await w.app.services.provider.describe(session.instance_id)
    assert instance.state in ("terminated", "gone")
    balance = await w.app.services.squadrons.balance(w.guild_id)
    assert balance.available_cents == 2000 - 300


async def test_a_booking_short_of_credit_is_confirmed_once_the_payment_lands(world: World) -> None:
    w = world
    handle = await w.emu.invoke(
        w.guild, w.manager, "server schedule", {"start": "tomorrow 20:00", "duration": "2h"}
    )
    reply = await handle.message()
    assert reply.ephemeral
    assert "That needs $4.00 of credit" in reply.content
    assert "payment link for $5.00" in reply.content
    assert "buy" in reply.custom_ids()
    assert await w.app.services.sessions.for_guild(w.guild_id) == []

    dm = w.emu.next_message(w.manager)
    await (await handle.click("buy")).response()
    link = await dm
    assert "Your server will be booked as soon as the payment lands" in link.content
    await w.pay(link)
    confirmed = await w.emu.until(
        lambda: next(
            (m for m in w.emu.dm_messages(w.manager) if "is booked for" in m.content),
            None,
        ),
        "the booking confirmation DM",
    )
    assert "Your payment landed" in confirmed.content
    [session] = await w.app.services.sessions.for_guild(w.guild_id)
    assert session.status is SessionStatus.BOOKED
    assert session.start_at.hour == 20 and session.duration_minutes == 120


async def test_a_booked_session_is_reminded_launched_and_ready_on_the_fake_clock(
    world: World,
) -> None:
    w = world
    await w.fund(5000)
    start_at = (w.clock.now() + timedelta(hours=26)).replace(second=0)
    handle = await w.emu.invoke(
        w.guild,
        w.manager,
        "server schedule",
        {"start": start_at.strftime("%Y-%m-%d %H:%M"), "duration": "1h"},
    )
    await handle.message()
    await (await handle.click("confirm")).response()
    await w.emu.until(
        lambda: next((m for m in handle.messages if "Server booked" in m.content), None),
        "the booking",
    )

    def reminders() -> list[Message]:
        return [
            m
            for m in w.emu.channel_messages(w.reminders)
            if "Server #1 · " in m.content and " starts <t:" in m.content
        ]

    await w.advance(start_at - w.clock.now() - timedelta(hours=23, minutes=59))
    await w.emu.until(lambda: reminders() or None, "the day-before reminder")
    await w.advance(timedelta(hours=23))
    await w.emu.until(lambda: len(reminders()) >= 2 or None, "the hour-before reminder")
    lead = timedelta(minutes=w.app.settings.schedule.boot_lead_minutes)
    await w.advance(start_at - lead - w.clock.now() - MINUTE)
    await w.app.services.background.drain()
    [session] = await w.app.services.sessions.for_guild(w.guild_id)
    assert session.status is SessionStatus.BOOKED
    ready = w.emu.next_message(w.reminders)
    await w.advance(MINUTE)
    await w.app.services.background.drain()
    await w.ready()
    assert "is ready at" in (await ready).content
    [session] = await w.app.services.sessions.for_guild(w.guild_id)
    assert session.launched_at == start_at - lead
    await w.advance(lead - timedelta(minutes=15))
    await w.emu.until(lambda: len(reminders()) == 3 or None, "the quarter-hour reminder")
    await w.advance(timedelta(minutes=30))
    assert len(reminders()) == 3
    assert all(mentions(message, w.manager) for message in reminders())


async def start_on_part_of_its_cost(w: World) -> tuple[InteractionHandle, Message]:
    """A manager with $1.50 of credit (45 minutes of a medium server) asks for four hours."""
    await w.fund(150)
    handle = await w.emu.invoke(w.guild, w.manager, "server start", {"duration": "4h"})
    return handle, await handle.message()


async def test_a_start_short_of_its_cost_runs_on_the_credit_there_is_until_it_is_spent(
    world: World,
) -> None:
    w = world
    began = w.clock.now()
    funded_end = began + 45 * MINUTE
    start, quote = await start_on_part_of_its_cost(w)
    assert quote.ephemeral
    [embed] = quote.embeds
    assert embed["description"] == (
        f"Credit covers 45 minutes: the server runs until <t:{int(funded_end.timestamp())}:t> "
        "unless you buy more."
    )
    fields = {field["name"]: field["value"] for field in embed["fields"]}
    assert (fields["Cost"], fields["Credit available"]) == ("$8.00", "$1.50")
    assert labels(quote) == {"confirm": "Start anyway", "buy": "Buy $6.50"}

    ready = w.emu.next_message(w.reminders)
    await (await start.click("confirm")).response()
    await w.app.services.background.drain()
    await w.ready()
    await w.advance(timedelta(seconds=30))
    await ready
    [session] = await w.app.services.sessions.for_guild(w.guild_id)
    assert session.end_at == began + timedelta(hours=4)

    warning = w.emu.next_message(w.reminders)
    await w.advance(funded_end - 10 * MINUTE - w.clock.now())
    warned = await warning
    assert mentions(warned, w.manager)
    assert "credit runs out in 10 minutes" in warned.content

    ended = w.emu.next_message(w.reminders)
    await w.advance(10 * MINUTE)
    notice = await ended
    assert "has stopped (out of credit): 45 minutes billed, $1.50" in notice.content
    final = await w.app.services.sessions.get(session.session_id)
    assert (final.status, final.ended_at) == (SessionStatus.ENDED, funded_end)
    balance = await w.app.services.squadrons.balance(w.guild_id)
    assert (balance.balance_cents, balance.reserved_cents) == (0, 0)


async def test_buying_the_rest_of_a_start_short_of_its_cost_starts_the_whole_session(
    world: World,
) -> None:
    w = world
    start, _ = await start_on_part_of_its_cost(w)

    dm = w.emu.next_message(w.manager)
    await (await start.click("buy")).response()
    link = await dm
    assert link.content.startswith("Pay $6.50 of server credit here: http")
    await w.pay(link)
    await w.emu.until(
        lambda: next(
            (m for m in w.emu.dm_messages(w.manager) if "is booked for" in m.content),
            None,
        ),
        "the confirmation DM",
    )
    [session] = await w.app.services.sessions.for_guild(w.guild_id)
    assert (session.immediate, session.duration_minutes) == (True, 240)
    squadron = await w.app.services.squadrons.get(w.guild_id)
    assert squadron.reservations == {session.session_id: 800}


async def book_for_later(w: World, hours: int) -> None:
    """A server booked for ``hours`` from now through the services, with credit granted for
    exactly what it reserves."""
    booker = Actor(
        user_id=str(w.manager.id),
        guild_id=w.guild_id,
        is_manager=True,
        source_id=f"booking-{hours}",
    )
    start_at = w.clock.now() + timedelta(hours=hours)
    quote = await w.app.services.sessions.quote(w.guild_id, None, 60, start_at)
    await w.fund(quote.cost_cents)
    await w.app.services.sessions.book(booker, start_at=start_at, duration_minutes=60)


async def purchases_started(w: World) -> int:
    return sum(1 for event in await w.events() if event.type == "PurchaseStarted")


async def test_a_squadron_at_its_server_limit_is_told_so_and_offered_nothing_to_buy(
    world: World,
) -> None:
    w = world
    for hours in (2, 3):
        await book_for_later(w, hours)
    assert (await w.app.services.squadrons.balance(w.guild_id)).available_cents == 0

    handle = await w.emu.invoke(w.guild, w.manager, "server start", {"duration": "1h"})
    reply = await handle.message()

    assert reply.ephemeral
    assert "already has 2 servers running or booked" in reply.content
    assert reply.custom_ids() == []
    assert await purchases_started(w) == 0


async def test_the_buy_button_sells_nothing_once_the_request_would_be_refused(
    world: World,
) -> None:
    w = world
    await book_for_later(w, 2)
    handle = await w.emu.invoke(w.guild, w.manager, "server start", {"duration": "1h"})
    offer = await handle.message()
    assert "buy" in offer.custom_ids()
    await book_for_later(w, 3)

    refused = await (await handle.click("buy")).message()

    assert "already has 2 servers running or booked" in refused.content
    assert w.emu.dm_messages(w.manager) == []
    assert await purchases_started(w) == 0
