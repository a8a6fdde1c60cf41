"""The agent against rr's real web app over loopback HTTP, and the hook in Lua over UDP."""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

from agent.hookfile import HOOK_PATH
from tests.agent.conftest import LOOP_TURNS, Server, until
from tests.agent.fake_dcs import FakeDcs
from tests.agent.stepclock import SteppingClock
from tests.bot.agentapi.conftest import FILES, SESSION, Rr, beat, make_rr


async def test_boot_writes_the_files_byte_exact_installs_the_hook_and_starts_srs_then_dcs(
    server: Server,
) -> None:
    assert await server.agent.boot()
    root = server.agent.root
    for path, content in FILES.items():
        assert (root / path).read_bytes() == content
    hook = (root / HOOK_PATH).read_bytes()
    assert f"local AGENT_PORT = {server.agent.agent_port} -- rr:agent_port".encode() in hook
    assert server.started == [
        [r"C:\SRS\srs.exe", f"-cfg={root / 'Config' / 'SRS.cfg'}"],
        [r"C:\DCS\bin\DCS_server.exe", "--server", "--norender", "-w", "DCS.server"],
    ]


async def test_heartbeats_carry_the_game_and_instructions_reach_the_hook_once(
    rr: Rr, server: Server
) -> None:
    assert await server.agent.boot()
    dcs = FakeDcs((server.agent.root / HOOK_PATH).read_bytes())
    try:
        await server.beat()
        assert rr.api.heartbeats.latest(SESSION).state == "starting"  # type: ignore[union-attr]

        dcs.mission_name = "Op Snowfall"
        dcs.fire("onMissionLoadEnd")
        dcs.fire("onSimulationStart")
        dcs.connect(2, 'Viper "1-1"\n', side=2, slot=17)
        dcs.fire("onPlayerConnect", 2)
        await until(lambda: bool(server.link.latest and server.link.latest.players))
        await server.beat()
        latest = rr.api.heartbeats.latest(SESSION)
        assert latest is not None
        assert (latest.state, latest.mission) == ("running", "Op Snowfall")
        assert [p.model_dump() for p in latest.players] == [
            {"id": 2, "name": 'Viper "1-1"\n', "side": 2, "slot": "17"}
        ]

        chat = rr.api.instructions.post_chat(SESSION, "Server ends in 10 minutes")
        await server.beat()  # the reply carries the chat; the agent sends it to the hook
        for _ in range(LOOP_TURNS):
            dcs.fire("onSimulationFrame")
            if dcs.chats:
                break
            await asyncio.sleep(0)
        assert dcs.chats == [("Server ends in 10 minutes", True)]
        await until(lambda: chat.id in server.link.latest.done)  # type: ignore[union-attr]
        await server.beat()  # acknowledges it
        assert rr.api.instructions.pending(SESSION) == []
        await server.beat()
        dcs.fire("onSimulationFrame")
        assert dcs.chats == [("Server ends in 10 minutes", True)]
        # rr asks for a beat every second until the mission runs, then every 5 s, but soon
        # after it hands out an instruction.
        assert server.clock.sleeps == [1.0, 5.0, 1.0, 5.0, 5.0]
    finally:
        dcs.close()


async def test_a_silent_hook_is_reported_unresponsive(rr: Rr, server: Server) -> None:
    assert await server.agent.boot()
    dcs = FakeDcs((server.agent.root / HOOK_PATH).read_bytes())
    try:
        dcs.fire("onSimulationStart")
        await until(lambda: server.link.latest is not None)
        await server.beat()
        assert rr.api.heartbeats.latest(SESSION).state == "running"  # type: ignore[union-attr]
        server.clock.time += 31
        await server.beat()
        assert rr.api.heartbeats.latest(SESSION).state == "unresponsive"  # type: ignore[union-attr]
    finally:
        dcs.close()


