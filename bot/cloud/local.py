"""The embedded compute provider: each server is a stand-in DCS process on loopback.

Every instance is a folder ``<root>/<instance_id>/`` holding the provider's record
(``instance.json``) and the files the stand-in process shares with it (see `bot.cloud.standin`).
Everything is on disk, so a restarted bot finds, describes and terminates the servers an earlier
run launched, which keep running meanwhile and stop by themselves at their deadline.

The instance id is derived from the deployment and the launch's client token, so the same token
always names the same folder and a retried launch starts nothing new.

An ended server's folder (its rendered files and log) is kept for ``retention`` on the bot's
clock after its stand-in stopped, then removed by the next `list_managed` (every reconciliation
pass), so a long-running sandbox neither fills the disk nor rescans every past server.
"""

import asyncio
import base64
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from bot.cloud import standin, standin_dcs
from bot.cloud.base import (
    InstanceInfo,
    InstanceState,
    LaunchError,
    LaunchRequest,
    tcp_port_open,
)

log = logging.getLogger("rr.cloud.local")

RECORD = "instance.json"
DEFAULT_RETENTION = timedelta(hours=24)
ADDRESS = standin.HOST
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Pilot:
    """A person on a stand-in server: ``side`` 0 spectators, 1 red, 2 blue (DCS's numbers)."""

    name: str
    side: int
    slot: str = ""


@dataclass(frozen=True)
class ChatLine:
    at: str
    text: str


