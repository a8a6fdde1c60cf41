"""Lua table literals read as data, never run.

The mission editor writes `mission`, `dictionary` and the other files of a .miz as Lua
assignments of literal tables (`mission = { ["theatre"] = "Caucasus", ... }`). DCS loads them
with its Lua interpreter, so a hostile file could hide code in them; this reader accepts only
what the editor writes and refuses everything else:

- statements `name = value`;
- values: tables, double- or single-quoted strings (Lua 5.1 escapes), decimal or `0x` numbers
  with an optional minus, `true`, `false`, `nil`;
- table fields `[string] = value`, `[number] = value`, `name = value` and positional values,
  separated by `,` or `;`;
- `--` line comments and whitespace between tokens.

Long strings (`[[...]]`), block comments, names used as values, operators and calls are refused.

The input arrives in chunks and is matched one table field at a time by a regular expression
whose repetitions are possessive (they never backtrack), so time is linear in its size. Tables
are tracked on an explicit stack whose depth is limited, so no nesting reaches Python's own
stack. Only the parts named by a `Keep` tree are built as Python values (everything else is
checked and dropped), which bounds memory by what the caller keeps, not by the file's size.
A kept table of scalars only (a unit, of which only its skill and type are kept) is read in one
match of a pattern built for it, and a table of such tables (a group's units) one such field at
a time without the general loop: that is most of a large mission. What those patterns do not
accept, or a limit reached on the way, is read field by field, so the two readings agree.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final, TypeAlias

from bot.dcs.lua import LUA_RESERVED_WORDS, is_lua_name

LuaKey: TypeAlias = "int | float | str"
LuaTable: TypeAlias = "dict[LuaKey, LuaValue]"
LuaValue: TypeAlias = "bool | int | float | str | LuaTable"


class LuaDataError(ValueError):
    """The text is not a Lua data file this reader accepts; `str()` says why and where."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason if line is None else f"line {line}: {reason}")
        self.reason = reason
        self.line = line


class _AnyKey:
    def __repr__(self) -> str:
        return "ANY"


ANY: Final = _AnyKey()
"""A `Keep.fields` key matching every key the table has."""


@dataclass(frozen=True, slots=True)
class Keep:
    """Which part of a table to build.

    `fields` None keeps the whole table; otherwise only the keys it names (or every key, under
    `ANY`), each with its own `Keep`. A scalar is kept when its key is named at all. When a kept
    table ends, `reduce` (if given) replaces it by what it returns; None drops it, so a caller
    can keep, say, only the units flown by players among thousands of units.
    """

    fields: Mapping[LuaKey | _AnyKey, Keep] | None = None
    reduce: Callable[[LuaTable], LuaValue | None] | None = None
    by_token: Mapping[bytes, tuple[str, Keep]] | None = field(init=False, repr=False, compare=False)
    """`fields` by how their string keys are spelled in the file, to skip the other fields of
    a kept table without decoding their keys; None when `ANY` is among the fields."""
    record: re.Pattern[bytes] | None = field(init=False, repr=False, compare=False)
    """For a table keeping only scalars under string keys (a unit's skill and type): a pattern
    reading such a table in one match, its groups holding the kept values by `fields` order."""
    records: re.Pattern[bytes] | None = field(init=False, repr=False, compare=False)
    """For a table of such tables under any key (a group's units): a pattern reading one of
    its fields, with the separator before it, its number key if any, then the record's groups."""

    def __post_init__(self) -> None:
        by_token = None
        if self.fields is not None and ANY not in self.fields:
            by_token = {
                spelling: (key, keep)
                for key, keep in self.fields.items()
                if isinstance(key, str)
                for spelling in _spellings(key)
            }
        object.__setattr__(self, "by_token", by_token)
        object.__setattr__(self, "record", _record_pattern(self.fields) if self.fields else None)
        each = self.fields.get(ANY) if self.fields is not None and len(self.fields) == 1 else None
        records = None
        if each is not None and each.record is not None:
            records = re.compile(_RECORD_FIELD + each.record.pattern, re.DOTALL)
        object.__setattr__(self, "records", records)


WHOLE: Final = Keep()


