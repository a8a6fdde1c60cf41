"""The Lua data reader, held to what a real Lua 5.1 makes of the same text."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.dcs.lua import lua_assignment
from bot.files.miz.luadata import (
    ANY,
    WHOLE,
    Keep,
    LuaDataError,
    LuaLimits,
    LuaValue,
    parse_lua_data,
)
from tests.bot.dcs.lua_sandbox import LuaSandbox, Tagged

EVERYTHING = {"x": WHOLE}
DCS_STYLE = b"""mission=
{
\t["coalition"]=
\t{
\t\t["blue"]=
\t\t{
\t\t\t["name"]="blue side \\"one\\"\\
next line",
\t\t\t[1]=-12.5e1,
\t\t\t[2]=0x1F,
\t\t\t[3]=true,
\t\t\t[4]=nil,
\t\t}, -- end of ["blue"]
\t}, -- end of ["coalition"]
\t["theatre"]='Caucasus';
\tsortie = "\\065\\066\\r\\t\\\\",
\t{ 1, 2; .5, 3. },
} -- end of mission
"""


def parse(text: bytes, keep: dict[str, Keep] | None = None, **limits: int) -> Any:
    return parse_lua_data([text], EVERYTHING if keep is None else keep, LuaLimits(**limits))


def tag(value: LuaValue) -> Tagged:
    """Our value tagged like tests.bot.dcs.lua_sandbox tags what Lua returns."""
    if isinstance(value, dict):
        return {tag(key): tag(item) for key, item in value.items()}
    if isinstance(value, bool):
        return ("boolean", value)
    if isinstance(value, int | float):
        return ("number", float(value))
    return ("string", value)


def in_pieces(text: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(text), size):
        yield text[start : start + size]


def test_reads_what_the_mission_editor_writes() -> None:
    assert parse(DCS_STYLE, {"mission": WHOLE}) == {
        "mission": {
            "coalition": {
                "blue": {"name": 'blue side "one"\nnext line', 1: -125.0, 2: 31, 3: True}
            },
            "theatre": "Caucasus",
            "sortie": "AB\r\t\\",
            1: {1: 1, 2: 2, 3: 0.5, 4: 3.0},
        }
    }


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 64])
def test_any_split_into_chunks_reads_the_same(size: int) -> None:
    whole = parse(DCS_STYLE, {"mission": WHOLE})
    assert parse_lua_data(in_pieces(DCS_STYLE, size), {"mission": WHOLE}) == whole


def outcome(chunks: Iterable[bytes]) -> object:
    try:
        return parse_lua_data(chunks, {"mission": WHOLE})
    except LuaDataError as error:
        return str(error)


@given(st.data())
@settings(max_examples=300, deadline=None)
def test_damaged_text_reads_or_fails_the_same_in_any_chunks(data: st.DataObject) -> None:
    damaged = bytearray(DCS_STYLE)
    for _ in range(data.draw(st.integers(1, 6))):
        at = data.draw(st.integers(0, len(damaged) - 1))
        damaged[at] = data.draw(st.sampled_from(b"{}[]\"'\\-=,;0x.e \n\tabc\x00\xff"))
    text = bytes(damaged)
    assert outcome(in_pieces(text, data.draw(st.integers(1, 50)))) == outcome([text])


def test_builds_only_what_is_kept() -> None:
    keep = {"mission": Keep({"theatre": WHOLE, "coalition": Keep({ANY: Keep({"name": WHOLE})})})}
    assert parse(DCS_STYLE, keep) == {
        "mission": {
            "theatre": "Caucasus",
            "coalition": {"blue": {"name": 'blue side "one"\nnext line'}},
        }
    }
    assert parse(DCS_STYLE, {}) == {}


def test_reduce_replaces_or_drops_a_kept_table() -> None:
    text = b"t = {" + b'{ skill = "AI", type = "A" },' * 50 + b"}"
    text = text.replace(b'"AI"', b'"Client"', 2)
    player = Keep(None, lambda unit: unit["type"] if unit["skill"] != "AI" else None)
    keep = {"t": Keep({ANY: player})}
    assert parse(text, keep, max_kept_values=10) == {"t": {1: "A", 2: "A"}}


@given(
    st.recursive(
        st.booleans()
        | st.integers(-(2**53), 2**53)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(),
        lambda children: (
            st.lists(children, max_size=5)
            | st.dictionaries(st.text(max_size=8), children, max_size=5)
        ),
        max_leaves=30,
    )
)
@settings(max_examples=200, deadline=None)
def test_reads_any_literal_exactly_as_lua_does(lua: LuaSandbox, value: Any) -> None:
    source = lua_assignment("x", value).encode()
    assert tag(parse(source)["x"]) == lua.globals_of(source)[("string", "x")]


FRAGMENTS = [
    *(b" ", b"\n", b",", b";", b"=", b"{", b"}", b"[", b"]", b"(", b")", b"-", b".", b"..", b"#"),
    *(b"1", b"0x10", b"1e2", b".5", b"'s'", b'"s"', b'"\\300"', b'"\\65"', b"\\", b"\x00"),
    *(b"true", b"nil", b"x", b"y", b"end", b"function", b"while true do end", b"os.exit()"),
    *(b"--", b"--[[", b"]]", b"[[", b"[=[", b"-- c\n", b'["k"]', b"[1]", b"k =", b"return"),
]


@given(st.lists(st.sampled_from(FRAGMENTS), max_size=12), st.booleans())
@example([b"1", b",", b"1"], True)
@example([b"[[", b"s", b"]]"], True)
@example([b"1", b"..", b"1"], True)
@example([b"x = ", b"-", b"-", b"1"], False)
@settings(max_examples=1500, deadline=None)
def test_accepts_nothing_lua_would_read_differently(
    lua: LuaSandbox, pieces: list[bytes], in_a_table: bool
) -> None:
    """Whatever the reader accepts, Lua loads to the same values: it never reads code as data."""
    source = b"".join(pieces)
    if in_a_table:
        source = b"x = {" + source + b"}"
    try:
        ours = parse(source)
    except LuaDataError:
        return
    try:
        theirs = lua.globals_of(source)
    except Exception as error:
        pytest.fail(f"accepted {source!r}, which Lua refuses: {error}")
    assert (tag(ours["x"]) if "x" in ours else None) == theirs.get(("string", "x"))


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        (b"mission = {} while true do end", "line 1: unexpected 'while'"),
        (b"mission = {\n['a'] = string.rep('x', 2^30)\n}", "line 2: unexpected 'string.rep'"),
        (b'os.execute("rm -rf /")', "line 1: unexpected 'os.execute'"),
        (b"mission = (function() end)()", "unexpected '('"),
        (b"mission = { [[long]] }", "unexpected '['"),
        (b"mission = { --[[ note ]] 1 }", "unexpected '-'"),
        (b"mission = { 1 2 }", "a ',' is missing between two fields"),
        (b"mission = { , 1 }", "unexpected ','"),
        (b"mission = { 1,, }", "unexpected ','"),
        (b"mission = { end = 1 }", "'end' cannot be a field name"),
        (b"mission = { ['a'] = }", "unexpected '}'"),
        (b"mission = { 1..2 }", "unexpected '1..2'"),
        (b"mission = { 12abc }", "unexpected '12abc'"),
        (b'mission = { "\\2555", "\\256" }', "a string has a decimal escape beyond \\255"),
        (b"mission = { 'unclosed }", "a string is not closed on the line it starts"),
        (b"mission = {\n", "line 2: the text ends inside a table"),
        (b"mission = }", "unexpected '}'"),
        (b"\xef\xbb\xbfmission = {}", "unexpected '\\239'"),
    ],
)
def test_refuses_anything_but_data(source: bytes, reason: str) -> None:
    with pytest.raises(LuaDataError) as refused:
        parse(source, {"mission": WHOLE})
    assert reason in str(refused.value)


def test_depth_is_limited_without_recursion() -> None:
    nested = b"x = " + b"{" * 50 + b"}" * 50
    assert parse(nested, max_depth=50)
    with pytest.raises(LuaDataError, match="nested more than 49 deep"):
        parse(nested, max_depth=49)


def test_fifty_megabytes_of_nesting_is_refused_after_the_first_chunk() -> None:
    chunk = b"{" * (256 * 1024)
    pulled = 0

    def hostile() -> Iterator[bytes]:
        nonlocal pulled
        yield b"mission = "
        for _ in range(200):  # 50 MiB
            pulled += len(chunk)
            yield chunk

    tracemalloc.start()
    try:
        with pytest.raises(LuaDataError, match="line 1: tables are nested more than 100 deep"):
            parse_lua_data(hostile(), {"mission": WHOLE})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert pulled == len(chunk)
    assert peak < 4 * len(chunk)


def test_a_value_longer_than_the_limit_is_refused_after_reading_a_bounded_amount() -> None:
    pulled = 0

    def endless_string() -> Iterator[bytes]:
        nonlocal pulled
        yield b'mission = { "'
        while True:
            pulled += 4096
            yield b"a" * 4096

    with pytest.raises(LuaDataError, match="line 1: a string is longer than 65,536 bytes"):
        parse_lua_data(endless_string(), {"mission": WHOLE}, LuaLimits(max_value_bytes=65536))
    assert pulled <= 3 * 65536


def test_kept_values_are_limited() -> None:
    many = b"mission = { requiredModules = {" + b'"F-16",' * 1000 + b"} }"
    keep = {"mission": Keep({"requiredModules": WHOLE})}
    assert len(parse(many, keep, max_kept_values=1001)["mission"]["requiredModules"]) == 1000
    with pytest.raises(LuaDataError, match="more than 1,000 values to read"):
        parse(many, keep, max_kept_values=1000)


def test_errors_name_the_line_across_chunks() -> None:
    source = b"mission = {\n" + b"\t1,\n" * 10_000 + b"\tos.exit(),\n}"
    with pytest.raises(LuaDataError, match=r"line 10002: unexpected 'os\.exit'"):
        parse_lua_data(in_pieces(source, 1000), {})


UNITS = b"""units = {
\t{
\t\t["heading"]=0.0,
\t\t["skill"]="Client", -- a player's
\t\t["transportable"]={["randomTransportable"]=false, [1]=-2, },
\t\t['type']='F-16C_50',
\t\t["skill"]=nil;
\t\t["name"]="it's [\\"skill\\"]",
\t},
\t{ ["sk\\105ll"]="Player", ["type"]="A-10C", ["x"]=-1.5e3 },
\t{ type = "Su-27", ["skill"]="Excellent", },
\t{ ["type"]=nil, ["type"]=0x10, ["nested"]={{}} },
\t{},
}
"""
UNIT_FIELDS = {"skill": WHOLE, "type": WHOLE}
READ_IN_ONE_MATCH = {"units": Keep({ANY: Keep(UNIT_FIELDS)})}
READ_FIELD_BY_FIELD = {"units": Keep({ANY: Keep({**UNIT_FIELDS, 0: WHOLE})})}
"""A number among the kept keys leaves a table to be read field by field."""


def units_outcome(
    chunks: Iterable[bytes], keep: dict[str, Keep], limits: LuaLimits | None = None
) -> object:
    try:
        return parse_lua_data(chunks, keep, limits or LuaLimits())
    except LuaDataError as error:
        return str(error)


def test_a_table_of_kept_scalars_is_read_in_one_match_as_field_by_field() -> None:
    assert READ_IN_ONE_MATCH["units"].fields[ANY].record is not None  # type: ignore[index]
    assert READ_FIELD_BY_FIELD["units"].fields[ANY].record is None  # type: ignore[index]
    expected = {
        "units": {
            1: {"skill": "Client", "type": "F-16C_50"},
            2: {"skill": "Player", "type": "A-10C"},
            3: {"type": "Su-27", "skill": "Excellent"},
            4: {"type": 16},
            5: {},
        }
    }
    assert parse(UNITS, READ_FIELD_BY_FIELD) == expected
    assert parse(UNITS, READ_IN_ONE_MATCH) == expected


@given(st.data())
@settings(max_examples=500, deadline=None)
def test_damaged_units_read_or_fail_the_same_in_one_match(data: st.DataObject) -> None:
    damaged = bytearray(UNITS)
    for _ in range(data.draw(st.integers(0, 4))):
        at = data.draw(st.integers(0, len(damaged) - 1))
        damaged[at] = data.draw(st.sampled_from(b"{}[]\"'\\-=,;0x.e \n\tabcnil"))
    text = bytes(damaged)
    pieces = data.draw(st.integers(1, 60))
    assert units_outcome(in_pieces(text, pieces), READ_IN_ONE_MATCH) == units_outcome(
        [text], READ_FIELD_BY_FIELD
    )


@pytest.mark.parametrize("kept_values", [1, 2, 3, 4, 6])
def test_units_read_in_one_match_keep_the_kept_values_limit(kept_values: int) -> None:
    limits = LuaLimits(max_kept_values=kept_values)
    field_by_field = units_outcome([UNITS], READ_FIELD_BY_FIELD, limits)
    assert units_outcome([UNITS], READ_IN_ONE_MATCH, limits) == field_by_field
    assert "more than" in str(field_by_field)
