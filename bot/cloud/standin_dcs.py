"""A stand-in DCS for the local stand-in server: ``python -m bot.cloud.standin_dcs FOLDER``.

The server's agent starts it as it starts DCS on a real server (through the ``dcs`` launcher in
the instance folder ``FOLDER``), once the server files and the hook are written under the write
folder ``FOLDER/files``. It plays the part the DCS hook (``agent/hook/rr_hook.lua``) plays in
the real game, over the same loopback UDP exchange (``agent/hooklink.py``):

- it finds the ports in the installed hook file, as DCS loads the hook (no hook, no reports);
- it reports the mission loading, then running: the mission ``listStartIndex`` names in the
  written ``Config/serverSettings.lua``, named as DCS names it (the file name without ``.miz``);
- it reports the players listed in ``FOLDER/players.json`` (which the provider replaces as
  pilots join and leave), each with the id DCS would give it (2, 3, … in order of arrival);
- it carries out each instruction once (by id) and lists it as done: ``chat`` appends the line
  a person sees in game to ``FOLDER/chat.jsonl``; ``end_mission`` stops the mission and writes
  what DCS leaves behind: a Tacview recording (text ACMI 2.2) under ``Tracks/Tacview/`` and
  ``Logs/dcs.log`` in the write folder;
- it reports every `REPORT_EVERY` seconds and whenever something changes, and stops with the
  instance (its deadline file) or on SIGTERM.

Standard library only, like the stand-in server.
"""

import asyncio
import json
import logging
import re
import signal
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from bot.cloud import standin

log = logging.getLogger("rr.standin.dcs")

HOST = "127.0.0.1"
HOOK_FILE = "Scripts/Hooks/rr_hook.lua"
SERVER_SETTINGS = "Config/serverSettings.lua"
PLAYERS = "players.json"
CHAT = "chat.jsonl"
TACVIEW_FOLDER = "Tracks/Tacview"
DCS_LOG = "Logs/dcs.log"
DEFAULT_MISSION = "Stand-in mission"
LOAD_SECONDS = 0.5
"""How long the stand-in takes to load its mission (real DCS: a minute or two)."""
REPORT_EVERY = 5.0
POLL_SECONDS = 0.25
MAX_DONE = 32
_PORT = re.compile(r"^local ([A-Z_]+) = (\d+) -- rr:(\w+)$", re.MULTILINE)
_LUA_STRING = r'"((?:[^"\\]|\\.)*)"'
_MISSION_LIST = re.compile(r"missionList = \{(.*?)\n\t\}", re.DOTALL)
_MISSION = re.compile(r"\[(\d+)\] = " + _LUA_STRING)
_START_INDEX = re.compile(r"listStartIndex = (\d+)")
_LUA_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "'": "'"}


def hook_ports(write_folder: Path) -> tuple[int, int] | None:
    """(the agent's port, the hook's port) from the installed hook; None if there is none."""
    try:
        source = (write_folder / HOOK_FILE).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    ports = {name: int(port) for _, port, name in _PORT.findall(source)}
    if "agent_port" not in ports or "hook_port" not in ports:
        return None
    return ports["agent_port"], ports["hook_port"]


def mission_name(write_folder: Path) -> str:
    """The mission DCS would start: ``listStartIndex`` of the mission list, by file name."""
    try:
        text = (write_folder / SERVER_SETTINGS).read_text(encoding="utf-8")
    except FileNotFoundError:
        return DEFAULT_MISSION
    listed = _MISSION_LIST.search(text)
    if listed is None:
        return DEFAULT_MISSION
    missions = {int(index): _unescape(path) for index, path in _MISSION.findall(listed.group(1))}
    start = _START_INDEX.search(text)
    path = missions.get(int(start.group(1)) if start else 1) or missions.get(1)
    if not path:
        return DEFAULT_MISSION
    name = PureWindowsPath(path).name if "\\" in path else PurePosixPath(path).name
    return name.removesuffix(".miz") or DEFAULT_MISSION