@dataclass(frozen=True, slots=True)
class LuaLimits:
    max_depth: int = 100
    """Tables inside tables; DCS's own Lua parser stops near 200."""
    max_value_bytes: int = 4 * 1024 * 1024
    """The longest single field (a string, with the gap before it) the reader holds at once."""
    max_kept_values: int = 100_000
    """Values built for the caller at any one time, to bound memory on hostile files."""


_SPACE = rb"[ \t\n\r\f\v]*+"
_LINE_COMMENT = rb"--(?!\[=*+\[)[^\r\n]*+"
_SKIP = _SPACE + rb"(?:" + _LINE_COMMENT + _SPACE + rb")*+"
_ESCAPED = rb"\\(?:\r\n|\n\r|[01][0-9]{2}|2[0-4][0-9]|25[0-5]|[0-9]{1,2}(?![0-9])|[^0-9])"
"""Lua 5.1's escapes: a decimal one (up to three digits) must stay within \\255."""
_ANY_ESCAPE = rb"\\(?:\r\n|\n\r|.)"


def _quoted(escape: bytes) -> bytes:
    return (
        rb'"[^"\\\r\n]*+(?:' + escape + rb'[^"\\\r\n]*+)*+"'
        rb"|'[^'\\\r\n]*+(?:" + escape + rb"[^'\\\r\n]*+)*+'"
    )


_QUOTED = _quoted(_ESCAPED)
_NUMERAL = (
    rb"(?:0[xX][0-9A-Fa-f]{1,16}+"
    rb"|(?:[0-9]{1,64}+(?:\.[0-9]{0,64}+)?+|\.[0-9]{1,64}+)(?:[eE][+-]?+[0-9]{1,4}+)?+)"
    rb"(?![\w.])"
)
_NUMBER = rb"(?:-" + _SKIP + rb")?+" + _NUMERAL
_NAME = rb"[A-Za-z_][A-Za-z0-9_]*+"
_KEY = (
    rb"(?:\["
    + _SKIP
    + rb"(?:(?P<kstr>"
    + _QUOTED
    + rb")|(?P<knum>"
    + _NUMBER
    + rb"))"
    + _SKIP
    + rb"\]|(?P<kname>"
    + _NAME
    + rb"))"
    + _SKIP
    + rb"="
    + _SKIP
)
_VALUE = (
    rb"(?P<vstr>" + _QUOTED + rb")|(?P<vnum>" + _NUMBER + rb")"
    rb"|(?P<vkw>true|false|nil)(?!\w)|(?P<open>\{)"
)
_ENTRY = re.compile(
    _SKIP + rb"(?:(?P<sep>[,;])" + _SKIP + rb")?+"
    rb"(?:(?:" + _KEY + rb")?(?:" + _VALUE + rb")|(?P<close>\}))",
    re.DOTALL,
)
"""One table field (or a closing brace), with the gap and separator before it."""
_LEAD = re.compile(_SKIP + rb"(?:[,;]" + _SKIP + rb")?+(?:" + _KEY + rb")?+", re.DOTALL)
"""What an entry that cannot be read starts with, to point at what follows."""
_PLAIN_QUOTED = rb'(?:"[^"\\\r\n]*+"|\'[^\'\\\r\n]*+\')'
"""A quoted string without escapes: one whose spelling is its text."""
_SCALAR = _QUOTED + rb"|" + _NUMBER + rb"|(?:true|false|nil)(?!\w)"


def _table_of(field_pattern: bytes) -> bytes:
    """A table of fields matching `field_pattern`, separated as Lua allows: each field is
    followed by a separator or by the closing brace. The field is written once, so that a
    group in it is numbered once."""
    return (
        rb"\{"
        + _SKIP
        + rb"(?:(?:"
        + field_pattern
        + rb")"
        + _SKIP
        + rb"(?:[,;]"
        + _SKIP
        + rb"|(?=\}))"
        + rb")*+\}"
    )


_FLAT_TABLE = _table_of(
    rb"(?:\["
    + _SKIP
    + rb"(?:"
    + _QUOTED
    + rb"|"
    + _NUMBER
    + rb")"
    + _SKIP
    + rb"\]"
    + _SKIP
    + rb"="
    + _SKIP
    + rb")?+(?:"
    + _SCALAR
    + rb")"
)
"""A table of scalars under bracketed keys or none: what a record may hold and not keep."""


