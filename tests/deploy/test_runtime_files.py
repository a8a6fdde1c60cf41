"""The container image definition and the systemd unit: what can be checked without a Docker
daemon or a systemd host — the health check command run against a real /healthz, the image
shipping every package rr is built from as a non-root user, and the unit verified by
systemd-analyze where it is installed."""

import asyncio
import json
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.deploy.stack import REPO

DOCKERFILE = REPO / "deploy" / "container" / "Dockerfile"
UNIT = REPO / "deploy" / "systemd" / "rr.service"


def _instructions() -> list[tuple[str, str]]:
    """(instruction, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text(encoding="utf-8"))
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0], line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def _final_stage() -> list[tuple[str, str]]:
    instructions = _instructions()
    last_from = max(i for i, (name, _) in enumerate(instructions) if name == "FROM")
    return instructions[last_from:]


def test_the_image_ships_every_package_rr_is_built_from() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = {args.split()[0] for name, args in _instructions() if name == "COPY"}

    assert copied == packages | {"pyproject.toml"}


def test_the_image_runs_rr_as_a_non_root_user_with_a_health_check() -> None:
    final = dict(_final_stage())
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))

    assert final["FROM"].endswith("-slim")
    assert final["USER"].split(":")[0] not in ("0", "root")
    assert json.loads(final["ENTRYPOINT"]) == ["rr-bot"]
    assert "rr-bot" in project["project"]["scripts"]
    assert "/healthz" in final["HEALTHCHECK"]


class Health:
    def __init__(self) -> None:
        self.status = 200

    async def answer(self, _: web.Request) -> web.Response:
        return web.Response(status=self.status)


@pytest.fixture
async def health() -> AsyncIterator[tuple[Health, int]]:
    health = Health()
    app = web.Application()
    app.router.add_get("/healthz", health.answer)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    assert server.port is not None
    yield health, server.port
    await server.close()


async def _run_health_check(port: int) -> int:
    command = json.loads(dict(_final_stage())["HEALTHCHECK"].split("CMD", 1)[1])
    assert command[0] == "python"
    process = await asyncio.create_subprocess_exec(
        sys.executable, *command[1:], env={"RR_WEB_PORT": str(port)}
    )
    return await process.wait()


async def test_the_health_check_passes_on_200_and_fails_otherwise(
    health: tuple[Health, int],
) -> None:
    answers, port = health

    healthy = await _run_health_check(port)
    answers.status = 503
    unhealthy = await _run_health_check(port)

    assert (healthy, unhealthy) == (0, 1)


def test_the_unit_runs_rr_bot_unprivileged_and_stops_it_with_sigterm() -> None:
    unit = UNIT.read_text(encoding="utf-8")
    settings = dict(
        line.split("=", 1) for line in unit.splitlines() if "=" in line and line[0] != "#"
    )

    assert settings["ExecStart"].endswith("/rr-bot")
    assert settings["DynamicUser"] == "yes" and settings["NoNewPrivileges"] == "yes"
    assert settings["KillSignal"] == "SIGTERM"
    assert settings["WorkingDirectory"] == "/var/lib/" + settings["StateDirectory"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd is not installed")
def test_systemd_verifies_the_unit(tmp_path: Path) -> None:
    """Verified as installed, except that ExecStart points at an executable this machine has."""
    unit = tmp_path / "rr.service"
    text = UNIT.read_text(encoding="utf-8")
    unit.write_text(text.replace("/opt/rr/.venv/bin/rr-bot", sys.executable), encoding="utf-8")

    verified = subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert verified.returncode == 0 and verified.stderr == "", verified.stderr
