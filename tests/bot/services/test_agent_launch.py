"""Launches with an agent: a credential per launch, kept across a retry whose server started,
revoked at the end; ready once the DCS hook reports the mission running."""

import logging
from collections.abc import AsyncIterator

import pytest

import eventstore
from bot.agentapi import CredentialRefused, Grant
from bot.agentapi.events import agent_stream
from bot.agentapi.schemas import Heartbeat
from bot.cloud.base import LaunchError
from bot.domain.session import SessionState, SessionStatus
from bot.services.lifecycle import HOOK_SILENCE_LIMIT
from tests.bot.services.fake_provider import FakeProvider
from tests.bot.services.harness import HOUR, MINUTE, START, BotProcess, member
from tests.fakes.clock import FakeClock, settle

RR_URL = "https://rr.example.test"


@pytest.fixture
async def rr(clock: FakeClock, provider: FakeProvider) -> AsyncIterator[BotProcess]:
    """A bot process whose servers run an agent reaching rr at `RR_URL`."""
    store = eventstore.open("memory://", clock=clock.now)
    process = BotProcess(store, clock, provider, rr_url=RR_URL)
    await process.start()
    yield process
    await process.stop()
    await store.close()


async def booked(bot: BotProcess) -> SessionState:
    await bot.fund(1_000)
    return await bot.services.sessions.book(member(), start_at=START + HOUR, duration_minutes=60)


def credential_of(provider: FakeProvider, call: int = -1) -> str:
    boot = provider.launch_calls[call].agent
    assert boot is not None
    return boot.credential


async def beat(bot: BotProcess, session_id: str, seq: int, state: str) -> None:
    heartbeat = Heartbeat(seq=seq, state=state, mission="Op Anvil", players=[], acked=[])  # type: ignore[arg-type]
    await bot.services.agents.heartbeats.accept(Grant(session_id, 1), heartbeat)


# --- the credential -------------------------------------------------------------------------


async def test_a_launch_carries_rrs_address_and_a_credential_for_that_launch(
    rr: BotProcess, provider: FakeProvider
) -> None:
    session = await booked(rr)

    await rr.services.sessions.launch(session.session_id)

    [request] = provider.launch_calls
    assert request.agent is not None and request.agent.rr_url == RR_URL
    grant = await rr.services.agents.credentials.verify(request.agent.credential)
    assert grant == Grant(session.session_id, 1)
    assert request.agent.credential not in repr(request)
    assert "Config/serverSettings.lua" in request.files


async def test_a_retry_after_the_server_started_adopts_it_and_keeps_its_credential(
    rr: BotProcess, provider: FakeProvider
) -> None:
    session = await booked(rr)
    provider.lose_next_answer = True
    with pytest.raises(ConnectionError):
        await rr.services.sessions.launch(session.session_id)
    started_with = credential_of(provider)

    finished = await rr.services.sessions.check_ready(session.session_id)

    assert len(provider.launch_calls) == 1
    assert finished.instance_id in provider.instances
    assert await rr.services.agents.credentials.verify(started_with)
    types = await rr.types(agent_stream(session.session_id))
    assert types.count("AgentCredentialIssued") == 1


async def test_a_retry_after_a_crash_before_the_launch_mints_a_new_credential(
    rr: BotProcess, provider: FakeProvider
) -> None:
    session = await booked(rr)
    provider.crash_next_launch = True
    with pytest.raises(ConnectionError):
        await rr.services.sessions.launch(session.session_id)
    never_used = credential_of(provider)

    finished = await rr.services.sessions.check_ready(session.session_id)

    assert finished.instance_id in provider.instances
    launched_with = credential_of(provider)
    assert launched_with != never_used
    assert await rr.services.agents.credentials.verify(launched_with)
    with pytest.raises(CredentialRefused):
        await rr.services.agents.credentials.verify(never_used)


async def test_the_credential_is_revoked_when_the_session_ends(
    rr: BotProcess, provider: FakeProvider
) -> None:
    session = await booked(rr)
    await rr.services.sessions.launch(session.session_id)

    await rr.services.sessions.terminate(session.session_id, "stopped_by_user")

    types = await rr.types(agent_stream(session.session_id))
    assert types[-1] == "AgentCredentialRevoked"


async def test_the_credential_is_revoked_when_the_launch_fails(
    rr: BotProcess, provider: FakeProvider
) -> None:
    session = await booked(rr)
    provider.fail_next_launch = LaunchError("capacity", "No capacity.")

    ended = await rr.services.sessions.launch(session.session_id)

    assert ended.status is SessionStatus.ENDED
    types = await rr.types(agent_stream(session.session_id))
    assert types == ["AgentCredentialIssued", "AgentCredentialRevoked"]