def _record_pattern(fields: Mapping[LuaKey | _AnyKey, Keep] | None) -> re.Pattern[bytes] | None:
    """`Keep.record` for `fields`, or None when they are not all scalars under plain keys.

    The pattern accepts a subset of what the field-by-field reading accepts, with the same
    meaning (a repeated key keeps its last value that is not nil); anything else, such as an
    escaped key that might spell a kept one, fails to match and is read field by field.
    """
    if not fields or not all(
        isinstance(key, str) and keep.fields is None and keep.reduce is None
        for key, keep in fields.items()
    ):
        return None
    spellings = [[s for s in _spellings(str(key)) if s[:1] in b"\"'"] for key in fields]
    if not all(spellings):
        return None
    kept = [
        rb"\["
        + _SKIP
        + rb"(?:"
        + b"|".join(map(re.escape, spelled))
        + rb")"
        + _SKIP
        + rb"\]"
        + _SKIP
        + rb"="
        + _SKIP
        + rb"(?:nil(?!\w)|("
        + _SCALAR
        + rb"))"
        for spelled in spellings
    ]
    other = (
        rb"\["
        + _SKIP
        + rb"(?!"
        + b"|".join(re.escape(s) for spelled in spellings for s in spelled)
        + rb")"
        + _PLAIN_QUOTED
        + _SKIP
        + rb"\]"
        + _SKIP
        + rb"="
        + _SKIP
        + rb"(?:"
        + _SCALAR
        + rb"|"
        + _FLAT_TABLE
        + rb")"
    )
    return re.compile(_table_of(b"|".join([other, *kept])), re.DOTALL)


_RECORD_FIELD = (
    _SKIP
    + rb"(?:([,;])"
    + _SKIP
    + rb")?+(?:\["
    + _SKIP
    + rb"([0-9]{1,9}+)"
    + _SKIP
    + rb"\]"
    + _SKIP
    + rb"="
    + _SKIP
    + rb")?+"
)
"""What comes before a record in `Keep.records`: a separator, and a plain number key."""
_LENIENT_QUOTED = re.compile(_quoted(_ANY_ESCAPE), re.DOTALL)
_END = re.compile(_SKIP + rb"\Z")
_NUMERAL_AT_END = re.compile(_NUMERAL + rb"\Z")
_ESCAPE = re.compile(rb"\\(?:([0-9]{1,3})|(\r\n|\n\r|\n|\r)|(.))", re.DOTALL)
_ESCAPED_LETTERS = {b"a": b"\a", b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r"} | {
    b"t": b"\t",
    b"v": b"\v",
}
_KEYWORDS: dict[bytes, bool | None] = {b"true": True, b"false": False, b"nil": None}
_WHITESPACE = b" \t\n\r\f\v"
_RESERVED = frozenset(word.encode() for word in LUA_RESERVED_WORDS)
_SHOWN = re.compile(rb"[A-Za-z0-9_.]{1,24}|[!-~]")


def parse_lua_data(
    chunks: Iterable[bytes], keep: Mapping[str, Keep], limits: LuaLimits = LuaLimits()
) -> dict[str, LuaValue]:
    """The globals named in `keep` that the statements in `chunks` assign, built as `keep` says.

    Raises `LuaDataError` at the first thing that is not plain data or breaks a limit.
    """
    parser = _Parser(keep, limits)
    buffer = b""
    chunk_iterator = iter(chunks)
    final = False
    while not final:
        # Ask for twice what is held, so that re-reading a long field stays linear in time.
        parts, wanted = [buffer], 2 * len(buffer) + 1
        while wanted > 0:
            chunk = next(chunk_iterator, None)
            if chunk is None:
                final = True
                break
            parts.append(chunk)
            wanted -= len(chunk)
        buffer = b"".join(parts)
        consumed = parser.feed(buffer, final)
        parser.line += buffer.count(b"\n", 0, consumed)
        buffer = buffer[consumed:]
        if len(buffer) > limits.max_value_bytes:
            raise _unreadable(buffer, 0, limits, parser.line)
    return parser.globals


