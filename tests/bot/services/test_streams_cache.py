"""The services' stream cache keeps sessions that may still take commands, not ended ones."""

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

import eventstore
from bot.domain.session import Book, Cancel
from bot.mailbox import Mailbox
from bot.services.streams import Streams, decide_session
from bot.view import ScheduleConfig, View
from bot.view.handle import ViewHandle
from eventstore import StoredEvent
from tests.bot.view.history import GUILD, LIMITS, MEMBER, RATE, START


def book(session_id: str) -> Book:
    return Book(
        session_id=session_id,
        guild_id=GUILD,
        actor=MEMBER,
        start_at=START + timedelta(hours=2),
        duration_minutes=60,
        size="small",
        region="eu",
        rate=RATE,
        mission_name=None,
        limits=LIMITS,
        now=START,
    )


async def test_a_cancelled_session_leaves_the_cache_and_is_read_again_when_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = eventstore.open("memory://", clock=lambda: START)
    mailbox = Mailbox(View(ScheduleConfig()), name="view")
    mailbox.start()
    streams = Streams(store, ViewHandle(mailbox))
    read: list[StoredEvent] = []
    plain_read = store.read

    async def counted(stream_id: str, after_version: int = 0) -> AsyncIterator[StoredEvent]:
        async for event in plain_read(stream_id, after_version):
            read.append(event)
            yield event

    monkeypatch.setattr(store, "read", counted)
    for session_id in ("kept", "cancelled"):
        await streams.write_session(
            session_id, lambda state, s=session_id: decide_session(book(s), state)
        )
    await streams.write_both(
        "cancelled",
        GUILD,
        lambda state, _: (decide_session(Cancel(actor=MEMBER, now=START), state), []),
    )
    read.clear()

    assert (await streams.session("kept")).status == "booked"
    assert read == []
    assert (await streams.session("cancelled")).status == "cancelled"
    assert [event.type for event in read] == ["SessionBooked", "SessionCancelled"]
    await mailbox.stop()
