import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from bot.domain.errors import Conflict, InsufficientCredit, InvalidRequest, NotAllowed
from bot.domain.session import SessionStatus, session_stream
from bot.domain.squadron import squadron_stream
from bot.notify import ProgressNotice, ReadyNotice, SessionEndedNotice
from bot.view import Balance
from eventstore import StoredEvent
from eventstore.codec import Batch
from tests.bot.services.fake_provider import FakeProvider
from tests.bot.services.harness import (
    BOOKER,
    GRACE,
    GUILD,
    HOUR,
    MEMBER,
    MINUTE,
    OTHER_GUILD,
    SCHEDULE,
    START,
    BotProcess,
    member,
)

# --- quote -----------------------------------------------------------------------------------


async def test_quote_for_a_start_is_the_duration_and_names_the_shortfall(bot: BotProcess) -> None:
    await bot.fund(100)

    quote = await bot.services.sessions.quote(GUILD, "medium", 60)

    assert (quote.cost_cents, quote.available_cents, quote.shortfall_cents) == (240, 100, 140)
    assert (quote.start_at, quote.end_at) == (START, START + HOUR)
    assert quote.rate_cents_per_hour == 240


async def test_quote_for_a_start_short_of_its_cost_says_how_long_the_credit_runs(
    bot: BotProcess,
) -> None:
    await bot.fund(180)

    quote = await bot.services.sessions.quote(GUILD, "medium", 180)

    assert (quote.cost_cents, quote.available_cents, quote.shortfall_cents) == (720, 180, 540)
    assert quote.minimum_cents == 120
    assert (quote.covered_minutes, quote.covered_until) == (45, START + 45 * MINUTE)
    assert quote.can_go_ahead and quote.partly_funded


async def test_quote_for_a_start_covered_in_full_runs_to_its_end(bot: BotProcess) -> None:
    await bot.fund(1_000)

    quote = await bot.services.sessions.quote(GUILD, "medium", 180)

    assert (quote.covered_minutes, quote.covered_until) == (180, START + 3 * HOUR)
    assert quote.can_go_ahead and not quote.partly_funded


async def test_quote_for_a_start_short_of_the_shortest_session_cannot_go_ahead(
    bot: BotProcess,
) -> None:
    await bot.fund(100)

    quote = await bot.services.sessions.quote(GUILD, "medium", 180)

    assert (quote.shortfall_cents, quote.minimum_cents) == (620, 120)
    assert (quote.covered_minutes, quote.covered_until) == (0, START)
    assert not quote.can_go_ahead and not quote.partly_funded


async def test_quote_for_a_booking_short_of_its_cost_cannot_go_ahead(bot: BotProcess) -> None:
    await bot.fund(220)

    quote = await bot.services.sessions.quote(GUILD, "medium", 60, start_at=START + 3 * HOUR)

    assert (quote.cost_cents, quote.minimum_cents, quote.shortfall_cents) == (240, 240, 20)
    assert not quote.can_go_ahead and not quote.partly_funded


