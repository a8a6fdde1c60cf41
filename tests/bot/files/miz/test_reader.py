"""Real missions written by pydcs on several terrains, and hostile ones, read end to end."""

from __future__ import annotations

import io
import json
import os
import tracemalloc
import zipfile
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import dcs
import pytest

from bot.files.miz import MizLimits, MizRejected, check_terrain, read_mission
from bot.files.miz.cli import main
from tests.bot.files.miz.missions import MissionPlan, build_mission

TERRAINS = [
    dcs.terrain.Caucasus,
    dcs.terrain.MarianaIslands,
    dcs.terrain.PersianGulf,
    dcs.terrain.Syria,
    dcs.terrain.Nevada,
]


def miz(**files: bytes) -> io.BytesIO:
    file = io.BytesIO()
    with zipfile.ZipFile(file, "w", zipfile.ZIP_DEFLATED) as zip_file:
        for name, data in files.items():
            zip_file.writestr(name.replace("__", "/"), data)
    file.seek(0)
    return file


VALID = b'mission = { theatre = "Caucasus", date = {Year=2020, Month=1, Day=1}, start_time = 0 }'


@pytest.mark.parametrize("terrain", TERRAINS, ids=lambda terrain: terrain.__name__)
def test_a_real_mission_is_summarised(
    terrain: Callable[[], dcs.terrain.Terrain], tmp_path: Path
) -> None:
    plan = MissionPlan(
        terrain=terrain,
        sortie='Operation Ünïcode "Dawn"',
        start=datetime(2016, 6, 21, 5, 30, 15),
        blue_clients=6,
        red_clients=3,
        ai_groups=5,
        required_modules=("F-16C bl.50 by Eagle Dynamics", "Su-27 Flanker by Eagle Dynamics"),
    )
    with build_mission(plan, tmp_path / "real.miz").open("rb") as file:
        summary = read_mission(file)

    assert summary.terrain == terrain().name
    assert summary.sortie == 'Operation Ünïcode "Dawn"'
    assert (summary.date, summary.start_time_seconds) == (
        date(2016, 6, 21),
        5 * 3600 + 30 * 60 + 15,
    )
    assert summary.starts_at == datetime(2016, 6, 21, 5, 30, 15)
    assert summary.required_modules == list(plan.required_modules)
    assert summary.client_slots["blue"].model_dump() == {"total": 6, "by_type": {"F-16C_50": 6}}
    assert summary.client_slots["red"].model_dump() == {"total": 3, "by_type": {"Su-27": 3}}
    assert not summary.desanitized_scripting.likely_needed


def test_scripts_that_need_a_desanitized_environment(tmp_path: Path) -> None:
    plan = MissionPlan(
        do_script='local f = io.open(lfs.writedir() .. "log.txt", "w")',
        script_files={
            "persist.lua": 'local json = require("json")\n',
            "clean.lua": "env.info('x')",
        },
    )
    with build_mission(plan, tmp_path / "scripted.miz").open("rb") as file:
        scripting = read_mission(file).desanitized_scripting

    assert scripting.likely_needed
    assert scripting.modules == ["io", "lfs", "require"]
    assert set(scripting.found_in) == {"l10n/DEFAULT/dictionary", "l10n/DEFAULT/persist.lua"}


def test_scripts_kept_in_the_mission_file_itself() -> None:
    script = b'trig = { actions = { "a_do_script(\\"os.exit()\\")" } }'
    mission = VALID.replace(b"start_time = 0", b"start_time = 0, " + script)
    scripting = read_mission(miz(mission=mission)).desanitized_scripting
    assert (scripting.modules, scripting.found_in) == (["os"], ["mission"])


def test_scripts_using_only_the_sanitized_environment(tmp_path: Path) -> None:
    plan = MissionPlan(do_script="trigger.action.outText('radio.os: ' .. env.mission.theatre, 5)")
    with build_mission(plan, tmp_path / "plain.miz").open("rb") as file:
        assert not read_mission(file).desanitized_scripting.likely_needed