def read_players(folder: Path) -> list[dict[str, Any]]:
    """The pilots the provider says are on the server: [{name, side, slot}]."""
    try:
        players = json.loads((folder / PLAYERS).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return []
    return [player for player in players if isinstance(player, dict)]


@dataclass
class StandinDcs(asyncio.DatagramProtocol):
    """The game's state and the hook's side of the exchange."""

    folder: Path
    write_folder: Path
    agent_port: int
    mission: str
    state: str = "loading"
    started_at: float = field(default_factory=time.time)
    done: list[str] = field(default_factory=list)
    players: list[dict[str, Any]] = field(default_factory=list)
    transport: asyncio.DatagramTransport | None = None
    _ids: dict[str, int] = field(default_factory=dict)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        try:
            command = json.loads(data.decode("utf-8"))
        except ValueError:
            return
        if isinstance(command, dict):
            self.carry_out(command)

    def carry_out(self, command: dict[str, Any]) -> None:
        instruction_id = command.get("id")
        if not isinstance(instruction_id, str) or instruction_id in self.done:
            return
        if command.get("kind") == "chat" and isinstance(command.get("text"), str):
            self._chat(command["text"])
        elif command.get("kind") == "end_mission":
            self.end_mission()
        else:
            return
        self.done = [*self.done, instruction_id][-MAX_DONE:]
        self.report()

    def start_mission(self) -> None:
        self.state = "running"
        self.started_at = time.time()
        log.info("mission %s running", self.mission)
        self.report()

    def end_mission(self) -> None:
        if self.state != "running":
            return
        self.state = "stopped"
        write_debrief(self.write_folder, self.mission, self.started_at, self.players)
        log.info("mission %s stopped; wrote its Tacview recording and dcs.log", self.mission)

    def take_players(self, listed: list[dict[str, Any]]) -> bool:
        """Follow the players file; True if who is on the server changed."""
        players = []
        for entry in listed if self.state == "running" else []:
            name = str(entry.get("name", ""))
            if not name:
                continue
            player_id = self._ids.setdefault(name, len(self._ids) + 2)
            side = entry.get("side", 0)
            players.append(
                {
                    "id": player_id,
                    "name": name,
                    "side": side if side in (0, 1, 2) else 0,
                    "slot": str(entry.get("slot", "")),
                }
            )
        changed = players != self.players
        self.players = players
        return changed

    def report(self) -> None:
        message = {
            "type": "state",
            "state": self.state,
            "mission": self.mission if self.state != "loading" else "",
            "players": self.players,
            "done": self.done,
        }
        if self.transport is not None:
            self.transport.sendto(json.dumps(message).encode("utf-8"), (HOST, self.agent_port))

    def _chat(self, text: str) -> None:
        line = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "text": text}
        with (self.folder / CHAT).open("a", encoding="utf-8") as chat:
            chat.write(json.dumps(line, ensure_ascii=False) + "\n")


def write_debrief(
    write_folder: Path, mission: str, started_at: float, players: list[dict[str, Any]]
) -> None:
    """The Tacview text recording and the DCS log a mission leaves when it ends."""
    started = datetime.fromtimestamp(started_at, UTC)
    tacview = write_folder / TACVIEW_FOLDER
    tacview.mkdir(parents=True, exist_ok=True)
    name = f"Tacview-{started:%Y%m%d-%H%M%S}-DCS-{_file_safe(mission)}.txt.acmi"
    standin.write_atomically(tacview / name, tacview_recording(mission, started, players))
    logs = write_folder / DCS_LOG
    logs.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        f"{started:%Y-%m-%d %H:%M:%S}.000 INFO    APP: mission {mission} started",
        *(
            f"{started:%Y-%m-%d %H:%M:%S}.000 INFO    NET: player {player['name']} joined"
            for player in players
        ),
        f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S}.000 INFO    APP: mission {mission} stopped",
    ]
    standin.write_atomically(logs, "\n".join(lines) + "\n")


