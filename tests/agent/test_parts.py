"""The agent's parts alone: files on disk, starting programs, reading the hook's datagrams."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
from pathlib import Path

import pytest

from agent.backoff import Backoff
from agent.files import BadFiles, decode_files, write_files
from agent.hooklink import parse_report
from agent.programs import Programs, start_programs


def entry(path: str, content: bytes) -> dict[str, str]:
    return {
        "path": path,
        "content_base64": base64.b64encode(content).decode(),
        "sha256": hashlib.sha256(content).hexdigest(),
    }


def test_files_are_written_byte_exact_and_replace_old_ones(tmp_path: Path) -> None:
    (tmp_path / "Config").mkdir()
    (tmp_path / "Config" / "options.lua").write_bytes(b"old and much longer content")
    files = decode_files(
        [entry("Config/options.lua", b"\xef\xbb\xbfno BOM added\r\n"), entry("a/b/c.cfg", b"")]
    )
    write_files(tmp_path, files)
    assert (tmp_path / "Config" / "options.lua").read_bytes() == b"\xef\xbb\xbfno BOM added\r\n"
    assert (tmp_path / "a" / "b" / "c.cfg").read_bytes() == b""
    assert sorted(p.name for p in (tmp_path / "Config").iterdir()) == ["options.lua"]


@pytest.mark.parametrize(
    "path",
    ["", "/etc/passwd", "../escape", "a/../../b", "C:/Windows/x", "a\\b", "a//b", "./a", "a/"],
)
def test_paths_that_could_leave_the_root_are_refused(tmp_path: Path, path: str) -> None:
    with pytest.raises(BadFiles):
        decode_files([entry(path, b"x")])
    with pytest.raises(BadFiles):
        write_files(tmp_path, {path: b"x"})
    assert list(tmp_path.iterdir()) == []


def test_a_file_whose_checksum_does_not_match_is_refused() -> None:
    tampered = {**entry("Config/x.lua", b"right"), "content_base64": "d3Jvbmc="}
    with pytest.raises(BadFiles, match="SHA-256"):
        decode_files([tampered])
    with pytest.raises(BadFiles, match="base64"):
        decode_files([{**entry("Config/x.lua", b"x"), "content_base64": "***"}])


def test_programs_start_for_real_with_the_default_starter(tmp_path: Path) -> None:
    """A harmless stand-in for DCS_server.exe and SRS: a script writing down its arguments."""
    out = tmp_path / "started.txt"
    script = tmp_path / "program.sh"
    script.write_text(f'#!/bin/sh\necho "$0 $*" >> {out}\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    root = tmp_path / "DCS.server"
    programs = Programs(dcs_exe=str(script), srs_exe=str(script))
    started = start_programs(programs, root, {"Config/SRS.cfg"})
    for process in started:
        assert process.wait(timeout=30) == 0  # type: ignore[attr-defined]
    lines = sorted(out.read_text().splitlines())
    assert lines == sorted(
        [f"{script} -cfg={root}/Config/SRS.cfg", f"{script} --server --norender -w DCS.server"]
    )
    assert start_programs(Programs(), root, {"Config/SRS.cfg"}) == []
    assert len(start_programs(programs, root, set(), lambda command: command)) == 1


def test_back_off_doubles_up_to_its_ceiling_and_resets() -> None:
    backoff = Backoff()
    assert [backoff.next_delay() for _ in range(9)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    backoff.reset()
    assert backoff.next_delay() == 1


def report(**message: object) -> bytes:
    return json.dumps({"type": "state", "state": "running", "mission": "m", **message}).encode()


@pytest.mark.parametrize(
    "data",
    [b"", b"\xff\xfe", b"[]", b'"state"', b'{"type": "other"}', report(state="exploded")],
)
def test_datagrams_that_are_not_snapshots_are_ignored(data: bytes) -> None:
    assert parse_report(data, 0.0) is None


def test_a_snapshot_is_cleaned_to_what_rr_accepts() -> None:
    players = [
        {"id": 1, "name": "Server", "side": 0, "slot": ""},
        {"id": 2.0, "name": "n" * 500, "side": 7, "slot": 17},
        {"id": "3", "name": "text id"},
        "not a player",
        *({"id": i, "name": f"p{i}", "side": 1, "slot": "s"} for i in range(10, 400)),
    ]
    parsed = parse_report(report(players=players, done=["a", 5, None, "b"], mission=None), 9.5)
    assert parsed is not None
    assert parsed.players[0] == {"id": 2, "name": "n" * 200, "side": 0, "slot": "17"}
    assert len(parsed.players) == 256
    assert parsed.done == {"a", "b"}
    assert (parsed.mission, parsed.received_at) == ("", 9.5)