@dataclass(slots=True)
class _Frame:
    """A table being built for the caller."""

    key: LuaKey
    keep: Keep
    kept_before: int
    table: LuaTable = field(default_factory=dict)
    count: int = 0
    """Positional fields so far: the next one's key is count + 1."""


class _Parser:
    def __init__(self, keep: Mapping[str, Keep], limits: LuaLimits) -> None:
        self.globals: dict[str, LuaValue] = {}
        self.line = 1
        self._keep = keep
        self._limits = limits
        self._frames: list[_Frame] = []
        self._skipped = 0
        """Open tables inside a table nobody keeps: only counted."""
        self._after_field = False
        self._kept = 0

    def feed(self, buffer: bytes, final: bool) -> int:
        """Read whole fields from `buffer`; return where the first incomplete one starts."""
        position = self._fields(buffer, final)
        if final:
            self._finish(buffer, position)
        return position

    def _fields(self, buffer: bytes, final: bool) -> int:
        # The hot loop. Most fields are in tables nobody keeps, or are fields of a kept table
        # that nobody asked for (`by_token` says so without decoding the key): those paths do
        # the least and call nothing.
        match = _ENTRY.match
        size = len(buffer)
        frames = self._frames
        max_depth = self._limits.max_depth
        skipped = self._skipped
        after_field = self._after_field
        by_token = frames[-1].keep.by_token if frames else None
        records = frames[-1].keep.records if frames and not skipped else None
        position = 0
        found = None
        try:
            while True:
                if records is not None and len(frames) + 1 < max_depth:
                    position, after_field = self._records(buffer, position, final, after_field)
                found = match(buffer, position)
                if found is None:
                    return position
                end = found.end()
                if end == size and not final:
                    return position
                sep, kstr, knum, kname, vstr, vnum, vkw, opened, closed = found.groups()
                if not frames and not skipped:
                    skipped = self._statement(found)
                    after_field = False
                elif closed is not None:
                    if sep is not None and not after_field:
                        raise LuaDataError(f"unexpected '{sep.decode()}'")
                    if skipped:
                        skipped -= 1
                    else:
                        self._close()
                    after_field = True
                else:
                    if sep is None:
                        if after_field:
                            raise LuaDataError("a ',' is missing between two fields")
                    elif not after_field:
                        raise LuaDataError(f"unexpected '{sep.decode()}'")
                    if kname is not None and kname in _RESERVED:
                        raise LuaDataError(f"'{kname.decode()}' cannot be a field name")
                    if opened is not None and len(frames) + skipped >= max_depth:
                        raise LuaDataError(f"tables are nested more than {max_depth} deep")
                    after_field = opened is None
                    if skipped or (
                        by_token is not None
                        and kstr is not None
                        and kstr not in by_token
                        and b"\\" not in kstr
                    ):
                        skipped += not after_field
                    else:
                        depth = len(frames)
                        skipped += self._field(kstr, knum, kname, vstr, vnum, vkw, opened)
                        if depth < len(frames) < max_depth:
                            end = self._record(buffer, end - 1, final)
                            after_field = len(frames) == depth
                if not skipped:
                    by_token = frames[-1].keep.by_token if frames else None
                records = frames[-1].keep.records if frames and not skipped else None
                position = end
        except LuaDataError as error:
            if error.line is not None:
                raise
            assert found is not None  # the error is about the field just found
            field_text = found.group()
            token = position + len(field_text) - len(field_text.lstrip(_WHITESPACE))
            raise LuaDataError(error.reason, self.line + buffer.count(b"\n", 0, token)) from None
        finally:
            self._skipped = skipped
            self._after_field = after_field

    def _field(
        self,
        kstr: bytes | None,
        knum: bytes | None,
        kname: bytes | None,
        vstr: bytes | None,
        vnum: bytes | None,
        vkw: bytes | None,
        opened: bytes | None,
    ) -> int:
        """A field of a kept table; 1 when it opens a table nobody keeps, else 0."""
        frame = self._frames[-1]
        key: LuaKey
        keep: Keep | None
        spelled = kstr if kname is None else kname
        by_token = frame.keep.by_token
        if by_token is not None and spelled is not None and b"\\" not in spelled:
            named = by_token.get(spelled)
            if named is None:
                return 1 if opened is not None else 0
            key, keep = named
        else:
            if kstr is not None:
                key = _string(kstr)
            elif knum is not None:
                key = _key_number(knum)
            elif kname is not None:
                key = kname.decode("ascii")
            else:
                frame.count += 1
                key = frame.count
            fields = frame.keep.fields
            keep = WHOLE if fields is None else fields.get(key) or fields.get(ANY)
            if keep is None:
                return 1 if opened is not None else 0
        if opened is not None:
            self._frames.append(_Frame(key, keep, self._kept))
            return 0
        value = _scalar(vstr, vnum, vkw)
        if value is not None:
            self._store(frame.table, key, value)
        return 0

    def _record(self, buffer: bytes, start: int, final: bool) -> int:
        """Read the table just opened at `start` in one match when its `Keep.record` can;
        return where reading goes on: past the table, or inside it when it could not."""
        frame = self._frames[-1]
        record = frame.keep.record
        if record is None:
            return start + 1
        found = record.match(buffer, start)
        if found is None or (found.end() == len(buffer) and not final):
            return start + 1
        assert frame.keep.fields is not None  # a record has fields
        try:
            for key, token in zip(frame.keep.fields, found.groups(), strict=True):
                if token is not None:
                    self._store(frame.table, str(key), _value(token))
            self._close()
        except LuaDataError:
            # A limit was reached: read field by field, to say so where that reading would.
            if not self._frames or self._frames[-1] is not frame:
                self._frames.append(frame)
            frame.table.clear()
            self._kept = frame.kept_before
            return start + 1
        return found.end()

    def _records(
        self, buffer: bytes, position: int, final: bool, after_field: bool
    ) -> tuple[int, bool]:
        """Read the fields at `position` that `Keep.records` of the table being built accepts,
        as the field-by-field reading would; return where reading goes on, and whether a
        field was just read. Stops at anything else, which the field-by-field reading takes."""
        frame = self._frames[-1]
        pattern = frame.keep.records
        fields = frame.keep.fields
        assert pattern is not None and fields is not None  # only for a table with records
        each = fields[ANY]
        assert each.fields is not None  # a record has fields
        names = [str(name) for name in each.fields]
        size = len(buffer)
        while True:
            found = pattern.match(buffer, position)
            if found is None or (found.end() == size and not final):
                return position, after_field
            sep, number, *tokens = found.groups()
            if (sep is None) == after_field:
                return position, after_field
            if number is None:
                frame.count += 1
                key = frame.count
            else:
                key = int(number)
            kept_before = self._kept
            table: LuaTable = {}
            try:
                for name, token in zip(names, tokens, strict=True):
                    if token is not None:
                        self._store(table, name, _value(token))
                value: LuaValue | None = table
                if each.reduce is not None:
                    value = each.reduce(table)
                    if value is not table:
                        self._kept = kept_before
                if value is not None:
                    self._store(frame.table, key, value)
            except LuaDataError:
                # A limit was reached: read field by field, to say so where that reading would.
                self._kept = kept_before
                frame.count -= number is None
                return position, after_field
            position, after_field = found.end(), True

    def _statement(self, found: re.Match[bytes]) -> int:
        """A global assignment; 1 when it opens a table nobody keeps, else 0."""
        sep, _, _, name, vstr, vnum, vkw, opened, _ = found.groups()
        if sep is not None or name is None or name in _RESERVED:
            shown = _shown(found.group(0).lstrip(_WHITESPACE))
            raise LuaDataError(f"expected 'name = value' but found '{shown}'")
        key = name.decode("ascii")
        keep = self._keep.get(key)
        if opened is not None:
            if keep is None:
                return 1
            self._frames.append(_Frame(key, keep, self._kept))
        elif keep is not None:
            value = _scalar(vstr, vnum, vkw)
            if value is None:
                self.globals.pop(key, None)
            else:
                self.globals[key] = value
        return 0

    def _close(self) -> None:
        frame = self._frames.pop()
        value: LuaValue | None = frame.table
        if frame.keep.reduce is not None:
            value = frame.keep.reduce(frame.table)
            if value is not frame.table:
                self._kept = frame.kept_before
        if value is None:
            return
        if self._frames:
            self._store(self._frames[-1].table, frame.key, value)
        else:
            self.globals[str(frame.key)] = value

    def _store(self, table: LuaTable, key: LuaKey, value: LuaValue) -> None:
        self._kept += 1
        if self._kept > self._limits.max_kept_values:
            raise LuaDataError(f"more than {self._limits.max_kept_values:,} values to read")
        table[key] = value

    def _finish(self, buffer: bytes, position: int) -> None:
        if not _END.match(buffer, position):
            raise _unreadable(buffer, position, self._limits, self.line)
        if self._frames or self._skipped:
            raise LuaDataError("the text ends inside a table", self.line + buffer.count(b"\n"))