def test_a_terrain_rr_does_not_have_is_refused_by_name(tmp_path: Path) -> None:
    path = build_mission(MissionPlan(terrain=dcs.terrain.Syria), tmp_path / "syria.miz")
    with path.open("rb") as file:
        summary = read_mission(file)
    check_terrain(summary, {"Caucasus", "Syria"})
    with pytest.raises(MizRejected) as refused:
        check_terrain(summary, {"Caucasus", "MarianaIslands"})
    assert str(refused.value) == (
        "This mission is set on Syria, which rr's servers do not have (they have Caucasus, "
        "MarianaIslands), so choose a mission on one of those."
    )


HOSTILE = {
    "loops": b"mission = {}\nwhile true do end",
    "allocates": b"mission = { theatre = string.rep('x', 2^40) }",
    "calls os": b"mission = {}\nos.execute('format c:')",
    "hides code in a field": b"mission = { theatre = (function() return 'x' end)() }",
}


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_mission_file_is_refused_unrun(text: bytes) -> None:
    with pytest.raises(MizRejected) as refused:
        read_mission(miz(mission=text))
    message = str(refused.value)
    assert message.startswith("The 'mission' file inside this .miz is not plain mission data (line")
    assert message.endswith(
        "save the mission again from the DCS mission editor and upload that file."
    )


def test_code_in_any_file_dcs_loads_is_refused() -> None:
    for name in ("options", "warehouses", "l10n__DEFAULT__dictionary", "l10n__RU__mapResource"):
        with pytest.raises(MizRejected, match=f"The '{name.replace('__', '/')}' file inside"):
            read_mission(miz(mission=VALID, **{name: b"x = {} os.remove('y')"}))


def test_fifty_megabytes_of_nesting_is_refused_in_bounded_memory() -> None:
    nesting = miz(mission=b"mission = " + b"{" * (50 * 1024 * 1024))
    with pytest.raises(MizRejected, match=r"unpack to 1,0[0-9]{2} times its size"):
        read_mission(nesting)  # first by its compression ratio, unread

    limits = MizLimits(max_compression_ratio=2000)
    tracemalloc.start()
    try:
        with pytest.raises(MizRejected, match="line 1: tables are nested more than 100 deep"):
            read_mission(nesting, limits)  # then, let through, by its depth after one chunk
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * limits.chunk_bytes


@pytest.mark.parametrize(
    ("mission", "reason"),
    [
        (b"options = {}", "holds no mission"),
        (b"mission = { date = {Year=2020, Month=1, Day=1}, start_time = 0 }", "which terrain"),
        (
            b'mission = { theatre = "C", date = {Year=2020, Month=2, Day=30}, start_time = 0 }',
            "valid start date",
        ),
        (b'mission = { theatre = "C", date = {Year=2020, Month=2, Day=3} }', "no start time"),
        (
            b'mission = { theatre = "C", date = {Year=2020, Month=2, Day=3}, start_time = -1 }',
            "within a year",
        ),
    ],
)
def test_a_mission_without_what_dcs_always_writes(mission: bytes, reason: str) -> None:
    with pytest.raises(MizRejected, match=reason):
        read_mission(miz(mission=mission))


def test_the_command_prints_the_summary_as_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = build_mission(MissionPlan(terrain=dcs.terrain.Syria), tmp_path / "m.miz")

    monkeypatch.setenv("RR_INSTALLED_TERRAINS", "Caucasus,Syria")
    assert main(["inspect", str(path)]) == 0
    printed = capsys.readouterr()
    assert json.loads(printed.out)["terrain"] == "Syria"
    assert printed.err == ""

    monkeypatch.setenv("RR_INSTALLED_TERRAINS", "Caucasus")
    assert main(["inspect", str(path)]) == 1
    printed = capsys.readouterr()
    assert json.loads(printed.out)["client_slots"]["blue"]["total"] == 2
    assert printed.err.startswith("This mission is set on Syria, which rr's servers do not have")

    with zipfile.ZipFile(path, "a") as padded:  # past 1 MB, whatever zip does
        padded.writestr("l10n/DEFAULT/noise.ogg", os.urandom(1_100_000))
    monkeypatch.setenv("RR_FILES_MISSION_MAX_MB", "1")
    assert main(["inspect", str(path)]) == 1
    refusal = capsys.readouterr().err
    assert refusal.startswith("This file is 1.1 MB and rr accepts missions up to 1.0 MB")

    assert main(["inspect", str(tmp_path / "missing.miz")]) == 2
    assert "cannot read" in capsys.readouterr().err
