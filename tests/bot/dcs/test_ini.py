"""The INI writer behind SRS's server.cfg."""

from __future__ import annotations

import configparser

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.dcs.ini import render_ini
from tests.bot.dcs.strategies import ini_text


def parse_strictly(text: str) -> dict[str, dict[str, str]]:
    """Parse line by line: a comment, a blank, a [section] or exactly KEY=value, nothing else."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in text.split("\n")[:-1]:
        if line.startswith(";") or not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, separator, value = line.partition("=")
        assert separator and current is not None and key not in current
        current[key] = value
    return sections


def parse_with_configparser(text: str) -> dict[str, dict[str, str]]:
    parser = configparser.RawConfigParser(strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return {name: dict(parser.items(name)) for name in parser.sections()}


@given(st.dictionaries(st.from_regex(r"[A-Z_]{1,20}", fullmatch=True), ini_text(64), max_size=8))
def test_safe_values_read_back_identical(values: dict[str, str]) -> None:
    text = render_ini({"External AWACS Mode Settings": values}, "note")
    expected = {"External AWACS Mode Settings": values}
    assert parse_strictly(text) == expected
    assert parse_with_configparser(text) == expected


def test_booleans_and_numbers_are_written_the_way_srs_writes_them() -> None:
    text = render_ini({"Server Settings": {"UPNP_ENABLED": False, "SERVER_PORT": 5002}}, "note")
    assert parse_strictly(text) == {
        "Server Settings": {"SERVER_PORT": "5002", "UPNP_ENABLED": "false"}
    }


def test_sections_and_keys_are_sorted_whatever_the_insertion_order() -> None:
    first = render_ini({"B": {"Y": 1, "X": 2}, "A": {"Z": True}}, "note")
    second = render_ini({"A": {"Z": True}, "B": {"X": 2, "Y": 1}}, "note")
    assert first == second
    assert first.index("[A]") < first.index("[B]") and first.index("X=") < first.index("Y=")


@pytest.mark.parametrize(
    "value", ["a\nb", "a\rb", "a=b", "a;b", "a#b", "[a", "a]", 'a"b', "a\\b", " a", "a ", "\x00"]
)
def test_values_that_could_break_a_line_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="INI value"):
        render_ini({"Section": {"KEY": value}}, "note")


@pytest.mark.parametrize("name", ["", "a=b", "[x]", "a\nb", " lead", "trail "])
def test_section_and_key_names_must_be_plain(name: str) -> None:
    with pytest.raises(ValueError, match="not a plain INI"):
        render_ini({name: {"KEY": 1}}, "note")
    with pytest.raises(ValueError, match="not a plain INI"):
        render_ini({"Section": {name: 1}}, "note")


def test_the_comment_must_be_one_line() -> None:
    with pytest.raises(ValueError, match="single printable line"):
        render_ini({}, "two\nlines")