async def test_the_credential_never_reaches_a_log(
    rr: BotProcess, provider: FakeProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    session = await booked(rr)
    provider.lose_next_answer = True
    with pytest.raises(ConnectionError):
        await rr.services.sessions.launch(session.session_id)
    await rr.services.sessions.check_ready(session.session_id)
    await rr.services.sessions.terminate(session.session_id, "stopped_by_user")

    credential = credential_of(provider)
    secret = credential.rsplit(".", 1)[1]
    assert caplog.records
    for record in caplog.records:
        text = f"{record.getMessage()} {record.__dict__!r}"
        assert secret not in text


async def test_without_rrs_address_servers_launch_without_an_agent(
    bot: BotProcess, provider: FakeProvider
) -> None:
    session = await booked(bot)

    await bot.services.sessions.launch(session.session_id)

    assert provider.launch_calls[0].agent is None
    assert await bot.types(agent_stream(session.session_id)) == []


# --- ready means flyable --------------------------------------------------------------------


async def test_a_server_is_ready_only_once_its_hook_reports_the_mission_running(
    rr: BotProcess, provider: FakeProvider
) -> None:
    session = await booked(rr)
    await rr.services.sessions.launch(session.session_id)
    await rr.services.sessions.check_ready(session.session_id)
    await beat(rr, session.session_id, 1, "starting")
    await beat(rr, session.session_id, 2, "loading")
    loading = await rr.services.sessions.check_ready(session.session_id)
    assert loading.ready_at is None

    await beat(rr, session.session_id, 3, "running")
    await settle()
    await rr.services.background.drain()

    ready = await rr.services.sessions.get(session.session_id)
    assert ready.status is SessionStatus.RUNNING and ready.ready_at == START


async def test_a_server_whose_hook_never_reports_is_ready_by_its_game_port_after_a_while(
    rr: BotProcess, provider: FakeProvider, clock: FakeClock
) -> None:
    session = await booked(rr)
    await rr.services.sessions.launch(session.session_id)
    await beat(rr, session.session_id, 1, "starting")
    first = await rr.services.sessions.check_ready(session.session_id)
    await clock.advance(HOOK_SILENCE_LIMIT - MINUTE)
    still = await rr.services.sessions.check_ready(session.session_id)
    assert first.ready_at is None and still.ready_at is None

    await clock.advance(MINUTE)
    ready = await rr.services.sessions.check_ready(session.session_id)

    assert ready.ready_at == START + HOOK_SILENCE_LIMIT


async def test_a_server_whose_hook_reports_the_mission_loading_is_not_ready_by_its_port(
    rr: BotProcess, provider: FakeProvider, clock: FakeClock
) -> None:
    session = await booked(rr)
    await rr.services.sessions.launch(session.session_id)
    await beat(rr, session.session_id, 1, "loading")
    await rr.services.sessions.check_ready(session.session_id)
    await clock.advance(HOOK_SILENCE_LIMIT * 2)

    loading = await rr.services.sessions.check_ready(session.session_id)

    assert loading.ready_at is None


async def test_a_mission_running_reported_to_another_process_makes_the_server_ready(
    rr: BotProcess, provider: FakeProvider
) -> None:
    session = await booked(rr)
    await rr.services.sessions.launch(session.session_id)
    standby = BotProcess(rr.store, rr.clock, provider, rr_url=RR_URL)
    await standby.start()
    try:
        await beat(standby, session.session_id, 1, "running")
        await standby.services.background.drain()
    finally:
        await standby.stop()

    ready = await rr.services.sessions.check_ready(session.session_id)

    assert ready.ready_at is not None


# --- the files ------------------------------------------------------------------------------


async def test_the_agent_gets_the_launchs_files_rendered_again_and_none_once_it_ended(
    rr: BotProcess, provider: FakeProvider
) -> None:
    session = await booked(rr)
    await rr.services.sessions.launch(session.session_id)
    files = rr.services.agents.files

    served = await files.files_for(session.session_id, 1)
    other_attempt = await files.files_for(session.session_id, 2)
    await rr.services.sessions.terminate(session.session_id, "stopped_by_user")
    ended = await files.files_for(session.session_id, 1)

    assert served == provider.launch_calls[0].files
    assert other_attempt is None and ended is None
