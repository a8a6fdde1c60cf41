"""Once the payment lands, the start or booking it was bought for is carried out, once."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable

import pytest

from bot.domain import squadron as squadrons
from bot.domain.actor import Actor
from bot.domain.events import PaidRequestSettled, from_stored
from bot.domain.session import SessionStatus
from bot.domain.squadron import squadron_stream
from bot.notify import AdminAlertNotice, BookingConfirmedNotice, IntentFailedNotice, ReadyNotice
from bot.services.intents import LATE_START, RETRY_ATTEMPTS, RETRY_BACKOFF, TOO_LATE_TO_START
from bot.services.streams import decide_squadron
from bot.view import Balance
from eventstore import Lease, StoredEvent
from eventstore.codec import Batch
from eventstore.memory import MemoryEventStore
from tests.bot.domain.streams import LONG_AGO
from tests.bot.services.fake_provider import FakeProvider
from tests.bot.services.harness import GUILD, HOUR, MEMBER, MINUTE, START, BotProcess, member
from tests.fakes.clock import FakeClock, settle
from tests.fakes.notifier import WAIT_LIMIT_SECONDS

StartProcess = Callable[[], Awaitable[BotProcess]]


async def buy(bot: BotProcess, amount: int, intent: dict[str, object], n: int = 1) -> None:
    await bot.services.squadrons.record_purchase_started(
        member(MEMBER), GUILD, f"p{n}", amount, f"cs_{n}", intent, lapsed_before=LONG_AGO
    )


async def test_a_paid_start_starts_the_server_for_the_buyer(bot: BotProcess) -> None:
    await buy(bot, 240, {"action": "start", "size": "medium", "duration_minutes": 60})

    assert await bot.services.squadrons.record_purchase(GUILD, "p1", 240, MEMBER, "cs_1", "evt_1")
    await bot.services.background.drain()

    [confirmed] = bot.notifier.of_type(BookingConfirmedNotice)
    assert (confirmed.purchase_id, confirmed.user_id) == ("p1", MEMBER)
    session = await bot.services.sessions.get(confirmed.session.session_id)
    assert (session.status, session.booked_by, session.immediate) == (
        SessionStatus.RUNNING,
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
    assert (confirmed.session.status, confirmed.session.start_at) == (
        SessionStatus.BOOKED,
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
    assert len(await bot.services.sessions.for_guild(GUILD)) == 1


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
        member(MEMBER), GUILD, "p1", 500, "cs_1", None, lapsed_before=LONG_AGO
    )

    await bot.services.squadrons.record_purchase(GUILD, "p1", 500, MEMBER, "cs_1", "evt_1")
    await bot.services.background.drain()

    assert bot.notifier.notices == []
    assert await bot.services.sessions.for_guild(GUILD) == []


# --- settling, and taking up at start-up what a stopped bot left undone -------------------------


@pytest.fixture
async def start_process(
    bot: BotProcess, clock: FakeClock, provider: FakeProvider
) -> AsyncIterator[StartProcess]:
    """Starts another bot process over ``bot``'s store and cloud (a restart, or a second one)."""
    started: list[BotProcess] = []

    async def start() -> BotProcess:
        process = BotProcess(bot.store, clock, provider)
        await process.start()
        started.append(process)
        return process

    yield start
    for process in started:
        await process.stop()


async def credited_but_not_carried_out(bot: BotProcess, amount: int) -> None:
    """The payment recorded as the webhook records it, by a process that stopped before
    carrying out the request it paid for."""
    stream = squadron_stream(GUILD)
    record = squadrons.RecordPurchase(
        actor=Actor.system("stripe", "evt_1"),
        purchase_id="p1",
        amount_cents=amount,
        buyer_id=MEMBER,
        checkout_session_id="cs_1",
        payment_event_id="evt_1",
    )
    events = decide_squadron(record, await bot.squadron_in_store())
    await bot.store.append(stream, len(await bot.stream(stream)), events)


async def resume(process: BotProcess) -> int:
    resumed = await process.services.squadrons.resume_paid_requests()
    await process.services.background.drain()
    return resumed


async def settlements(bot: BotProcess) -> list[PaidRequestSettled]:
    events = [from_stored(stored) for stored in await bot.stream(squadron_stream(GUILD))]
    return [event for event in events if isinstance(event, PaidRequestSettled)]


async def test_a_paid_request_carried_out_is_recorded_as_settled_with_its_session(
    bot: BotProcess,
) -> None:
    await buy(bot, 240, {"action": "start", "duration_minutes": 60})

    await bot.services.squadrons.record_purchase(GUILD, "p1", 240, MEMBER, "cs_1", "evt_1")
    await bot.services.background.drain()

    [confirmed] = bot.notifier.of_type(BookingConfirmedNotice)
    assert await settlements(bot) == [
        PaidRequestSettled(
            purchase_id="p1",
            outcome="carried_out",
            session_id=confirmed.session.session_id,
            message=None,
        )
    ]
    assert (await bot.squadron_in_store()).unsettled_paid_requests == ()