def _unreadable(buffer: bytes, position: int, limits: LuaLimits, line: int) -> LuaDataError:
    """Why no field can be read at `position` (`line` is that of `buffer[0]`)."""
    lead = _LEAD.match(buffer, position)
    assert lead is not None  # every part of _LEAD is optional
    rest = buffer[lead.end() :]
    if rest[:1] in (b'"', b"'"):
        if len(rest) > limits.max_value_bytes:
            reason = f"a string is longer than {limits.max_value_bytes:,} bytes"
        elif _LENIENT_QUOTED.match(rest):
            reason = "a string has a decimal escape beyond \\255"
        else:
            reason = "a string is not closed on the line it starts"
    else:
        reason = f"unexpected '{_shown(rest)}'" if rest else "the text ends inside a field"
    return LuaDataError(reason, line + buffer.count(b"\n", 0, lead.end()))


def _spellings(key: str) -> list[bytes]:
    """How a string key can be written without escapes: quoted either way, or bare."""
    raw = key.encode()
    spellings = [quote + raw + quote for quote in (b'"', b"'") if quote not in raw]
    if is_lua_name(key):
        spellings.append(raw)
    return [token for token in spellings if not any(c in token for c in b"\\\r\n")]


def _scalar(vstr: bytes | None, vnum: bytes | None, vkw: bytes | None) -> LuaValue | None:
    if vstr is not None:
        return _string(vstr)
    if vnum is not None:
        return _number(vnum)
    return _KEYWORDS[vkw or b"nil"]


