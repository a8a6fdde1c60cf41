"""The billing rule as squadrons meet it in Discord: what a booking's quote says and costs, a
stop that is announced only once it holds, and a stop billed to the moment it was asked for
however late the server's end gets recorded."""

from collections.abc import Iterable
from datetime import timedelta

import pytest

from bot.domain.pricing import cost_at_rate
from bot.domain.session import SessionStatus
from discord_emulator import Message
from eventstore import StoredEvent
from eventstore.codec import Batch
from tests.cogs.conftest import World
from tests.cogs.test_commands import newest, start_server

pytestmark = pytest.mark.e2e

MINUTE = timedelta(minutes=1)


def fields_of(message: Message) -> dict[str, str]:
    [embed] = message.embeds
    return {field["name"]: field["value"] for field in embed["fields"]}


async def test_a_booking_costs_what_starting_now_does_and_its_quote_says_boot_time_is_free(
    world: World,
) -> None:
    w = world
    await w.fund(5000)
    now = await (
        await w.emu.invoke(w.guild, w.manager, "server start", {"duration": "2h"})
    ).message()
    options = {"start": "tomorrow 20:00", "duration": "2h"}
    later = await (await w.emu.invoke(w.guild, w.manager, "server schedule", options)).message()

    assert fields_of(now)["Cost"] == fields_of(later)["Cost"] == "$4.00"
    lead = w.app.settings.schedule.boot_lead_minutes
    [embed] = later.embeds
    starts = fields_of(later)["Starts"]
    ready_at = starts[starts.index("<t:") :].split(":")[1]
    assert embed["description"] == (
        f"Boot time is free: rr starts the server {lead} minutes early so it is ready at "
        f"<t:{ready_at}:t>, and bills from then."
    )
    assert "description" not in now.embeds[0] or not now.embeds[0]["description"]


def refuse_first_write_of(world: World, monkeypatch: pytest.MonkeyPatch, event_type: str) -> None:
    """The event store fails the first write carrying ``event_type``, as a bot dying at that
    write would: nothing of it is recorded."""
    store = world.app.services.store
    write = store.append_many
    refused: list[str] = []

    async def failing_once(
        batches: Iterable[Batch], *, idempotency_key: str | None = None
    ) -> list[StoredEvent]:
        batches = list(batches)
        carried = any(event.type == event_type for _, _, events in batches for event in events)
        if carried and not refused:
            refused.append(event_type)
            raise ConnectionError("the event store did not answer")
        return await write(batches, idempotency_key=idempotency_key)

    monkeypatch.setattr(store, "append_many", failing_once)


async def test_a_member_is_told_stopping_only_once_the_stop_is_recorded(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world
    await w.fund(5000)
    session = await start_server(w)
    refuse_first_write_of(w, monkeypatch, "TerminationRequested")

    handle = await w.emu.invoke(w.guild, w.manager, "server stop")
    await handle.message()
    click = await handle.click("confirm")
    await click.message(lambda m: "something went wrong" in m.content)

    shown = [m.content for m in [*handle.messages, *click.messages]]
    assert not any("Stopping Server #1 · " in text for text in shown), shown
    running = await w.app.services.sessions.get(session.session_id)
    assert running.status is SessionStatus.RUNNING

    again = await w.emu.invoke(w.guild, w.manager, "server stop")
    await again.message()
    await (await again.click("confirm")).response()
    await w.emu.until(lambda: newest(again.messages, "Stopping Server #1 · "), "the stop")
    types = [e.type for e in await w.events() if e.stream_id.endswith(session.session_id)]
    assert "TerminationRequested" in types


def cloud_cannot_terminate(world: World, monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Every termination fails until the returned list is emptied (the cloud answers again)."""
    provider = world.app.services.provider
    terminate = provider.terminate
    down = [True]

    async def failing(instance_id: str) -> None:
        if down:
            raise ConnectionError("the cloud did not answer")
        await terminate(instance_id)

    monkeypatch.setattr(provider, "terminate", failing)
    return down


async def test_a_stop_whose_server_ends_hours_later_is_billed_to_when_it_was_asked_for(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world
    await w.fund(5000)
    session = await start_server(w)
    await w.advance(10 * MINUTE)
    down = cloud_cannot_terminate(w, monkeypatch)

    handle = await w.emu.invoke(w.guild, w.manager, "server stop")
    await handle.message()
    await (await handle.click("confirm")).response()
    # The mission ends first; the termination that follows fails while the cloud is down.
    await w.emu.until(lambda: newest(handle.messages, "ending its mission"), "the stop")
    await w.advance(5 * 60 * MINUTE)
    assert (await w.app.services.sessions.get(session.session_id)).is_active
    ended = w.emu.next_message(w.reminders)
    down.clear()
    await w.advance(10 * MINUTE)

    notice = await ended
    assert "stopped by a member" in notice.content
    assert "11 minutes billed" in notice.content
    balance = await w.app.services.squadrons.balance(w.guild_id)
    assert balance.balance_cents == 5000 - cost_at_rate(session.rate_cents_per_hour, 11)
    assert balance.reserved_cents == 0


async def test_an_operators_stop_is_billed_to_when_it_was_asked_for(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world
    await w.fund(5000)
    session = await start_server(w)
    await w.advance(10 * MINUTE)
    down = cloud_cannot_terminate(w, monkeypatch)

    handle = await w.emu.invoke(
        w.ops_guild, w.operator, "admin terminate", {"session": session.session_id}
    )
    await handle.message()  # the mission ends first; the termination fails while the cloud is down
    await w.advance(3 * 60 * MINUTE)
    ended = w.emu.next_message(w.reminders)
    down.clear()
    await w.advance(10 * MINUTE)

    notice = await ended
    assert "stopped by an operator" in notice.content
    assert "11 minutes billed" in notice.content