def tacview_recording(mission: str, started: datetime, players: list[dict[str, Any]]) -> str:
    """A Tacview 2.2 text recording: global properties (object 0), then time frames
    (``#<seconds>``) of object lines (``<hex id>,T=lon|lat|alt,…``), then the objects' removal."""
    lines = [
        "FileType=text/acmi/tacview",
        "FileVersion=2.2",
        f"0,ReferenceTime={started:%Y-%m-%dT%H:%M:%SZ}",
        f"0,RecordingTime={datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}",
        f"0,Title={_acmi_text(mission)}",
        "0,DataSource=DCS World (rr stand-in)",
        "0,DataRecorder=rr stand-in DCS",
        "0,ReferenceLongitude=41",
        "0,ReferenceLatitude=41",
        "#0",
    ]
    flying = [player for player in players if player["side"] in (1, 2)]
    for number, player in enumerate(flying, start=1):
        colour = "Red" if player["side"] == 1 else "Blue"
        lines.append(
            f"{number:x},T=0.{number}|0.5|3000|0|0|90,Type=Air+FixedWing,"
            f"Name={_acmi_text(player['slot'] or 'Aircraft')},Pilot={_acmi_text(player['name'])},"
            f"Color={colour}"
        )
    lines.append("#10")
    lines.extend(f"{number:x},T=0.{number}|0.52|3100" for number in range(1, len(flying) + 1))
    lines.append("#20")
    lines.extend(f"-{number:x}" for number in range(1, len(flying) + 1))
    return "\n".join(lines) + "\n"


def _acmi_text(value: str) -> str:
    """A text property: commas and line ends escaped as the format asks."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("\n", "\\\n")


def _file_safe(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9 _.-]", "_", value)[:80] or "mission"


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda match: _LUA_ESCAPES.get(match.group(1), match.group(1)), text)


async def play(folder: Path, write_folder: Path) -> str:
    """Run the game until the instance's deadline or a signal; returns why it stopped."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    ports = hook_ports(write_folder)
    mission = mission_name(write_folder)
    if ports is None:
        log.warning("no rr hook under %s: nothing is reported", write_folder / HOOK_FILE)
        return await standin.wait_for_end(folder, stop)
    agent_port, hook_port = ports
    game = StandinDcs(folder, write_folder, agent_port, mission)
    transport, _ = await loop.create_datagram_endpoint(lambda: game, local_addr=(HOST, hook_port))
    game.transport = transport
    log.info("loading mission %s; hook on port %d", mission, hook_port)
    try:
        game.report()
        return await _run(game, folder, stop)
    finally:
        transport.close()


async def _run(game: StandinDcs, folder: Path, stop: asyncio.Event) -> str:
    loaded_at = time.monotonic() + LOAD_SECONDS
    reported_at = time.monotonic()
    while standin.read_deadline(folder) > time.time():
        if game.state == "loading" and time.monotonic() >= loaded_at:
            game.start_mission()
            reported_at = time.monotonic()
        changed = game.take_players(read_players(folder))
        if changed or time.monotonic() - reported_at >= REPORT_EVERY:
            game.report()
            reported_at = time.monotonic()
        try:
            await asyncio.wait_for(stop.wait(), timeout=POLL_SECONDS)
        except TimeoutError:
            continue
        return "signal"
    return "deadline"


def main(argv: list[str] | None = None) -> int:
    """``FOLDER`` then DCS's own options (``--server --norender -w NAME``), which it accepts."""
    arguments = sys.argv[1:] if argv is None else argv
    if not arguments:
        print(
            "usage: python -m bot.cloud.standin_dcs INSTANCE_FOLDER [DCS options]", file=sys.stderr
        )
        return 2
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s DCS %(message)s", stream=sys.stderr, force=True
    )
    folder = Path(arguments[0])
    reason = asyncio.run(play(folder, folder / standin.FILES))
    log.info("DCS stopped (%s)", reason)
    return 0


if __name__ == "__main__":
    sys.exit(main())
