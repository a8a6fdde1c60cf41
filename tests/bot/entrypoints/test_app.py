"""The whole app without Discord: starts, answers /healthz and /metrics, and stops cleanly."""

import asyncio
import logging
import os
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from bot.config import Settings
from bot.entrypoints.app import App, FatalError
from tests.bot.conftest import LogToString

pytestmark = pytest.mark.e2e

PROJECT_ROOT = Path(__file__).parents[3]
TYPED_PASSWORD = "correct-horse-battery"


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of an rr with no .env and nothing configured but a loopback test setup."""
    for name in list(os.environ):
        if name.startswith(("RR_", "DISCORD_", "STRIPE_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    settings = {
        "RR_EVENT_STORE": "memory://",
        "RR_WEB_PORT": "0",
        "RR_LOCAL_INSTANCES_DIR": str(tmp_path / "instances"),
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    yield settings


async def fetch(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def test_app_serves_health_and_metrics_then_stops_everything(
    environment: dict[str, str],
) -> None:
    tasks_before = asyncio.all_tasks()
    app = App(Settings())
    await app.start()
    base_url = app.base_url

    status, health = await fetch(base_url + "/healthz")
    metrics_status, metrics = await fetch(base_url + "/metrics")
    await app.stop()

    assert status == 200
    assert '"store": {"ok": true' in health
    assert '"view": {"ok": true' in health
    assert '"scheduler": {"ok": true' in health
    assert metrics_status == 200
    assert "rr_view_events_applied_total 1" in metrics  # the sandbox squadron's settings
    assert "rr_uptime_seconds " in metrics
    with pytest.raises(aiohttp.ClientConnectionError):
        await fetch(base_url + "/healthz")
    assert asyncio.all_tasks() == tasks_before


async def test_a_port_in_use_stops_start_up_with_one_line_and_closes_what_started(
    environment: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    tasks_before = asyncio.all_tasks()
    with socket.create_server(("127.0.0.1", 0)) as taken:
        monkeypatch.setenv("RR_WEB_PORT", str(taken.getsockname()[1]))

        with pytest.raises(FatalError) as refused:
            await App(Settings()).start()

    assert str(refused.value).startswith("The web app cannot listen on 127.0.0.1:")
    assert str(refused.value).endswith("set RR_WEB_HOST and RR_WEB_PORT to a free address.")
    assert asyncio.all_tasks() == tasks_before


async def test_rr_bot_runs_until_sigint_and_exits_cleanly(environment: dict[str, str]) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    lines: list[bytes] = []
    async with asyncio.timeout(30):
        while b"rr is running" not in (line := await process.stderr.readline()):
            assert line, b"".join(lines).decode()
            lines.append(line)
        printed = (await process.stdout.readline()).decode()
    url = next(
        line.decode().split("url=")[1].strip() for line in lines if b"web app listening" in line
    )
    console_url = printed.rstrip().rsplit(" ", 1)[-1]

    status, _ = await fetch(url + "/healthz")
    console_status, console_page = await fetch(console_url)
    process.send_signal(signal.SIGINT)
    async with asyncio.timeout(30):
        rest = await process.stderr.read()
        code = await process.wait()

    assert printed.startswith("rr is running against a local Discord sandbox: open ")
    assert console_url == f"{url}/sandbox/discord/"
    assert status == 200
    assert console_status == 200 and '<script src="console.js">' in console_page
    assert code == 0
    output = b"".join(lines).decode() + rest.decode()
    assert "Traceback" not in output
    assert "discord sandbox ready" in output
    assert rest.decode().rstrip().endswith("rr.app stopped")


async def test_the_sandbox_refuses_to_listen_beyond_loopback(
    environment: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RR_WEB_HOST", "0.0.0.0")
    tasks_before = asyncio.all_tasks()

    with pytest.raises(FatalError) as refused:
        await App(Settings()).start()

    assert "it listens on loopback only, not 0.0.0.0: set RR_WEB_HOST=127.0.0.1" in str(
        refused.value
    )
    assert asyncio.all_tasks() == tasks_before


async def test_the_sandbox_serves_on_the_ipv6_loopback(
    environment: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RR_WEB_HOST", "::1")
    app = App(Settings())
    await app.start()
    try:
        base_url = app.base_url
        status, _ = await fetch(base_url + "/healthz")
    finally:
        await app.stop()

    assert base_url.startswith("http://[::1]:")
    assert status == 200


async def test_debug_logs_carry_neither_a_typed_password_nor_the_sandbox_webhook_secret(
    environment: dict[str, str], log_to_string: LogToString
) -> None:
    output = log_to_string("DEBUG", [])
    app = App(Settings())
    await app.start()
    try:
        assert app.sandbox is not None
        world = app.sandbox.world
        handle = await app.sandbox.emulator.invoke(
            world.squadron,
            world.owner,
            "config set",
            {"setting": "password", "value": TYPED_PASSWORD},
        )
        await handle.response()
        squadron = await app.services.squadrons.get(str(world.squadron.id))
        webhook_secret = app.services.payments.provider.webhook_secret
        logging.getLogger("rr.payments").debug("sandbox webhooks signed with %s", webhook_secret)
    finally:
        await app.stop()

    text = output.getvalue()
    assert squadron.settings.password == TYPED_PASSWORD
    assert " DEBUG " in text
    assert TYPED_PASSWORD not in text
    assert webhook_secret not in text and "signed with [redacted]" in text


async def test_rr_bot_refuses_an_invalid_setting_with_one_line(
    environment: dict[str, str],
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "RR_COMPUTE": "gcp"},
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(30):
        _, error = await process.communicate()

    assert process.returncode == 2
    assert error.decode() == "rr: Invalid setting RR_COMPUTE: input should be 'local' or 'ec2'.\n"
