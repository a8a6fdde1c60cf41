"""DCS's server-side hook environment, faked from DCS's own documentation, in a real Lua 5.1.

What a hook sees (``API/DCS_ControlAPI.html`` shipped with DCS, and DCSServerBot's hooks, which
use the same calls): ``DCS.setUserCallbacks``, ``DCS.getMissionName``, ``DCS.getRealTime``,
``DCS.stopMission``; ``net.get_player_list`` (ids, the server's own id 1 included),
``net.get_player_info(id)`` (a table with ``id``, ``name``, ``side`` 0/1/2, ``slot``, ``ping``,
``ipaddr``, ``ucid``; nil for an id not connected), ``net.send_chat(text, all)``,
``net.lua2json`` / ``net.json2lua``; ``log.write(subsystem, level, message)``; and LuaSocket
through ``require("socket")``, here backed by real UDP sockets on loopback, so a test can talk
to the hook exactly as the agent does.

The game itself is a few Python fields a test sets (players, the mission name, real time) and
the callbacks a test fires, in any order it likes.
"""

from __future__ import annotations

import json
import socket
from typing import Any

import lupa.lua51 as lua51

SERVER_ID = 1
RECEIVE_SIZE = 65535


class FakeDcs:
    def __init__(self, hook_source: bytes) -> None:
        self.lua = lua51.LuaRuntime(
            encoding=None, unpack_returned_tuples=True, register_eval=False, register_builtins=False
        )
        self.players: dict[int, dict[str, Any]] = {
            SERVER_ID: {"id": SERVER_ID, "name": "Server", "side": 0, "slot": ""}
        }
        self.mission_name = ""
        self.real_time = 0.0
        self.chats: list[tuple[str, bool]] = []
        self.missions_stopped = 0
        self.logs: list[tuple[str, int, str]] = []
        self.callbacks: Any = None
        self.sockets: list[socket.socket] = []
        self.failing: set[str] = set()
        """Names of API functions that raise (to test a hook that must not)."""
        self._install()
        self.lua.execute(hook_source)

    # --- what a test does ---------------------------------------------------------------------

    def connect(self, player_id: int, name: str | bytes, side: int = 0, slot: Any = "") -> None:
        self.players[player_id] = {"id": player_id, "name": name, "side": side, "slot": slot}

    def disconnect(self, player_id: int) -> None:
        self.players.pop(player_id, None)

    def fire(self, callback: str, *arguments: Any) -> None:
        """Call one of the hook's callbacks as DCS would; a callback it did not set is skipped."""
        handler = self.callbacks[callback.encode()]
        if handler is not None:
            handler(*arguments)

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()

    # --- the API ------------------------------------------------------------------------------

    def _install(self) -> None:
        lua = self.lua
        g = lua.globals()
        g.DCS = lua.table_from(
            {
                b"setUserCallbacks": self._set_user_callbacks,
                b"getMissionName": lambda: self._api("getMissionName", _bytes(self.mission_name)),
                b"getRealTime": lambda: self.real_time,
                b"stopMission": self._stop_mission,
            }
        )
        g.net = lua.table_from(
            {
                b"get_player_list": self._get_player_list,
                b"get_player_info": self._get_player_info,
                b"send_chat": self._send_chat,
                b"lua2json": self._lua2json,
                b"json2lua": self._json2lua,
                b"log": lambda message: self.logs.append(("net", 0, _text(message))),
            }
        )
        g.log = lua.table_from(
            {
                b"ERROR": 2,
                b"WARNING": 4,
                b"INFO": 8,
                b"write": lambda subsystem, level, message: self.logs.append(
                    (_text(subsystem), int(level), _text(message))
                ),
            }
        )
        socket_module = lua.table_from({b"udp": self._udp})
        g.require = lambda name: socket_module if name == b"socket" else _missing(name)

    def _api(self, name: str, value: Any) -> Any:
        if name in self.failing:
            raise RuntimeError(f"{name} failed")
        return value

    def _set_user_callbacks(self, callbacks: Any) -> None:
        self.callbacks = callbacks

    def _stop_mission(self) -> None:
        self.missions_stopped += 1

    def _get_player_list(self) -> Any:
        ids = self._api("get_player_list", sorted(self.players))
        return self.lua.table_from(ids)

    def _get_player_info(self, player_id: Any, attribute: Any = None) -> Any:
        info = self._api("get_player_info", self.players.get(int(player_id)))
        if info is None:
            return None
        full = {"ping": 30, "ipaddr": "192.0.2.7:10308", "ucid": f"ucid{player_id}", **info}
        table = {key.encode(): _bytes(value) for key, value in full.items()}
        return table[attribute] if attribute is not None else self.lua.table_from(table)

    def _send_chat(self, text: Any, to_all: Any) -> None:
        self.chats.append((_text(text), bool(to_all)))

    def _lua2json(self, value: Any) -> bytes:
        self._api("lua2json", None)
        return json.dumps(_from_lua(value), ensure_ascii=False).encode("utf-8")

    def _json2lua(self, text: Any) -> Any:
        return self._to_lua(json.loads(text))

    def _to_lua(self, value: Any) -> Any:
        if isinstance(value, dict):
            return self.lua.table_from({_bytes(k): self._to_lua(v) for k, v in value.items()})
        if isinstance(value, list):
            return self.lua.table_from([self._to_lua(item) for item in value])
        return _bytes(value)

    def _udp(self) -> Any:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        self.sockets.append(sock)

        def settimeout(_: Any, seconds: Any) -> int:
            sock.settimeout(float(seconds) if seconds and seconds > 0 else 0.0)
            return 1

        def setsockname(_: Any, host: bytes, port: Any) -> Any:
            try:
                sock.bind((host.decode(), int(port)))
            except OSError as error:
                return None, str(error).encode()
            return 1

        def sendto(_: Any, data: bytes, host: bytes, port: Any) -> Any:
            try:
                return sock.sendto(data, (host.decode(), int(port)))
            except OSError as error:
                return None, str(error).encode()

        def receive(_: Any, size: Any = None) -> Any:
            try:
                return sock.recv(int(size) if size else RECEIVE_SIZE)
            except (BlockingIOError, TimeoutError):
                return None, b"timeout"
            except OSError as error:
                return None, str(error).encode()

        return self.lua.table_from(
            {
                b"settimeout": settimeout,
                b"setsockname": setsockname,
                b"sendto": sendto,
                b"receive": receive,
                b"close": lambda _: sock.close(),
            }
        )


def _missing(name: bytes) -> None:
    raise RuntimeError(f"module {name.decode()!r} not found")


def _bytes(value: Any) -> Any:
    return value.encode("utf-8") if isinstance(value, str) else value


def _text(value: Any) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def _from_lua(value: Any) -> Any:
    """A Lua value as DCS's lua2json sees it: a table with keys 1..n is an array, any other
    table (the empty one included) an object; strings are UTF-8 text."""
    if lua51.lua_type(value) == "table":
        items = dict(value.items())
        keys = list(items)
        if (
            keys
            and all(isinstance(k, int) for k in keys)
            and sorted(keys) == list(range(1, len(keys) + 1))
        ):
            return [_from_lua(items[k]) for k in sorted(keys)]
        return {_text(k): _from_lua(v) for k, v in items.items()}
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value