async def test_a_refused_paid_request_is_settled_with_what_the_buyer_was_told(
    bot: BotProcess,
) -> None:
    await buy(bot, 100, {"action": "start", "duration_minutes": 60})

    await bot.services.squadrons.record_purchase(GUILD, "p1", 100, MEMBER, "cs_1", "evt_1")
    await bot.services.background.drain()

    [failed] = bot.notifier.of_type(IntentFailedNotice)
    assert await settlements(bot) == [
        PaidRequestSettled(
            purchase_id="p1", outcome="refused", session_id=None, message=failed.message
        )
    ]
    assert (await bot.squadron_in_store()).unsettled_paid_requests == ()


async def test_a_request_paid_just_before_a_crash_is_carried_out_once_at_start_up(
    bot: BotProcess, start_process: StartProcess
) -> None:
    await buy(bot, 240, {"action": "start", "size": "medium", "duration_minutes": 60})
    await credited_but_not_carried_out(bot, 240)

    restarted = await start_process()
    assert await resume(restarted) == 1

    [confirmed] = restarted.notifier.of_type(BookingConfirmedNotice)
    assert (confirmed.purchase_id, confirmed.user_id) == ("p1", MEMBER)
    session = await restarted.services.sessions.get(confirmed.session.session_id)
    assert (session.status, session.booked_by) == (SessionStatus.RUNNING, MEMBER)
    assert await restarted.services.squadrons.balance(GUILD) == Balance(240, 240, 0)
    events = await bot.stream(squadron_stream(GUILD))
    [paid] = [event for event in events if event.type == "CreditsPurchased"]
    assert events[-1].type == "PaidRequestSettled"
    assert events[-1].metadata["causation_id"] == paid.id

    again = await start_process()
    assert await resume(again) == 0
    assert again.notifier.notices == []
    assert len(await again.services.sessions.for_guild(GUILD)) == 1
    assert [s.outcome for s in await settlements(bot)] == ["carried_out"]


async def test_a_start_paid_long_before_the_restart_is_refused_and_the_credit_kept(
    bot: BotProcess, clock: FakeClock, start_process: StartProcess
) -> None:
    await buy(bot, 240, {"action": "start", "size": "medium", "duration_minutes": 60})
    await credited_but_not_carried_out(bot, 240)
    await clock.advance(LATE_START + MINUTE)

    restarted = await start_process()
    assert await resume(restarted) == 1

    [failed] = restarted.notifier.of_type(IntentFailedNotice)
    assert failed.message == TOO_LATE_TO_START
    assert await restarted.services.sessions.for_guild(GUILD) == []
    assert await restarted.services.squadrons.balance(GUILD) == Balance(240, 0, 240)


async def test_a_request_refused_at_start_up_is_told_once_and_not_tried_again(
    bot: BotProcess, start_process: StartProcess
) -> None:
    await buy(bot, 100, {"action": "start", "duration_minutes": 60})
    await credited_but_not_carried_out(bot, 100)

    restarted = await start_process()
    await resume(restarted)
    [failed] = restarted.notifier.of_type(IntentFailedNotice)
    assert (failed.user_id, failed.purchase_id) == (MEMBER, "p1")

    again = await start_process()
    assert await resume(again) == 0
    assert again.notifier.notices == []
    assert await again.services.sessions.for_guild(GUILD) == []
    assert [s.outcome for s in await settlements(bot)] == ["refused"]
    assert await again.services.squadrons.balance(GUILD) == Balance(100, 0, 100)


async def test_two_processes_resuming_at_once_book_and_tell_once(
    bot: BotProcess, start_process: StartProcess
) -> None:
    start_at = START + 3 * HOUR
    await buy(
        bot, 320, {"action": "book", "duration_minutes": 60, "start_at": start_at.isoformat()}
    )
    await credited_but_not_carried_out(bot, 320)
    first, second = await start_process(), await start_process()

    await asyncio.gather(resume(first), resume(second))

    told = [*first.notifier.notices, *second.notifier.notices]
    assert len(told) == 1 and isinstance(told[0], BookingConfirmedNotice)
    assert told[0].session.start_at == start_at
    [settled] = await settlements(bot)
    squadron = await bot.squadron_in_store()
    assert list(squadron.reservations) == [settled.session_id]
    assert squadron.unsettled_paid_requests == ()


async def test_a_request_carried_out_before_a_restart_is_left_alone(
    bot: BotProcess, start_process: StartProcess
) -> None:
    await buy(bot, 240, {"action": "start", "duration_minutes": 60})
    await bot.services.squadrons.record_purchase(GUILD, "p1", 240, MEMBER, "cs_1", "evt_1")
    await bot.services.background.drain()

    restarted = await start_process()

    assert await resume(restarted) == 0
    assert restarted.notifier.notices == []
    assert len(await restarted.services.sessions.for_guild(GUILD)) == 1


