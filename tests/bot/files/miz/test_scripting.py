"""The heuristic for scripts that need DCS's scripting environment de-sanitized."""

from __future__ import annotations

import pytest

from bot.files.miz.scripting import SanitizedUses


def scanned(text: bytes, chunk: int = 1 << 20) -> list[str]:
    uses = SanitizedUses()
    pieces = [text[start : start + chunk] for start in range(0, len(text), chunk)]
    assert b"".join(uses.scan("x", pieces)) == text
    return sorted(uses.modules)


@pytest.mark.parametrize(
    ("text", "modules"),
    [
        (b'local f = io.open("x")', ["io"]),
        (b"os.remove(p) lfs.writedir()", ["lfs", "os"]),
        (b'local json = require("json")', ["require"]),
        (b"require 'x'", ["require"]),
        (b"radio.os ratio.x bios.y a.io.b self:os.z portfolio.x", []),
        (b"required_modules = 1 trigger.action.outText('os', 5)", []),
    ],
)
def test_finds_sanitized_modules_used_as_such(text: bytes, modules: list[str]) -> None:
    assert scanned(text) == modules


@pytest.mark.parametrize("chunk", [1, 2, 3, 5])
def test_a_use_split_across_chunks_is_found(chunk: int) -> None:
    assert scanned(b"x = 1\nlocal t = os.time()\n", chunk) == ["os"]


def test_places_are_noted_once_each() -> None:
    uses = SanitizedUses()
    for place in ("mission", "clean.lua", "a.lua"):
        text = b"env.info('x')" if place == "clean.lua" else b"os.exit() io.write()"
        list(uses.scan(place, [text]))
    assert (uses.modules, uses.places) == ({"io", "os"}, ["mission", "a.lua"])