async def test_rr_unreachable_is_waited_out_with_bounded_back_off(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    rr = make_rr(port)
    token = await rr.launch()
    clock = SteppingClock(rr.clock)

    async def come_up(sleeps: int) -> None:
        if sleeps == 9:
            await rr.server.start_server()

    clock.on_sleep = come_up
    server = Server(rr, token, tmp_path / "DCS.server", clock, f"http://127.0.0.1:{port}")
    try:
        assert await server.agent.boot()
        assert clock.sleeps == [1, 2, 4, 8, 16, 32, 60, 60, 60]
        await server.beat()
        assert rr.api.heartbeats.latest(SESSION) is not None
    finally:
        await rr.server.close()
    secret = token.rsplit(".", 1)[1]
    assert caplog.records
    assert all(secret not in record.getMessage() for record in caplog.records)


async def test_a_revoked_credential_stops_the_agent(rr: Rr, server: Server) -> None:
    assert await server.agent.boot()
    await server.beat()
    await rr.api.credentials.revoke(SESSION, "session ended")
    assert await server.agent.beat_forever() == "ended"


async def test_the_agent_carries_on_after_rr_last_sequence_number(rr: Rr, server: Server) -> None:
    async with aiohttp.ClientSession() as http:
        token_header = {"Authorization": f"Bearer {server.agent.client._credential}"}
        url = f"{rr.url}/agent/v1/sessions/{SESSION}/heartbeats"
        async with http.post(url, json=beat(41), headers=token_header) as response:
            assert response.status == 200
    assert await server.agent.boot()
    assert server.agent.seq == 41
    server.agent.seq = 3  # out of step (say, rr took a heartbeat this agent thinks was lost)
    await server.beat()
    assert rr.api.heartbeats.latest(SESSION).seq == 42  # type: ignore[union-attr]
    assert server.clock.sleeps == [1.0]  # no hook report yet: rr asks for the boot interval


async def test_too_many_requests_wait_as_long_as_rr_asks(rr: Rr, server: Server) -> None:
    assert await server.agent.boot()  # one request of the burst of 20
    headers = {"Authorization": f"Bearer {server.agent.client._credential}"}
    url = f"{rr.url}/agent/v1/sessions/{SESSION}/files"
    async with aiohttp.ClientSession() as http:
        for _ in range(19):
            async with http.get(url, headers=headers) as response:
                assert response.status == 200
    await server.beat()
    assert server.clock.sleeps == [1.0, 1.0]  # as rr asked, then the boot interval
    assert rr.api.heartbeats.latest(SESSION).seq == 1  # type: ignore[union-attr]


@pytest.mark.e2e
async def test_python_m_agent_runs_and_never_prints_the_credential(rr: Rr, tmp_path: Path) -> None:
    token = await rr.launch()
    await rr.api.credentials.revoke(SESSION, "session ended")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agent",
        "--rr-url",
        rr.url,
        "--root",
        str(tmp_path),
        "--agent-port",
        "0",
        env={"RR_AGENT_CREDENTIAL": token, "PATH": "/usr/bin:/bin"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(30):
        stdout, stderr = await process.communicate()
    assert process.returncode == 0
    output = (stdout + stderr).decode()
    assert f"agent for session {SESSION}" in output
    assert "credential" in output  # "rr refused the credential (unauthorized); stopping"
    assert token.rsplit(".", 1)[1] not in output


@pytest.mark.e2e
async def test_python_m_agent_refuses_to_start_without_a_credential(tmp_path: Path) -> None:
    for arguments, env in [
        (["--rr-url", "http://127.0.0.1:9", "--root", str(tmp_path)], {}),
        (["--rr-url", "http://127.0.0.1:9", "--root", str(tmp_path)], {"RR_AGENT_CREDENTIAL": "x"}),
        (
            ["--rr-url", "http://127.0.0.1:9", "--root", str(tmp_path), "--credential", "rr1.a.b"],
            {},
        ),
        (["--root", str(tmp_path)], {"RR_AGENT_CREDENTIAL": "rr1.a.b"}),
    ]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "agent",
            *arguments,
            env={**env, "PATH": "/usr/bin:/bin"},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(30):
            _, stderr = await process.communicate()
        assert process.returncode == 2, arguments
        assert stderr


async def test_instructions_the_hook_never_does_are_kept_only_so_long(
    rr: Rr, server: Server
) -> None:
    assert await server.agent.boot()
    posted = []
    for _ in range(3):
        posted += [rr.api.instructions.post_chat(SESSION, f"m{n}").id for n in range(32)]
        await server.beat()
    assert list(server.agent._instructions) == posted[-64:]