async def test_a_process_deciding_on_a_squadron_known_before_settling_books_and_tells_nothing(
    bot: BotProcess, start_process: StartProcess
) -> None:
    await buy(bot, 240, {"action": "start", "duration_minutes": 60})
    await credited_but_not_carried_out(bot, 240)
    late = await start_process()
    await late.fund(1000)  # it now knows the squadron as it was before the request is settled
    first = await start_process()

    await resume(first)
    await resume(late)

    assert len(first.notifier.of_type(BookingConfirmedNotice)) == 1
    assert late.notifier.notices == []
    squadron = await bot.squadron_in_store()
    assert (len(squadron.reservations), squadron.available_cents) == (1, 1000)


# --- an unexpected error is tried again, not refused --------------------------------------------


class FailingBookings(MemoryEventStore):
    """A memory store whose writes of a new session fail ``failures`` times, as a store that
    is unreachable for a while."""

    def __init__(self, clock: FakeClock, failures: int) -> None:
        super().__init__(clock.now)
        self.failures = failures

    async def append_many(
        self,
        batches: Iterable[Batch],
        *,
        idempotency_key: str | None = None,
        fence: Lease | None = None,
    ) -> list[StoredEvent]:
        batches = list(batches)
        books = any(stream.startswith("mission#") for stream, _, _ in batches)
        if books and self.failures > 0:
            self.failures -= 1
            raise ConnectionError("the store did not answer")
        return await super().append_many(batches, idempotency_key=idempotency_key, fence=fence)


async def drained(process: BotProcess) -> None:
    """Wait for the background work, failing rather than hanging if some still waits on the
    clock."""
    async with asyncio.timeout(WAIT_LIMIT_SECONDS):
        await process.services.background.drain()


@pytest.fixture
async def flaky(clock: FakeClock, provider: FakeProvider) -> AsyncIterator[BotProcess]:
    """A bot over a store that fails the first two bookings."""
    store = FailingBookings(clock, failures=2)
    process = BotProcess(store, clock, provider)
    await process.start()
    yield process
    await process.stop()
    await store.close()


async def test_a_paid_start_that_fails_unexpectedly_is_tried_again_and_the_operators_told(
    flaky: BotProcess, clock: FakeClock
) -> None:
    await buy(flaky, 240, {"action": "start", "size": "medium", "duration_minutes": 60})

    await flaky.services.squadrons.record_purchase(GUILD, "p1", 240, MEMBER, "cs_1", "evt_1")
    await settle()
    await clock.advance(RETRY_BACKOFF)
    assert flaky.notifier.of_type(BookingConfirmedNotice) == []
    await clock.advance(2 * RETRY_BACKOFF)
    await drained(flaky)

    assert flaky.notifier.of_type(IntentFailedNotice) == []
    [confirmed] = flaky.notifier.of_type(BookingConfirmedNotice)
    assert confirmed.purchase_id == "p1"
    [alert] = flaky.notifier.of_type(AdminAlertNotice)
    assert alert.guild_id is None
    assert "purchase p1" in alert.message and "ConnectionError" in alert.message
    assert "store did not answer" not in alert.message
    assert [s.outcome for s in await settlements(flaky)] == ["carried_out"]


async def test_a_paid_request_failing_every_try_is_left_unsettled_for_the_next_start_up(
    clock: FakeClock, provider: FakeProvider
) -> None:
    store = FailingBookings(clock, failures=RETRY_ATTEMPTS)
    first = BotProcess(store, clock, provider)
    await first.start()
    await buy(first, 240, {"action": "start", "size": "medium", "duration_minutes": 60})
    await first.services.squadrons.record_purchase(GUILD, "p1", 240, MEMBER, "cs_1", "evt_1")
    await settle()
    for failures in range(1, RETRY_ATTEMPTS):
        await clock.advance(RETRY_BACKOFF * 2 ** (failures - 1))
    await drained(first)
    await first.stop()

    assert first.notifier.of_type(IntentFailedNotice) == []
    assert "next start-up" in first.notifier.of_type(AdminAlertNotice)[-1].message
    assert (await first.squadron_in_store()).unsettled_paid_requests != ()

    restarted = BotProcess(store, clock, provider)
    await restarted.start()
    assert await resume(restarted) == 1
    await restarted.stop()
    assert len(restarted.notifier.of_type(BookingConfirmedNotice)) == 1
    assert [s.outcome for s in await settlements(restarted)] == ["carried_out"]
    await store.close()


async def test_stopping_the_bot_leaves_a_request_waiting_to_be_tried_again_unsettled(
    flaky: BotProcess,
) -> None:
    await buy(flaky, 240, {"action": "start", "size": "medium", "duration_minutes": 60})
    await flaky.services.squadrons.record_purchase(GUILD, "p1", 240, MEMBER, "cs_1", "evt_1")
    await settle()

    async with asyncio.timeout(WAIT_LIMIT_SECONDS):
        await flaky.stop()

    assert flaky.notifier.of_type(BookingConfirmedNotice) == []
    assert await settlements(flaky) == []
    assert (await flaky.squadron_in_store()).unsettled_paid_requests != ()
