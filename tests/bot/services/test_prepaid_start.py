"""A start now is prepaid time: it runs on the credit available, is warned before that runs out,
keeps running when credit is bought in between, and otherwise ends out of credit, billed to the
end of its credit. Driven by the scheduler on a fake clock."""

from collections.abc import AsyncIterator

import pytest

import eventstore
from bot.domain.session import SessionState, SessionStatus
from bot.notify import EndWarningNotice, LowCreditNotice, ReadyNotice, SessionEndedNotice
from bot.view import Balance
from tests.bot.services.fake_provider import FakeProvider
from tests.bot.services.harness import BOOKER, GUILD, HOUR, MINUTE, START, BotProcess, member
from tests.fakes.clock import FakeClock

FUNDED_END = START + 45 * MINUTE
"""180 cents pay for 45 minutes of a medium server (4 cents a minute) launched at START."""
BOOKED_END = START + 3 * HOUR


@pytest.fixture
async def bot(clock: FakeClock, provider: FakeProvider) -> AsyncIterator[BotProcess]:
    """One bot process with its scheduler running."""
    store = eventstore.open("memory://", clock=clock.now)
    process = BotProcess(store, clock, provider)
    await process.start(scheduler=True)
    yield process
    await process.stop()
    await store.close()


async def started_on_45_minutes_of_credit(bot: BotProcess) -> SessionState:
    """A three-hour start with credit for its first 45 minutes, running."""
    await bot.fund(180)
    started = await bot.services.sessions.start(member(), duration_minutes=180)
    await bot.notifier.wait_for(ReadyNotice)
    running = await bot.services.sessions.get(started.session_id)
    assert (running.status, running.launched_at) == (SessionStatus.RUNNING, START)
    return running


async def buy(bot: BotProcess, cents: int) -> None:
    await bot.services.squadrons.record_purchase(GUILD, "p1", cents, BOOKER, "cs_1", "evt_1")


async def test_a_start_on_part_of_its_cost_is_warned_and_ends_out_of_credit(
    bot: BotProcess, clock: FakeClock, provider: FakeProvider
) -> None:
    session = await started_on_45_minutes_of_credit(bot)

    await clock.set(FUNDED_END - 10 * MINUTE)
    warning = await bot.notifier.wait_for(LowCreditNotice)
    await clock.set(FUNDED_END)
    ended = await bot.notifier.wait_for(SessionEndedNotice)

    assert (warning.session_id, warning.minutes_left) == (session.session_id, 10)
    assert (ended.reason, ended.billed_minutes, ended.amount_cents) == ("out_of_credit", 45, 180)
    final = await bot.services.sessions.get(session.session_id)
    assert (final.status, final.ended_at) == (SessionStatus.ENDED, FUNDED_END)
    assert session.instance_id in provider.terminated
    assert await bot.services.squadrons.balance(GUILD) == Balance(0, 0, 0)


async def test_credit_bought_after_the_warning_keeps_the_server_running_to_its_booked_end(
    bot: BotProcess, clock: FakeClock
) -> None:
    session = await started_on_45_minutes_of_credit(bot)
    await clock.set(FUNDED_END - 10 * MINUTE)
    await bot.notifier.wait_for(LowCreditNotice)

    await buy(bot, 1_000)
    await clock.set(FUNDED_END)

    assert (await bot.services.sessions.get(session.session_id)).status is SessionStatus.RUNNING
    assert await bot.services.squadrons.balance(GUILD) == Balance(1_180, 720, 460)
    await clock.set(BOOKED_END - 15 * MINUTE)
    await bot.notifier.wait_for(EndWarningNotice)
    await clock.set(BOOKED_END)
    ended = await bot.notifier.wait_for(SessionEndedNotice)
    assert (ended.reason, ended.billed_minutes, ended.amount_cents) == (
        "booked_time_over",
        180,
        720,
    )
    assert len(bot.notifier.of_type(LowCreditNotice)) == 1
    assert await bot.services.squadrons.balance(GUILD) == Balance(460, 0, 460)


async def test_credit_bought_before_the_warning_means_no_warning_and_no_early_end(
    bot: BotProcess, clock: FakeClock
) -> None:
    session = await started_on_45_minutes_of_credit(bot)
    await buy(bot, 1_000)

    await clock.set(FUNDED_END + MINUTE)

    assert bot.notifier.of_type(LowCreditNotice) == []
    assert (await bot.services.sessions.get(session.session_id)).status is SessionStatus.RUNNING
    assert await bot.view.reservations(GUILD) == {session.session_id: 720}
