"""Credentials across two rr processes sharing one store (the active one and a standby)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.agentapi import CredentialRefused, LaunchFiles, build_agent_api
from bot.agentapi.credentials import parse_token
from eventstore.memory import MemoryEventStore
from tests.bot.agentapi.conftest import SESSION, ActiveSessions
from tests.fakes.clock import FakeClock


async def test_a_credential_minted_by_another_process_is_found_after_a_bounded_reread() -> None:
    clock = FakeClock(datetime(2026, 12, 5, 9, 0, tzinfo=UTC))
    store = MemoryEventStore(clock.now)
    sessions = ActiveSessions(SESSION)
    active, standby = (build_agent_api(store, sessions, clock, LaunchFiles()) for _ in range(2))

    first = await active.credentials.mint(SESSION, 1)
    assert (await standby.credentials.verify(first)).attempt == 1
    second = await active.credentials.mint(SESSION, 2)
    assert (await standby.credentials.verify(second)).attempt == 2  # re-read: it was new
    third = await active.credentials.mint(SESSION, 3)
    with pytest.raises(CredentialRefused):  # a re-read within 10 s of the last one
        await standby.credentials.verify(third)
    await clock.advance(timedelta(seconds=10))
    assert (await standby.credentials.verify(third)).attempt == 3
    with pytest.raises(CredentialRefused):
        await standby.credentials.verify(first)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "rr1",
        "rr2.abc." + "A" * 43,
        "rr1..AAAA",
        "rr1.a b." + "A" * 43,
        "rr1.abc." + "A" * 42,
        "rr1.abc." + "A" * 44,
        "rr1.abc." + "*" * 43,
        "rr1." + "s" * 65 + "." + "A" * 43,
    ],
)
def test_malformed_tokens_are_refused_before_any_lookup(token: str) -> None:
    with pytest.raises(CredentialRefused, match="malformed"):
        parse_token(token)