async def test_quote_for_a_booking_costs_what_starting_now_does_and_names_the_boot_lead(
    bot: BotProcess,
) -> None:
    await bot.fund(1_000)

    later = await bot.services.sessions.quote(GUILD, "medium", 60, start_at=START + 3 * HOUR)
    now = await bot.services.sessions.quote(GUILD, "medium", 60)

    assert (later.cost_cents, later.shortfall_cents) == (now.cost_cents, 0) == (240, 0)
    assert later.end_at == START + 4 * HOUR
    assert (later.boot_lead_minutes, now.boot_lead_minutes) == (SCHEDULE.boot_lead // MINUTE, 0)
    assert later.boot is not None and later.boot.measured is None and now.boot is None


async def test_quote_without_a_size_uses_the_squadrons_size(bot: BotProcess) -> None:
    await bot.services.squadrons.change_settings(member(manager=True), {"instance_size": "large"})

    quote = await bot.services.sessions.quote(GUILD, None, 60)

    assert quote.rate_cents_per_hour == 480


async def test_quote_refuses_what_the_booking_would_refuse(bot: BotProcess) -> None:
    with pytest.raises(InvalidRequest, match="pick a duration"):
        await bot.services.sessions.quote(GUILD, "medium", 13 * 60)
    with pytest.raises(InvalidRequest, match="in the past"):
        await bot.services.sessions.quote(GUILD, "medium", 60, start_at=START - HOUR)
    with pytest.raises(InvalidRequest, match="no server size"):
        await bot.services.sessions.quote(GUILD, "huge", 60)


async def test_quote_refuses_a_server_beyond_the_limit_rather_than_sell_credit_for_it(
    bot: BotProcess,
) -> None:
    await bot.fund(640)
    for hours in (1, 2):
        await bot.services.sessions.book(
            member(), start_at=START + hours * HOUR, duration_minutes=60
        )

    with pytest.raises(Conflict, match="most allowed"):
        await bot.services.sessions.quote(GUILD, "medium", 60)
    with pytest.raises(Conflict, match="most allowed"):
        await bot.services.sessions.quote(GUILD, "medium", 60, start_at=START + 5 * HOUR)


async def test_quote_refuses_a_mission_the_squadron_does_not_have(bot: BotProcess) -> None:
    with pytest.raises(InvalidRequest, match=r"no mission named 'briefing\.txt'"):
        await bot.services.sessions.quote(GUILD, "medium", 60, mission_name="briefing.txt")


# --- start and book ---------------------------------------------------------------------------


async def test_start_returns_the_booking_at_once_and_launches_in_the_background(
    bot: BotProcess, provider: FakeProvider
) -> None:
    await bot.fund(1_000)

    started = await bot.services.sessions.start(member(), duration_minutes=60)

    assert started.status is SessionStatus.BOOKED
    assert started.immediate and started.booked_by == BOOKER
    await bot.services.background.drain()
    ready = await bot.services.sessions.get(started.session_id)
    assert ready.status is SessionStatus.RUNNING
    assert ready.instance_id in provider.running()
    stages = [n.stage for n in bot.notifier.of_type(ProgressNotice)]
    assert stages == ["launching", "booting", "ready"]
    assert bot.notifier.of_type(ReadyNotice)[0].address == ready.address


async def test_start_reserves_the_cost_of_its_duration(bot: BotProcess) -> None:
    await bot.fund(1_000)

    started = await bot.services.sessions.start(member(), duration_minutes=90)

    squadron = await bot.services.squadrons.get(GUILD)
    assert squadron.reservations == {started.session_id: 360}
    assert await bot.services.squadrons.balance(GUILD) == Balance(1_000, 360, 640)


async def test_start_short_of_the_shortest_session_is_refused_and_records_nothing(
    bot: BotProcess,
) -> None:
    await bot.fund(100)

    with pytest.raises(InsufficientCredit) as refused:
        await bot.services.sessions.start(member(), duration_minutes=60)

    assert (refused.value.shortfall_cents, refused.value.needed_cents) == (20, 120)
    assert str(refused.value).startswith("The shortest session needs $1.20 of credit")
    assert await bot.services.sessions.for_guild(GUILD) == []
    assert await bot.types(squadron_stream(GUILD)) == ["CreditsGranted"]


async def test_start_short_of_its_cost_reserves_the_available_credit(bot: BotProcess) -> None:
    await bot.fund(180)

    started = await bot.services.sessions.start(member(), duration_minutes=180)

    assert started.end_at == START + 3 * HOUR
    assert (await bot.services.squadrons.get(GUILD)).reservations == {started.session_id: 180}
    assert await bot.services.squadrons.balance(GUILD) == Balance(180, 180, 0)


async def test_a_booking_for_later_still_needs_its_whole_cost(bot: BotProcess) -> None:
    await bot.fund(220)

    with pytest.raises(InsufficientCredit) as refused:
        await bot.services.sessions.book(member(), start_at=START + HOUR, duration_minutes=60)

    assert (refused.value.shortfall_cents, refused.value.needed_cents) == (20, 240)
    assert str(refused.value).startswith("That needs $2.40 of credit")
    assert await bot.services.sessions.for_guild(GUILD) == []


async def test_the_same_interaction_books_once(bot: BotProcess) -> None:
    await bot.fund(1_000)
    actor = member()

    first = await bot.services.sessions.start(actor, duration_minutes=60)
    again = await bot.services.sessions.start(actor, duration_minutes=60)

    assert again.session_id == first.session_id
    await bot.services.background.drain()
    assert len(await bot.services.sessions.for_guild(GUILD)) == 1
    assert (await bot.services.squadrons.get(GUILD)).reservations == {first.session_id: 240}


async def test_book_reserves_its_booked_minutes_only_and_does_not_launch(
    bot: BotProcess, provider: FakeProvider
) -> None:
    await bot.fund(1_000)

    booked = await bot.services.sessions.book(
        member(), start_at=START + 5 * HOUR, duration_minutes=60, mission_name=None
    )

    await bot.services.background.drain()
    assert booked.status is SessionStatus.BOOKED and not booked.immediate
    assert (booked.start_at, booked.end_at) == (START + 5 * HOUR, START + 6 * HOUR)
    assert (await bot.services.squadrons.get(GUILD)).reservations == {booked.session_id: 240}
    assert provider.launch_calls == []
    assert [m.session_id for m in await bot.services.sessions.for_guild(GUILD)] == [
        booked.session_id
    ]


async def test_booking_uses_the_squadrons_region_and_size(bot: BotProcess) -> None:
    await bot.fund(10_000)
    await bot.services.squadrons.change_settings(
        member(manager=True), {"region": "eu-central-1", "instance_size": "small"}
    )

    booked = await bot.services.sessions.book(member(), start_at=START + HOUR, duration_minutes=60)

    assert (booked.region, booked.size, booked.rate_cents_per_hour) == (
        "eu-central-1",
        "small",
        120,
    )


async def test_booking_in_the_past_is_refused(bot: BotProcess) -> None:
    await bot.fund(1_000)

    with pytest.raises(InvalidRequest, match="in the past"):
        await bot.services.sessions.book(member(), start_at=START - HOUR, duration_minutes=60)


async def test_booking_beyond_the_concurrency_limit_is_refused(bot: BotProcess) -> None:
    await bot.fund(10_000)
    for hours in (1, 2):
        await bot.services.sessions.book(
            member(), start_at=START + hours * HOUR, duration_minutes=60
        )

    with pytest.raises(Conflict, match="most allowed"):
        await bot.services.sessions.book(member(), start_at=START + 3 * HOUR, duration_minutes=60)


async def test_a_booking_refused_for_its_time_says_so_rather_than_ask_for_credit(
    bot: BotProcess,
) -> None:
    with pytest.raises(InvalidRequest, match="in the past"):
        await bot.services.sessions.book(member(), start_at=START - HOUR, duration_minutes=60)


async def test_booking_a_mission_the_squadron_does_not_have_is_refused(
    bot: BotProcess,
) -> None:
    await bot.fund(1_000)

    with pytest.raises(InvalidRequest, match="no mission named"):
        await bot.services.sessions.book(
            member(), start_at=START + HOUR, duration_minutes=60, mission_name="briefing.txt"
        )

    assert await bot.services.sessions.for_guild(GUILD) == []


async def test_booking_outside_a_guild_is_refused(bot: BotProcess) -> None:
    with pytest.raises(InvalidRequest, match="inside your squadron"):
        await bot.services.sessions.start(replace(member(), guild_id=None), duration_minutes=60)


async def test_concurrent_bookings_of_one_squadron_never_overspend(bot: BotProcess) -> None:
    await bot.fund(400)

    results = await asyncio.gather(
        *(
            bot.services.sessions.book(member(), start_at=START + HOUR, duration_minutes=60)
            for _ in range(4)
        ),
        return_exceptions=True,
    )

    booked = [r for r in results if not isinstance(r, Exception)]
    assert len(booked) == 1
    assert all(isinstance(r, InsufficientCredit | Conflict) for r in results if r not in booked)
    assert await bot.services.squadrons.balance(GUILD) == Balance(400, 240, 160)


# --- extend -----------------------------------------------------------------------------------


async def test_extend_reserves_the_extension_and_moves_the_backstop(
    bot: BotProcess, provider: FakeProvider
) -> None:
    await bot.fund(1_000)
    started = await bot.services.sessions.start(member(), duration_minutes=60)
    await bot.services.background.drain()

    extended = await bot.services.sessions.extend(member(), started.session_id, 30)

    assert extended.end_at == START + 90 * MINUTE
    assert (await bot.services.squadrons.get(GUILD)).reservations == {started.session_id: 360}
    assert extended.instance_id is not None
    assert provider.instances[extended.instance_id].terminate_at == extended.end_at + GRACE


async def test_extend_short_of_credit_is_refused(bot: BotProcess) -> None:
    await bot.fund(300)
    started = await bot.services.sessions.start(member(), duration_minutes=60)

    with pytest.raises(InsufficientCredit):
        await bot.services.sessions.extend(member(), started.session_id, 60)

    assert (await bot.services.sessions.get(started.session_id)).end_at == START + HOUR


async def test_a_member_who_did_not_book_cannot_extend(bot: BotProcess) -> None:
    await bot.fund(1_000)
    started = await bot.services.sessions.start(member(), duration_minutes=60)

    with pytest.raises(NotAllowed):
        await bot.services.sessions.extend(member(MEMBER), started.session_id, 30)


# --- stop ---------------------------------------------------------------------------------------


async def test_stop_terminates_and_bills_the_minutes_run(
    bot: BotProcess, provider: FakeProvider
) -> None:
    await bot.fund(1_000)
    started = await bot.services.sessions.start(member(), duration_minutes=120)
    await bot.services.background.drain()
    await bot.clock.advance(45 * MINUTE + timedelta(seconds=10))

    stopped = await bot.services.sessions.stop(
        member(manager=True, user_id=MEMBER), started.session_id
    )

    assert stopped.status is SessionStatus.ENDED
    assert (stopped.billed_minutes, stopped.charged_cents) == (46, 184)
    assert stopped.instance_id in provider.terminated
    assert await bot.services.squadrons.balance(GUILD) == Balance(816, 0, 816)
    ended = bot.notifier.of_type(SessionEndedNotice)
    assert [(n.reason, n.billed_minutes, n.amount_cents) for n in ended] == [
        ("stopped_by_user", 46, 184)
    ]


async def test_the_end_and_its_charge_are_one_atomic_write(
    bot: BotProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    await bot.fund(1_000)
    started = await bot.services.sessions.start(member(), duration_minutes=60)
    await bot.services.background.drain()
    await bot.clock.advance(30 * MINUTE)
    writes: list[list[tuple[str, str]]] = []
    append_many = bot.store.append_many

    async def recorded(batches: Iterable[Batch], **options: Any) -> list[StoredEvent]:
        batch_list = list(batches)
        writes.append([(stream, e.type) for stream, _, events in batch_list for e in events])
        return await append_many(batch_list, **options)

    monkeypatch.setattr(bot.store, "append_many", recorded)

    await bot.services.sessions.stop(member(), started.session_id)

    [ending] = [write for write in writes if any(t == "SessionEnded" for _, t in write)]
    assert ending == [
        (session_stream(started.session_id), "SessionEnded"),
        (squadron_stream(GUILD), "SessionCharged"),
    ]


async def test_stopping_twice_bills_once(bot: BotProcess) -> None:
    await bot.fund(1_000)
    started = await bot.services.sessions.start(member(), duration_minutes=60)
    await bot.services.background.drain()
    await bot.clock.advance(30 * MINUTE)

    await bot.services.sessions.stop(member(), started.session_id)
    again = await bot.services.sessions.stop(member(), started.session_id)

    assert again.status is SessionStatus.ENDED
    assert (await bot.types(squadron_stream(GUILD))).count("SessionCharged") == 1
    assert len(bot.notifier.of_type(SessionEndedNotice)) == 1


async def test_another_guild_cannot_stop_a_session(bot: BotProcess) -> None:
    await bot.fund(1_000)
    started = await bot.services.sessions.start(member(), duration_minutes=60)
    await bot.services.background.drain()

    with pytest.raises(NotAllowed):
        await bot.services.sessions.stop(
            member(guild_id=OTHER_GUILD, manager=True), started.session_id
        )


async def test_stopping_a_booking_that_has_not_started_says_to_cancel(bot: BotProcess) -> None:
    await bot.fund(1_000)
    booked = await bot.services.sessions.book(member(), start_at=START + HOUR, duration_minutes=60)

    with pytest.raises(Conflict, match="cancel it instead"):
        await bot.services.sessions.stop(member(), booked.session_id)


# --- cancel -------------------------------------------------------------------------------------


async def test_cancel_releases_the_reserved_credit(bot: BotProcess) -> None:
    await bot.fund(1_000)
    booked = await bot.services.sessions.book(member(), start_at=START + HOUR, duration_minutes=60)

    cancelled = await bot.services.sessions.cancel(member(), booked.session_id)

    assert cancelled.status is SessionStatus.CANCELLED
    assert await bot.services.squadrons.balance(GUILD) == Balance(1_000, 0, 1_000)
    assert await bot.types(session_stream(booked.session_id)) == [
        "SessionBooked",
        "SessionCancelled",
    ]


async def test_cancelling_a_running_session_is_refused(bot: BotProcess) -> None:
    await bot.fund(1_000)
    started = await bot.services.sessions.start(member(), duration_minutes=60)
    await bot.services.background.drain()

    with pytest.raises(Conflict, match="stop it instead"):
        await bot.services.sessions.cancel(member(), started.session_id)


# --- events and logs --------------------------------------------------------------------------


async def test_events_record_who_acted_and_through_what(bot: BotProcess) -> None:
    await bot.fund(1_000)
    actor = member()

    booked = await bot.services.sessions.book(actor, start_at=START + HOUR, duration_minutes=60)

    [event] = await bot.stream(session_stream(booked.session_id))
    assert event.metadata == {
        "guild_id": GUILD,
        "user_id": BOOKER,
        "source": "discord",
        "source_id": actor.source_id,
        "causation_id": None,
    }


async def test_a_command_logs_one_line_with_its_ids_and_outcome(
    bot: BotProcess, caplog: pytest.LogCaptureFixture
) -> None:
    await bot.fund(1_000)
    caplog.set_level(logging.INFO, logger="rr.services")

    booked = await bot.services.sessions.book(member(), start_at=START + HOUR, duration_minutes=60)

    [line] = [r for r in caplog.records if r.getMessage() == "book"]
    assert (line.guild_id, line.session_id, line.outcome) == (GUILD, booked.session_id, "ok")  # type: ignore[attr-defined]


async def test_a_refused_command_logs_its_refusal(
    bot: BotProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="rr.services")

    with pytest.raises(InsufficientCredit):
        await bot.services.sessions.start(member(), duration_minutes=60)

    [line] = [r for r in caplog.records if r.getMessage() == "start"]
    assert (line.outcome, line.refusal) == ("refused", "InsufficientCredit")  # type: ignore[attr-defined]


async def test_warm_commands_read_nothing_from_the_store(
    bot: BotProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    await bot.fund(1_000)
    started = await bot.services.sessions.start(member(), duration_minutes=60)
    await bot.services.background.drain()
    reads: list[str] = []
    read = bot.store.read

    def counted(stream_id: str, after_version: int = 0) -> AsyncIterator[StoredEvent]:
        reads.append(stream_id)
        return read(stream_id, after_version)

    monkeypatch.setattr(bot.store, "read", counted)

    await bot.services.sessions.book(member(), start_at=START + HOUR, duration_minutes=60)
    await bot.services.sessions.extend(member(), started.session_id, 30)
    await bot.services.sessions.send_reminder(started.session_id, "end-15")

    assert reads == []