class LocalProvider:
    """Launches `bot.cloud.standin` processes under ``root`` for one deployment.

    ``now`` is the bot's clock and ``time_scale`` how much faster it runs than real time (the
    sandbox setting), so a deadline in bot time becomes the right moment in real time.
    """

    name = "local"

    def __init__(
        self,
        root: Path,
        deployment: str,
        *,
        now: Callable[[], datetime] = _utc_now,
        time_scale: float = 1.0,
        retention: timedelta = DEFAULT_RETENTION,
        wall: Callable[[], float] = time.time,
        start_timeout: float = 15.0,
        stop_timeout: float = 5.0,
    ) -> None:
        """``wall`` is real UNIX time, which the stand-ins write when they stop."""
        self._root = root.resolve()
        self._retention_seconds = retention.total_seconds() / time_scale
        self._wall = wall
        self._deployment = deployment
        self._now = now
        self._time_scale = time_scale
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._launching = asyncio.Lock()
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    async def launch(self, request: LaunchRequest) -> InstanceInfo:
        _check_paths(request.files)
        instance_id = self._instance_id(request.client_token)
        async with self._launching:
            folder = self._root / instance_id
            record = _record(request, instance_id, self._deployment, self._now())
            deadline = self._real_time(request.terminate_at)
            manifest = _manifest(request, instance_id)
            created = await asyncio.to_thread(_create, folder, record, manifest, deadline)
            if not created:
                return await self.describe(instance_id)
            credential = None if request.agent is None else request.agent.credential
            process = await asyncio.to_thread(_spawn, folder, credential)
            self._children[instance_id] = process
            await asyncio.to_thread(_update, folder, {"pid": process.pid})
            port = await self._await_ready(instance_id, process)
        return _info(record, "running", port)

    async def describe(self, instance_id: str) -> InstanceInfo:
        record, state, port = await asyncio.to_thread(self._inspect, instance_id)
        if record is None:
            return InstanceInfo.gone(instance_id)
        if state == "terminated":
            self._reap(instance_id)
        return _info(record, state, port)

    async def find_launch(self, session_id: str, attempt: int) -> InstanceInfo | None:
        for record in await asyncio.to_thread(self._records):
            if _session_id(record) == session_id and record["attempt"] == attempt:
                return await self.describe(record["instance_id"])
        return None

    async def list_managed(self) -> list[InstanceInfo]:
        """The servers not yet ended; removes the folders of those ended past the retention."""
        found = []
        for record in await asyncio.to_thread(self._records):
            info = await self.describe(record["instance_id"])
            if info.state == "terminated":
                await asyncio.to_thread(self._remove_if_expired, info.instance_id)
            elif info.state != "gone":
                found.append(info)
        return found

    async def terminate(self, instance_id: str) -> None:
        folder = self._root / instance_id
        record = await asyncio.to_thread(_read_record, folder)
        if record is None or not await asyncio.to_thread(_alive, folder):
            self._reap(instance_id)
            return
        await asyncio.to_thread(standin.write_deadline, folder, 0.0)
        _signal(record.get("pid"), signal.SIGTERM)
        try:
            async with asyncio.timeout(self._stop_timeout):
                await self.wait_until_stopped(instance_id)
        except TimeoutError:
            _signal(record.get("pid"), signal.SIGKILL)
            async with asyncio.timeout(self._stop_timeout):
                await self.wait_until_stopped(instance_id)
        self._reap(instance_id)

    async def move_backstop(self, instance_id: str, terminate_at: datetime) -> bool:
        """Rewrite the stand-in's deadline file, then the record of it (so a record that says
        ``terminate_at`` means the stand-in has it); a stopped stand-in needs none."""
        folder = self._root / instance_id
        if not await asyncio.to_thread(_alive, folder):
            return False
        record = await asyncio.to_thread(_read_record, folder)
        if record is not None and datetime.fromisoformat(record["terminate_at"]) == terminate_at:
            return False
        await asyncio.to_thread(standin.write_deadline, folder, self._real_time(terminate_at))
        await asyncio.to_thread(_update, folder, {"terminate_at": terminate_at.isoformat()})
        return True

    async def game_port_open(self, address: str, port: int) -> bool:
        return await tcp_port_open(address, port)

    async def wait_until_stopped(self, instance_id: str) -> None:
        """Return once the stand-in process has exited; bound it with `asyncio.timeout`.

        A daemon thread blocks on the stand-in's lock, which the kernel releases when it exits.
        """
        loop = asyncio.get_running_loop()
        stopped: asyncio.Future[None] = loop.create_future()
        lock = self._root / instance_id / standin.LOCK

        def wait() -> None:
            _wait_for_lock(lock)
            with contextlib.suppress(RuntimeError):  # the loop closed before the process exited
                loop.call_soon_threadsafe(_settle, stopped)

        threading.Thread(target=wait, name=f"wait-{instance_id}", daemon=True).start()
        await stopped

    async def set_players(self, instance_id: str, players: Sequence[Pilot]) -> bool:
        """Put exactly these pilots on the stand-in server (its stand-in DCS reports them to
        the agent); False if the server is not running."""
        folder = self._root / instance_id
        if not await asyncio.to_thread(_alive, folder):
            return False
        text = json.dumps([asdict(player) for player in players], ensure_ascii=False)
        await asyncio.to_thread(standin.write_atomically, folder / standin_dcs.PLAYERS, text)
        return True

    async def players(self, instance_id: str) -> list[Pilot]:
        """The pilots on the stand-in server, as last set."""
        listed = await asyncio.to_thread(standin_dcs.read_players, self._root / instance_id)
        return [
            Pilot(str(entry.get("name", "")), int(entry.get("side", 0)), str(entry.get("slot", "")))
            for entry in listed
        ]

    async def chat(self, instance_id: str) -> list[ChatLine]:
        """What the game's chat showed on the stand-in server, oldest first."""
        return await asyncio.to_thread(_read_chat, self._root / instance_id / standin_dcs.CHAT)

    def _instance_id(self, client_token: str) -> str:
        digest = hashlib.sha256(f"{self._deployment}\n{client_token}".encode()).hexdigest()
        return f"local-{digest[:16]}"

    async def _await_ready(self, instance_id: str, process: subprocess.Popen[bytes]) -> int:
        assert process.stdout is not None
        try:
            line = await asyncio.wait_for(
                asyncio.to_thread(process.stdout.readline), self._start_timeout
            )
        except TimeoutError:
            process.kill()
            line = b""
        finally:
            process.stdout.close()
        text = line.decode(errors="replace").strip()
        if not text.startswith(standin.READY_PREFIX):
            await asyncio.to_thread(process.wait)
            self._children.pop(instance_id, None)
            log = self._root / instance_id / standin.LOG
            raise LaunchError(
                "unavailable", f"The local stand-in server did not start; its log is {log}."
            )
        return int(text.removeprefix(standin.READY_PREFIX))

    def _real_time(self, when: datetime) -> float:
        """The UNIX time at which the bot's clock shows ``when``."""
        return time.time() + (when - self._now()).total_seconds() / self._time_scale

    def _inspect(self, instance_id: str) -> tuple[dict[str, Any] | None, InstanceState, int | None]:
        folder = self._root / instance_id
        record = _read_record(folder)
        if record is None:
            return None, "gone", None
        if not _alive(folder):
            return record, "terminated", None
        ready = _read_json(folder / standin.READY)
        if ready is None:
            return record, "pending", None
        stopping = standin.read_deadline(folder) <= time.time()
        return record, "stopping" if stopping else "running", int(ready["port"])

    def _records(self) -> list[dict[str, Any]]:
        if not self._root.is_dir():
            return []
        records = (_read_record(folder) for folder in sorted(self._root.iterdir()))
        return [
            record
            for record in records
            if record is not None and record["deployment"] == self._deployment
        ]

    def _remove_if_expired(self, instance_id: str) -> None:
        folder = self._root / instance_id
        stopped = _stopped_at(folder)
        if stopped is None or self._wall() - stopped < self._retention_seconds:
            return
        shutil.rmtree(folder, ignore_errors=True)
        log.info("removed an ended local server's folder instance_id=%s", instance_id)

    def _reap(self, instance_id: str) -> None:
        process = self._children.get(instance_id)
        if process is not None and process.poll() is not None:
            del self._children[instance_id]


