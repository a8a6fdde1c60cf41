"""A real Lua 5.1 (lupa.lua51) running generated chunks with nothing but the globals they define.

Values come back tagged with their Lua type, so a test compares type and value at once:
("boolean", True), ("number", 16.0), ("string", "text"), and tables as dicts keyed by tagged
keys, so `[1]` and `["1"]` stay different.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import lupa.lua51 as lua51

# The chunk gets an empty environment (no os, io, require, load, debug, ...). The instruction
# hook bounds its run time, so a chunk that escaped its string could not hang the tests.
_RUNNER = """
function(source, env)
  local chunk, message = loadstring(source, "=generated")
  if not chunk then error(message, 0) end
  setfenv(chunk, env)
  debug.sethook(function() error("instruction budget exhausted", 0) end, "", 1000000)
  local ok, failure = pcall(chunk)
  debug.sethook()
  if not ok then error(failure, 0) end
  return env
end
"""
_IPAIRS_LENGTH = "function(t) local n = 0 for _ in ipairs(t) do n = n + 1 end return n end"

Tagged = tuple[str, Any] | dict[Any, Any]


class LuaSandbox:
    def __init__(self) -> None:
        self._lua = lua51.LuaRuntime(encoding=None, register_eval=False, register_builtins=False)
        self._run = self._lua.eval(_RUNNER)
        self._ipairs_length = self._lua.eval(_IPAIRS_LENGTH)
        self.version = self._lua.eval("_VERSION").decode()

    def run(self, source: bytes, tables: Sequence[str] = ()) -> Any:
        """Run `source`; return its environment (a Lua table).

        `tables` names empty tables the chunk expects to exist, such as `lotatc_inst`.
        """
        env = self._lua.table()
        for name in tables:
            env[name.encode()] = self._lua.table()
        return self._run(source, env)

    def globals_of(self, source: bytes, tables: Sequence[str] = ()) -> Any:
        """Every global the chunk left behind, tagged with Lua types."""
        return tag_lua(self.run(source, tables))

    def ipairs_length(self, table: Any) -> int:
        """How many items Lua's ipairs visits: the length of the contiguous 1-based array part."""
        return int(self._ipairs_length(table))


def tag_lua(value: Any) -> Tagged:
    """A Lua value as lupa returns it, tagged with its Lua type."""
    if lua51.lua_type(value) == "table":
        return {tag_lua(key): tag_lua(item) for key, item in value.items()}
    if isinstance(value, bool):
        return ("boolean", value)
    if isinstance(value, int | float):
        return ("number", float(value))
    if isinstance(value, bytes):
        return ("string", value.decode("utf-8"))
    raise AssertionError(f"unexpected Lua value {value!r}")


def tag_expected(value: Any) -> Tagged:
    """A Python value tagged with the Lua type it must have; lists become 1-based tables."""
    if isinstance(value, bool):
        return ("boolean", value)
    if isinstance(value, int | float):
        return ("number", float(value))
    if isinstance(value, str):
        return ("string", value)
    if isinstance(value, list | tuple):
        return {("number", float(index)): tag_expected(item) for index, item in enumerate(value, 1)}
    if isinstance(value, Mapping):
        return {("string", key): tag_expected(item) for key, item in value.items()}
    raise AssertionError(f"no Lua type for {value!r}")
