import asyncio
import logging
from collections.abc import Callable

import pytest

from bot.mailbox import Mailbox, MailboxStopped


def append(number: int) -> Callable[[list[int]], None]:
    return lambda items: items.append(number)


async def started(owned: list[int]) -> Mailbox[list[int]]:
    mailbox = Mailbox(owned, name="test")
    mailbox.start()
    return mailbox


async def test_messages_run_in_the_order_they_were_sent() -> None:
    mailbox = await started([])
    for number in range(5):
        mailbox.tell(append(number))
    assert await mailbox.ask(lambda items: list(items)) == [0, 1, 2, 3, 4]
    await mailbox.stop()


async def test_ask_returns_the_result_of_the_function() -> None:
    mailbox = await started([3, 4])
    assert await mailbox.ask(sum) == 7
    await mailbox.stop()


async def test_an_exception_in_ask_reaches_the_asker_and_the_actor_keeps_going() -> None:
    mailbox = await started([])

    def fail(_: list[int]) -> None:
        raise ValueError("bad message")

    with pytest.raises(ValueError, match="bad message"):
        await mailbox.ask(fail)
    assert await mailbox.ask(len) == 0
    await mailbox.stop()


async def test_a_failing_tell_is_logged_and_later_messages_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    mailbox = await started([])

    def fail(_: list[int]) -> None:
        raise KeyError("missing")

    with caplog.at_level(logging.ERROR, logger="rr.mailbox"):
        mailbox.tell(fail)
        mailbox.tell(lambda items: items.append(1))
        assert await mailbox.ask(list) == [1]
    assert any("tell failed" in record.message and record.exc_info for record in caplog.records)
    await mailbox.stop()


async def test_stop_runs_everything_already_sent_then_refuses_new_messages() -> None:
    owned: list[int] = []
    mailbox = await started(owned)
    for number in range(3):
        mailbox.tell(append(number))
    await mailbox.stop()
    assert owned == [0, 1, 2]
    assert not mailbox.running
    with pytest.raises(MailboxStopped):
        mailbox.tell(lambda items: items.append(9))
    with pytest.raises(MailboxStopped):
        await mailbox.ask(len)


async def test_stopping_an_actor_that_never_started_fails_its_pending_asks() -> None:
    mailbox: Mailbox[list[int]] = Mailbox([], name="test")
    pending = asyncio.ensure_future(mailbox.ask(len))
    await asyncio.sleep(0)
    await mailbox.stop()
    with pytest.raises(MailboxStopped):
        await pending


async def test_a_cancelled_asker_does_not_disturb_the_mailbox() -> None:
    mailbox = await started([])
    asker = asyncio.ensure_future(mailbox.ask(len))
    asker.cancel()
    mailbox.tell(lambda items: items.append(1))
    assert await mailbox.ask(list) == [1]
    assert asker.cancelled()
    await mailbox.stop()
