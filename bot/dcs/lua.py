"""Lua 5.1 literals for DCS configuration files.

Values keep their types: booleans are bare `true`/`false`, numbers are numbers, strings are
double-quoted. Strings escape the backslash, the quote and every control character (newlines
as `\\n`/`\\r`, others as three-digit decimal `\\ddd`), so nothing can end the string early;
other characters, non-ASCII included, are written as they are and reach the file as UTF-8. No
`\\x` or `\\u{}` escapes are used: Lua 5.1 has neither. Map keys are written in sorted order,
bare when they are identifiers and bracketed otherwise; sequences become 1-based contiguous
arrays with explicit indices, so the output is deterministic.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import TypeAlias

LuaValue: TypeAlias = "bool | int | float | str | Sequence[LuaValue] | Mapping[str, LuaValue]"

LUA_RESERVED_WORDS = frozenset(
    {
        "and",
        "break",
        "do",
        "else",
        "elseif",
        "end",
        "false",
        "for",
        "function",
        "goto",
        "if",
        "in",
        "local",
        "nil",
        "not",
        "or",
        "repeat",
        "return",
        "then",
        "true",
        "until",
        "while",
    }
)
"""Lua 5.1's reserved words plus `goto`, reserved since 5.2, in case DCS's Lua is newer."""

LARGEST_EXACT_INTEGER = 2**53
"""Lua 5.1 numbers are doubles; integers beyond this would silently change."""

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ESCAPES = {code: f"\\{code:03d}" for code in [*range(0x20), 0x7F]} | {
    ord("\\"): "\\\\",
    ord('"'): '\\"',
    ord("\n"): "\\n",
    ord("\r"): "\\r",
    ord("\t"): "\\t",
}
_INDENT = "\t"


def is_lua_name(text: str) -> bool:
    """Whether `text` can be written as a bare Lua name (`name = ...`, `a.b`)."""
    return _IDENTIFIER.fullmatch(text) is not None and text not in LUA_RESERVED_WORDS


def lua_string(text: str) -> str:
    """A double-quoted Lua string literal whose value is exactly `text`."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(
            "Lua strings must be valid Unicode text without lone surrogates."
        ) from None
    return '"' + text.translate(_ESCAPES) + '"'


def lua_number(number: int | float) -> str:
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueError(f"Lua numbers must be finite, not {number!r}.")
    if isinstance(number, int) and abs(number) > LARGEST_EXACT_INTEGER:
        raise ValueError(f"{number} is too large to survive as a Lua number; write it as text.")
    return repr(number)


def lua_literal(value: LuaValue, depth: int = 0) -> str:
    """The Lua source for `value`; tables span lines, indented by tabs from `depth`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return lua_number(value)
    if isinstance(value, str):
        return lua_string(value)
    if isinstance(value, Mapping):
        entries = [(_lua_key(key), value[key]) for key in sorted(value, key=_checked_key)]
        return _table(entries, depth)
    if isinstance(value, list | tuple):
        return _table([(f"[{index}]", item) for index, item in enumerate(value, 1)], depth)
    raise TypeError(f"{type(value).__name__} has no Lua literal.")


def lua_assignment(target: str, value: LuaValue) -> str:
    """A statement `target = <value>` followed by a newline; `target` may be dotted (a.b)."""
    if not all(is_lua_name(part) for part in target.split(".")):
        raise ValueError(f"{target!r} is not a Lua variable name.")
    return f"{target} = {lua_literal(value)}\n"


def lua_comment(text: str) -> str:
    """A one-line `--` comment; the space after `--` keeps it from opening a block comment."""
    if not text.isprintable():
        raise ValueError("A Lua comment must be a single printable line.")
    return f"-- {text}\n"


def _checked_key(key: object) -> str:
    if not isinstance(key, str):
        raise TypeError(f"Lua table keys must be strings here, not {type(key).__name__}.")
    return key


def _lua_key(key: str) -> str:
    return key if is_lua_name(key) else f"[{lua_string(key)}]"


def _table(entries: list[tuple[str, LuaValue]], depth: int) -> str:
    if not entries:
        return "{}"
    inner = _INDENT * (depth + 1)
    lines = [f"{inner}{key} = {lua_literal(item, depth + 1)},\n" for key, item in entries]
    return "{\n" + "".join(lines) + _INDENT * depth + "}"
