"""The Lua serialiser, checked by loading its output in a real Lua 5.1 interpreter."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.dcs.lua import (
    LARGEST_EXACT_INTEGER,
    lua_assignment,
    lua_comment,
    lua_literal,
    lua_string,
)
from tests.bot.dcs.lua_sandbox import LuaSandbox, tag_expected
from tests.bot.dcs.strategies import NASTY_FRAGMENTS, lua_text

EVERY_ASCII_CHARACTER = "".join(map(chr, range(128)))
VERY_LONG_TEXT = "".join(NASTY_FRAGMENTS) * 4000


def load_value(lua: LuaSandbox, value: Any) -> Any:
    return lua.globals_of(lua_assignment("x", value).encode("utf-8"))[("string", "x")]


def test_the_interpreter_is_lua_5_1(lua: LuaSandbox) -> None:
    assert lua.version == "Lua 5.1"


@pytest.mark.parametrize("call", ["os.exit(1)", "io.open('x', 'w')", "require('os')", "print(1)"])
def test_chunks_run_without_os_io_or_require(lua: LuaSandbox, call: str) -> None:
    with pytest.raises(Exception, match="a nil value"):
        lua.run(call.encode())


@given(lua_text(2000))
@example(EVERY_ASCII_CHARACTER)
@example(VERY_LONG_TEXT)
@example("]]" + "\\" * 3 + '"' + "\x00\x00" + "1" * 5)
@example("\x001\x002\x0012")
@settings(deadline=None, max_examples=300)
def test_any_text_loads_back_identical(lua: LuaSandbox, text: str) -> None:
    assert load_value(lua, text) == ("string", text)


@given(lua_text(200))
@example(EVERY_ASCII_CHARACTER)
def test_strings_use_only_lua_5_1_escapes_and_stay_on_one_line(text: str) -> None:
    literal = lua_string(text)
    assert "\n" not in literal and "\r" not in literal
    body = literal[1:-1]
    escapes = re.findall(r"\\(.)", body, flags=re.DOTALL)
    assert set(escapes) <= {"\\", '"', "n", "r", "t", *"0123456789"}
    assert re.search(r'(?<!\\)(\\\\)*"', body) is None


def test_control_characters_become_three_digit_decimal_escapes() -> None:
    assert lua_string("\x00" + "1") == '"\\0001"'
    assert lua_string("\x7f\x1b") == '"\\127\\027"'


def test_non_ascii_is_written_as_utf8_bytes_not_escaped() -> None:
    assert lua_assignment("x", "ä✈🛩").encode("utf-8") == 'x = "ä✈🛩"\n'.encode()


def test_lone_surrogates_are_refused() -> None:
    with pytest.raises(ValueError, match="surrogates"):
        lua_string("bad \ud800 text")


@given(st.booleans())
def test_booleans_are_bare_true_and_false(lua: LuaSandbox, flag: bool) -> None:
    assert lua_literal(flag) == ("true" if flag else "false")
    assert load_value(lua, flag) == ("boolean", flag)


@given(st.integers(-LARGEST_EXACT_INTEGER, LARGEST_EXACT_INTEGER))
def test_integers_load_as_the_same_number(lua: LuaSandbox, number: int) -> None:
    value = load_value(lua, number)
    assert value[0] == "number" and int(value[1]) == number


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_finite_floats_load_as_the_same_number(lua: LuaSandbox, number: float) -> None:
    assert load_value(lua, number) == ("number", number)


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_are_refused(number: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        lua_literal(number)


@pytest.mark.parametrize("number", [LARGEST_EXACT_INTEGER + 1, -(2**64)])
def test_integers_a_double_cannot_hold_are_refused(number: int) -> None:
    with pytest.raises(ValueError, match="too large"):
        lua_literal(number)


def test_keys_that_are_not_names_are_bracketed_and_stay_strings(lua: LuaSandbox) -> None:
    table = {"end": 1, "goto": 2, "DCS-SRS": 3, "F/A-18C": 4, "1": 5, "_ok": 6, "näme": 7, "": 8}
    source = lua_literal(table)
    assert "_ok = 6" in source and '["end"] = 1' in source and '["1"] = 5' in source
    assert load_value(lua, table) == tag_expected(table)


@given(st.lists(lua_text(20), max_size=30))
def test_sequences_become_contiguous_one_based_arrays(lua: LuaSandbox, items: list[str]) -> None:
    env = lua.run(lua_assignment("x", items).encode("utf-8"))
    assert lua.ipairs_length(env[b"x"]) == len(items)
    assert load_value(lua, items) == tag_expected(items)


def test_nested_and_empty_tables_load(lua: LuaSandbox) -> None:
    value = {"a": {"b": {"c": []}, "d": {}}, "e": [[1, 2], ["x"]]}
    assert load_value(lua, value) == tag_expected(value)


def test_key_order_does_not_depend_on_insertion_order() -> None:
    assert lua_literal({"b": 1, "a": {"y": 2, "x": 3}}) == lua_literal(
        {"a": {"x": 3, "y": 2}, "b": 1}
    )


@pytest.mark.parametrize("value", [None, {1: "a"}, b"bytes", {"a"}, object()])
def test_values_without_a_lua_form_are_refused(value: object) -> None:
    with pytest.raises(TypeError):
        lua_literal(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("target", ["end", "a b", "1x", "a..b", "a.end", ""])
def test_assignment_targets_must_be_lua_names(target: str) -> None:
    with pytest.raises(ValueError, match="not a Lua variable name"):
        lua_assignment(target, 1)


def test_dotted_assignment_sets_a_field(lua: LuaSandbox) -> None:
    source = lua_assignment("lotatc_inst.options", {"port": 10310}).encode()
    loaded = lua.globals_of(source, tables=["lotatc_inst"])
    assert loaded == tag_expected({"lotatc_inst": {"options": {"port": 10310}}})


@pytest.mark.parametrize("text", ["two\nlines", "carriage\rreturn", "nul\x00"])
def test_comments_must_be_one_printable_line(text: str) -> None:
    with pytest.raises(ValueError, match="single printable line"):
        lua_comment(text)


def test_a_comment_cannot_open_a_block_comment(lua: LuaSandbox) -> None:
    source = lua_comment("[[ not a block") + "x = 1\n"
    assert lua.globals_of(source.encode()) == tag_expected({"x": 1})
