"""The local compute provider with real stand-in processes on loopback."""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cloud.base import LaunchError, LaunchRequest
from bot.cloud.local import LocalProvider

FILES = {
    "Config/serverSettings.lua": b'cfg = { ["name"] = "Squadron \\"One\\"" }\n',
    "Config/options.lua": "options = { plugins = {} } -- é\n".encode(),
}


def request(
    *,
    session_id: str = "m-1",
    attempt: int = 1,
    terminate_at: datetime | None = None,
    files: dict[str, bytes] = FILES,
) -> LaunchRequest:
    return LaunchRequest(
        session_id=session_id,
        guild_id="111111111111111111",
        attempt=attempt,
        client_token=f"{session_id}-{attempt}",
        size="small",
        region="local",
        files=files,
        game_port=10308,
        terminate_at=terminate_at or datetime.now(UTC) + timedelta(hours=1),
        login_ref=None,
        deployment="test",
    )


@pytest.fixture
async def provider(tmp_path: Path) -> AsyncIterator[LocalProvider]:
    local = LocalProvider(tmp_path, "test")
    yield local
    for info in await local.list_managed():
        await local.terminate(info.instance_id)


async def read_banner(port: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    banner = await reader.readline()
    writer.close()
    await writer.wait_closed()
    return banner


async def test_launched_server_answers_on_its_port_and_has_its_files(
    provider: LocalProvider, tmp_path: Path
) -> None:
    info = await provider.launch(request())

    assert info.state == "running"
    assert info.address == "127.0.0.1"
    assert info.session_id == "m-1" and info.attempt == 1
    assert info.game_port is not None
    assert await provider.game_port_open(info.address, info.game_port)
    assert (await read_banner(info.game_port)).startswith(b"rr stand-in DCS server")
    folder = tmp_path / info.instance_id / "files"
    written = {str(path.relative_to(folder)): path.read_bytes() for path in folder.rglob("*.lua")}
    assert written == FILES
    assert not (tmp_path / info.instance_id / "launch.json").exists()


async def test_the_stand_in_logs_what_it_does_like_a_dcs_log(
    provider: LocalProvider, tmp_path: Path
) -> None:
    info = await provider.launch(request())
    assert info.game_port is not None
    await read_banner(info.game_port)
    await provider.terminate(info.instance_id)
    await provider.wait_until_stopped(info.instance_id)

    lines = (tmp_path / info.instance_id / "standin.log").read_text().splitlines()
    assert "wrote 2 config files" in lines[0]
    assert f"answering on 127.0.0.1:{info.game_port}" in lines[1]
    assert "player connected from 127.0.0.1" in lines[2]
    assert lines[3].endswith("stopped (told to stop)")


async def test_terminated_server_stops_answering_and_is_reported_terminated(
    provider: LocalProvider,
) -> None:
    info = await provider.launch(request())
    assert info.game_port is not None

    await provider.terminate(info.instance_id)

    assert (await provider.describe(info.instance_id)).state == "terminated"
    assert not await provider.game_port_open("127.0.0.1", info.game_port)
    assert await provider.list_managed() == []
    await provider.terminate(info.instance_id)


async def test_launch_with_the_same_client_token_returns_the_same_server(
    provider: LocalProvider,
) -> None:
    first = await provider.launch(request())
    second = await provider.launch(request())

    assert second.instance_id == first.instance_id
    assert second.game_port == first.game_port
    assert [info.instance_id for info in await provider.list_managed()] == [first.instance_id]


async def test_concurrent_launches_with_one_token_start_one_server(
    provider: LocalProvider,
) -> None:
    launched = await asyncio.gather(*(provider.launch(request()) for _ in range(3)))

    assert len({info.instance_id for info in launched}) == 1
    assert len(await provider.list_managed()) == 1


async def test_server_stops_by_itself_at_its_deadline_in_scaled_time(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    fast = LocalProvider(tmp_path, "test", now=lambda: now, time_scale=3600)
    info = await fast.launch(request(terminate_at=now + timedelta(hours=1)))

    async with asyncio.timeout(10):
        await fast.wait_until_stopped(info.instance_id)

    assert (await fast.describe(info.instance_id)).state == "terminated"
    exit_record = json.loads((tmp_path / info.instance_id / "exit.json").read_text())
    assert exit_record["reason"] == "deadline"


async def test_moved_backstop_stops_the_server_at_the_new_time(
    provider: LocalProvider, tmp_path: Path
) -> None:
    info = await provider.launch(request())

    moved = await provider.move_backstop(
        info.instance_id, datetime.now(UTC) + timedelta(seconds=0.5)
    )
    assert moved is True
    async with asyncio.timeout(10):
        await provider.wait_until_stopped(info.instance_id)

    exit_record = json.loads((tmp_path / info.instance_id / "exit.json").read_text())
    assert exit_record["reason"] == "deadline"


async def test_moving_the_backstop_to_the_time_it_has_changes_nothing(
    provider: LocalProvider, tmp_path: Path
) -> None:
    terminate_at = datetime.now(UTC) + timedelta(hours=1)
    info = await provider.launch(request(terminate_at=terminate_at))
    deadline = (tmp_path / info.instance_id / "deadline").read_text()

    moved = await provider.move_backstop(info.instance_id, terminate_at)

    assert moved is False
    assert (tmp_path / info.instance_id / "deadline").read_text() == deadline


async def test_a_restarted_provider_adopts_running_servers(tmp_path: Path) -> None:
    before_crash = LocalProvider(tmp_path, "test")
    launched = await before_crash.launch(request(session_id="m-2", attempt=3))

    after_restart = LocalProvider(tmp_path, "test")
    found = await after_restart.find_launch("m-2", 3)

    assert found is not None
    assert found.instance_id == launched.instance_id
    assert found.state == "running"
    assert found.game_port == launched.game_port
    assert found.launched_at == launched.launched_at
    assert [info.instance_id for info in await after_restart.list_managed()] == [
        launched.instance_id
    ]
    assert (await after_restart.launch(request(session_id="m-2", attempt=3))) == found
    await after_restart.terminate(launched.instance_id)
    assert (await after_restart.describe(launched.instance_id)).state == "terminated"


async def test_unknown_servers_are_gone_and_unknown_launches_not_found(
    provider: LocalProvider,
) -> None:
    assert (await provider.describe("local-0000")).state == "gone"
    assert await provider.find_launch("m-404", 1) is None
    await provider.terminate("local-0000")


async def test_servers_of_another_deployment_are_not_managed(tmp_path: Path) -> None:
    other = LocalProvider(tmp_path, "other")
    info = await other.launch(request())
    try:
        assert await LocalProvider(tmp_path, "test").list_managed() == []
    finally:
        await other.terminate(info.instance_id)


@pytest.mark.parametrize("path", ["/etc/passwd", "../outside.lua", "Config/../../x", ""])
async def test_file_paths_outside_the_write_folder_are_refused(
    provider: LocalProvider, path: str
) -> None:
    with pytest.raises(LaunchError) as refused:
        await provider.launch(request(files={path: b"x"}))

    assert refused.value.reason == "config"
    assert await provider.list_managed() == []


async def test_an_ended_servers_folder_is_removed_once_its_retention_has_passed(
    tmp_path: Path,
) -> None:
    """An hour of retention on a clock 60 times faster than real time is one real minute."""
    real_time = [time.time()]
    local = LocalProvider(
        tmp_path, "test", time_scale=60, retention=timedelta(hours=1), wall=lambda: real_time[0]
    )
    ended = await local.launch(request(session_id="m-ended"))
    running = await local.launch(request(session_id="m-running"))
    await local.terminate(ended.instance_id)
    try:
        real_time[0] += 50
        assert [i.instance_id for i in await local.list_managed()] == [running.instance_id]
        kept = (tmp_path / ended.instance_id).is_dir()

        real_time[0] += 20
        listed = [i.instance_id for i in await local.list_managed()]
    finally:
        await local.terminate(running.instance_id)

    assert kept
    assert listed == [running.instance_id]
    assert not (tmp_path / ended.instance_id).exists()
    assert (await local.describe(ended.instance_id)).state == "gone"
    assert (tmp_path / running.instance_id).is_dir()


async def test_a_server_recorded_before_sessions_were_called_sessions_is_found(
    provider: LocalProvider, tmp_path: Path
) -> None:
    info = await provider.launch(request(session_id="m-old"))
    record_path = tmp_path / info.instance_id / "instance.json"
    record = json.loads(record_path.read_text(encoding="utf-8"))
    record["mission_id"] = record.pop("session_id")
    record_path.write_text(json.dumps(record), encoding="utf-8")

    found = await provider.find_launch("m-old", 1)

    assert found is not None and found.session_id == "m-old"
    assert [listed.session_id for listed in await provider.list_managed()] == ["m-old"]