def _value(token: bytes) -> LuaValue:
    """The value of a scalar token that is not nil."""
    if token[:1] in (b'"', b"'"):
        return _string(token)
    keyword = _KEYWORDS.get(token)
    return _number(token) if keyword is None else keyword


def _string(token: bytes) -> str:
    """The text of a quoted string token; invalid UTF-8 becomes U+FFFD."""
    raw = token[1:-1]
    if b"\\" in raw:
        raw = _ESCAPE.sub(_unescape, raw)
    return raw.decode("utf-8", "replace")


def _unescape(escape: re.Match[bytes]) -> bytes:
    digits, newline, other = escape.groups()
    if digits is not None:
        return bytes((int(digits),))  # _ESCAPED keeps it within 255
    if newline is not None:
        return b"\n"
    return _ESCAPED_LETTERS.get(other, other)


def _number(token: bytes) -> int | float:
    numeral_match = _NUMERAL_AT_END.search(token)
    assert numeral_match is not None  # _NUMBER ends with _NUMERAL
    numeral = numeral_match.group()
    value: int | float
    if numeral[:2] in (b"0x", b"0X"):
        value = int(numeral, 16)
    elif any(mark in numeral for mark in b".eE"):
        value = float(numeral)
    else:
        value = int(numeral)
    return -value if token.startswith(b"-") else value


def _key_number(token: bytes) -> int | float:
    """Lua has one number type: [1] and [1.0] are the same key."""
    if token.isdigit():
        return int(token)
    value = _number(token)
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _shown(text: bytes) -> str:
    """A short printable-ASCII excerpt of `text` for a message."""
    found = _SHOWN.match(text)
    return found.group().decode("ascii") if found else f"\\{text[0]}" if text else ""