def _read_chat(path: Path) -> list[ChatLine]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    chat = []
    for line in lines:
        with contextlib.suppress(ValueError, KeyError, TypeError):
            entry = json.loads(line)
            chat.append(ChatLine(str(entry["at"]), str(entry["text"])))
    return chat


def _check_paths(files: Mapping[str, bytes]) -> None:
    for name in files:
        path = PurePosixPath(name)
        if not name or path.is_absolute() or ".." in path.parts or "\\" in name:
            raise LaunchError(
                "config", f"The server file path {name!r} must be relative to the DCS folder."
            )


def _record(
    request: LaunchRequest, instance_id: str, deployment: str, launched_at: datetime
) -> dict[str, Any]:
    return {
        "instance_id": instance_id,
        "deployment": deployment,
        "client_token": request.client_token,
        "session_id": request.session_id,
        "guild_id": request.guild_id,
        "attempt": request.attempt,
        "size": request.size,
        "region": request.region,
        "launched_at": launched_at.isoformat(),
        "terminate_at": request.terminate_at.isoformat(),
        "pid": None,
    }


def _session_id(record: dict[str, Any]) -> str:
    """Records written before sessions were called sessions name the id ``mission_id``."""
    return str(record["session_id"] if "session_id" in record else record["mission_id"])


def _info(record: dict[str, Any], state: InstanceState, port: int | None) -> InstanceInfo:
    return InstanceInfo(
        instance_id=record["instance_id"],
        session_id=_session_id(record),
        attempt=record["attempt"],
        state=state,
        address=ADDRESS if state in ("running", "stopping") else None,
        launched_at=datetime.fromisoformat(record["launched_at"]),
        game_port=port,
    )


def _manifest(request: LaunchRequest, instance_id: str) -> dict[str, Any]:
    """What the stand-in starts from: with an agent, rr's address (the agent fetches the files
    from rr), else the files themselves."""
    if request.agent is not None:
        return {"instance_id": instance_id, "agent": {"rr_url": request.agent.rr_url}}
    files = {name: base64.b64encode(content).decode() for name, content in request.files.items()}
    return {"instance_id": instance_id, "files": files}


def _create(
    folder: Path, record: dict[str, Any], manifest: dict[str, Any], deadline: float
) -> bool:
    """Make the instance folder ready for its stand-in; False if the folder already exists."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:
        return False
    standin.write_json(folder / standin.MANIFEST, manifest)
    standin.write_deadline(folder, deadline)
    standin.write_json(folder / RECORD, record)
    return True


def _spawn(folder: Path, credential: str | None) -> subprocess.Popen[bytes]:
    """Start the stand-in in its own session, so Ctrl-C on the bot does not reach it; the
    agent's credential goes in its environment, which only this user can read."""
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])
        ),
    }
    if credential is not None:
        environment[standin.CREDENTIAL_VARIABLE] = credential
    with (folder / standin.LOG).open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "bot.cloud.standin", str(folder)],
            cwd=folder,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=True,
        )


def _update(folder: Path, changes: dict[str, Any]) -> None:
    record = _read_record(folder)
    if record is not None:
        standin.write_json(folder / RECORD, {**record, **changes})


def _read_record(folder: Path) -> dict[str, Any] | None:
    return _read_json(folder / RECORD)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return data


def _stopped_at(folder: Path) -> float | None:
    """When the stand-in stopped (UNIX time): as it wrote on exit, else its log's last write
    (a killed stand-in writes no exit record); None if the folder is already gone."""
    ended = _read_json(folder / standin.EXIT)
    if ended is not None:
        return datetime.fromisoformat(ended["at"]).timestamp()
    try:
        return (folder / standin.LOG).stat().st_mtime
    except FileNotFoundError:
        return None


def _alive(folder: Path) -> bool:
    """Whether the folder's stand-in runs: it holds the lock file for as long as it lives."""
    try:
        with (folder / standin.LOCK).open("rb") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(lock, fcntl.LOCK_UN)
            return False
    except FileNotFoundError:
        return False


def _wait_for_lock(path: Path) -> None:
    try:
        with path.open("rb") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            fcntl.flock(lock, fcntl.LOCK_UN)
    except FileNotFoundError:
        return


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _signal(pid: int | None, signum: int) -> None:
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)
