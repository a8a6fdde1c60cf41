"""A stand-in DCS server for the local compute provider: ``python -m bot.cloud.standin FOLDER``.

It plays the part of a cloud instance on loopback, talking to the provider through files in its
instance folder:

- ``launch.json`` (read, then deleted): the instance id and either the rendered DCS files,
  base64, which it writes under ``files/``, as DCS would find them in its write folder, or rr's
  address for the server's agent (the launch's credential comes in its environment, as
  ``RR_AGENT_CREDENTIAL``, never in a file or a command line);
- ``deadline``: the UNIX time at which it stops by itself (the backstop, kept even when the bot is
  gone); the provider rewrites it to move the backstop or to stop it now;
- ``lock``: held for as long as it runs, so anyone can tell whether it is alive, even after a
  restart or a reboot;
- ``ready.json`` and the stdout line ``ready <port>``: the game port it answers on, a free
  loopback port, where every connection gets a one-line banner;
- ``exit.json``: why and when it stopped;
- ``standin.log`` (its stderr): one line per thing it does, as a DCS log would show.

With an agent it runs the real one (``python -m agent``, its log in ``agent.log``) on the write
folder ``files/``, as the server image does; the agent fetches the files from rr, installs the
hook and starts "DCS": the ``dcs`` launcher here, which runs `bot.cloud.standin_dcs` (see there
for ``players.json`` and ``chat.jsonl``). Both stop with the stand-in.

Standard library only, so it starts fast and depends on nothing else in the bot.
"""

import asyncio
import base64
import contextlib
import fcntl
import json
import logging
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
MANIFEST = "launch.json"
DEADLINE = "deadline"
LOCK = "lock"
READY = "ready.json"
EXIT = "exit.json"
FILES = "files"
LOG = "standin.log"
AGENT_LOG = "agent.log"
DCS_LAUNCHER = "dcs"
CREDENTIAL_VARIABLE = "RR_AGENT_CREDENTIAL"
READY_PREFIX = "ready "
log = logging.getLogger("rr.standin")
POLL_SECONDS = 0.25
"""How often the deadline file is read: the longest a stop request or a moved backstop waits."""


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` in one step, so a reader never sees half a file; each writer uses its own
    temporary file, so two processes writing at once (two bots stopping one server) both succeed."""
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".")
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        file.write(text)
    os.replace(partial, path)


def write_json(path: Path, data: dict[str, Any]) -> None:
    write_atomically(path, json.dumps(data))


def write_deadline(folder: Path, unix_time: float) -> None:
    write_atomically(folder / DEADLINE, repr(unix_time))


def read_deadline(folder: Path) -> float:
    return float((folder / DEADLINE).read_text(encoding="utf-8"))


def write_files(root: Path, files: dict[str, str]) -> None:
    for relative, encoded in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(encoded))


async def wait_for_end(folder: Path, stop: asyncio.Event) -> str:
    """Return "deadline" once the deadline file's time has come, or "signal" when stopped."""
    while (remaining := read_deadline(folder) - time.time()) > 0:
        try:
            await asyncio.wait_for(stop.wait(), timeout=min(remaining, POLL_SECONDS))
        except TimeoutError:
            continue
        return "signal"
    return "deadline"


async def serve(folder: Path, instance_id: str) -> str:
    banner = f"rr stand-in DCS server {instance_id}\r\n".encode()

    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        log.info("player connected from %s:%s", *writer.get_extra_info("peername")[:2])
        try:
            writer.write(banner)
            await writer.drain()
            writer.close()
            await writer.wait_closed()
        except ConnectionError:
            return

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    server = await asyncio.start_server(greet, HOST, 0)
    port = int(server.sockets[0].getsockname()[1])
    write_json(folder / READY, {"port": port, "pid": os.getpid()})
    print(f"{READY_PREFIX}{port}", flush=True)
    _detach_stdout()
    log.info("answering on %s:%d; stopping by itself at %s", HOST, port, _deadline_text(folder))
    async with server:
        return await wait_for_end(folder, stop)


def run(folder: Path) -> None:
    with (folder / LOCK).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        credential = os.environ.pop(CREDENTIAL_VARIABLE, "")
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        (folder / FILES).mkdir(exist_ok=True)
        if "agent" in manifest:
            agent = start_agent(folder, manifest["agent"]["rr_url"], credential)
        else:
            agent = None
            write_files(folder / FILES, manifest["files"])
            log.info(
                "wrote %d config files for %s", len(manifest["files"]), manifest["instance_id"]
            )
        (folder / MANIFEST).unlink()
        try:
            reason = asyncio.run(serve(folder, manifest["instance_id"]))
        finally:
            if agent is not None:
                stop_started(agent)
        write_json(folder / EXIT, {"reason": reason, "at": datetime.now(UTC).isoformat()})
        log.info("stopped (%s)", "deadline reached" if reason == "deadline" else "told to stop")


def start_agent(folder: Path, rr_url: str, credential: str) -> subprocess.Popen[bytes]:
    """Run the real agent on the write folder, the credential in its environment only, with
    the ``dcs`` launcher as the DCS it starts."""
    launcher = folder / DCS_LAUNCHER
    launcher.write_text(
        "#!/bin/sh\n"
        f"exec {shlex.quote(sys.executable)} -m bot.cloud.standin_dcs {shlex.quote(str(folder))}"
        ' "$@"\n',
        encoding="utf-8",
    )
    launcher.chmod(0o700)
    command = [
        sys.executable,
        "-m",
        "agent",
        "--rr-url",
        rr_url,
        "--root",
        str(folder / FILES),
        "--dcs-exe",
        str(launcher),
        "--agent-port",
        "0",
        "--hook-port",
        str(free_udp_port()),
    ]
    environment = {**os.environ, CREDENTIAL_VARIABLE: credential}
    with (folder / AGENT_LOG).open("ab") as agent_log:
        agent = subprocess.Popen(
            command,
            cwd=folder,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=agent_log,
            stderr=agent_log,
        )
    log.info("started the agent (pid %d), reporting to %s", agent.pid, rr_url)
    return agent


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def stop_started(agent: subprocess.Popen[bytes]) -> None:
    """Stop what the stand-in started: the agent, and the DCS the agent started, which share
    its process group when it leads one (as the provider starts it; it ignores the signal
    itself now it is done)."""
    if os.getpgrp() != os.getpid():
        agent.terminate()
        return
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(os.getpgrp(), signal.SIGTERM)


def _deadline_text(folder: Path) -> str:
    return datetime.fromtimestamp(read_deadline(folder), UTC).isoformat(timespec="seconds")


def _detach_stdout() -> None:
    """Nobody reads stdout after the ready line; the bot may even be gone."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if len(arguments) != 1:
        print("usage: python -m bot.cloud.standin INSTANCE_FOLDER", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr, force=True
    )
    run(Path(arguments[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
