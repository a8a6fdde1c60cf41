import asyncio
import logging
from collections.abc import Callable

import pytest

from bot.actor import Actor, ActorStopped


def append(number: int) -> Callable[[list[int]], None]:
    return lambda items: items.append(number)


async def started(owned: list[int]) -> Actor[list[int]]:
    actor = Actor(owned, name="test")
    actor.start()
    return actor


async def test_messages_run_in_the_order_they_were_sent() -> None:
    actor = await started([])
    for number in range(5):
        actor.tell(append(number))
    assert await actor.ask(lambda items: list(items)) == [0, 1, 2, 3, 4]
    await actor.stop()


async def test_ask_returns_the_result_of_the_function() -> None:
    actor = await started([3, 4])
    assert await actor.ask(sum) == 7
    await actor.stop()


async def test_an_exception_in_ask_reaches_the_asker_and_the_actor_keeps_going() -> None:
    actor = await started([])

    def fail(_: list[int]) -> None:
        raise ValueError("bad message")

    with pytest.raises(ValueError, match="bad message"):
        await actor.ask(fail)
    assert await actor.ask(len) == 0
    await actor.stop()


async def test_a_failing_tell_is_logged_and_later_messages_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    actor = await started([])

    def fail(_: list[int]) -> None:
        raise KeyError("missing")

    with caplog.at_level(logging.ERROR, logger="rr.actor"):
        actor.tell(fail)
        actor.tell(lambda items: items.append(1))
        assert await actor.ask(list) == [1]
    assert any("tell failed" in record.message and record.exc_info for record in caplog.records)
    await actor.stop()


async def test_stop_runs_everything_already_sent_then_refuses_new_messages() -> None:
    owned: list[int] = []
    actor = await started(owned)
    for number in range(3):
        actor.tell(append(number))
    await actor.stop()
    assert owned == [0, 1, 2]
    assert not actor.running
    with pytest.raises(ActorStopped):
        actor.tell(lambda items: items.append(9))
    with pytest.raises(ActorStopped):
        await actor.ask(len)


async def test_stopping_an_actor_that_never_started_fails_its_pending_asks() -> None:
    actor: Actor[list[int]] = Actor([], name="test")
    pending = asyncio.ensure_future(actor.ask(len))
    await asyncio.sleep(0)
    await actor.stop()
    with pytest.raises(ActorStopped):
        await pending


async def test_a_cancelled_asker_does_not_disturb_the_actor() -> None:
    actor = await started([])
    asker = asyncio.ensure_future(actor.ask(len))
    asker.cancel()
    actor.tell(lambda items: items.append(1))
    assert await actor.ask(list) == [1]
    assert asker.cancelled()
    await actor.stop()
