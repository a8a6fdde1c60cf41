"""The stand-in DCS's parts: what it reads from the files the agent wrote, what it writes."""

import json
from datetime import UTC, datetime
from pathlib import Path

from agent.hookfile import HOOK_PATH, hook_source
from bot.cloud import standin_dcs
from bot.cloud.standin_dcs import StandinDcs, hook_ports, mission_name, tacview_recording
from bot.dcs import SessionOptions, render_server_files
from bot.domain.settings import SquadronSettings


def write(root: Path, files: dict[str, bytes]) -> None:
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def test_the_mission_is_the_one_the_server_settings_start_named_as_dcs_names_it(
    tmp_path: Path,
) -> None:
    settings = SquadronSettings(missions=('C:\\Missions\\Op "Anvil".miz', "Red Flag.miz"))
    write(tmp_path, render_server_files(settings, SessionOptions(session_id="s", start_index=2)))
    assert mission_name(tmp_path) == "Red Flag"

    write(tmp_path, render_server_files(settings, SessionOptions(session_id="s")))
    assert mission_name(tmp_path) == 'Op "Anvil"'


def test_without_missions_the_stand_in_runs_a_default_one(tmp_path: Path) -> None:
    assert mission_name(tmp_path) == standin_dcs.DEFAULT_MISSION
    write(tmp_path, render_server_files(SquadronSettings(), SessionOptions(session_id="s")))
    assert mission_name(tmp_path) == standin_dcs.DEFAULT_MISSION


def test_the_ports_come_from_the_installed_hook(tmp_path: Path) -> None:
    assert hook_ports(tmp_path) is None
    write(tmp_path, {HOOK_PATH: hook_source(40001, 40002)})
    assert hook_ports(tmp_path) == (40001, 40002)


def test_an_instruction_is_carried_out_once_and_chat_is_logged_as_shown(tmp_path: Path) -> None:
    game = StandinDcs(tmp_path, tmp_path / "files", 9, "Op Anvil", state="running")

    for _ in range(2):
        game.carry_out({"id": "i1", "kind": "chat", "text": "Server ends in 5 min"})
    game.carry_out({"id": "i2", "kind": "launch_nukes"})

    lines = (tmp_path / standin_dcs.CHAT).read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["text"] for line in lines] == ["Server ends in 5 min"]
    assert game.done == ["i1"]


def test_players_get_dcs_ids_in_order_of_arrival_and_keep_them(tmp_path: Path) -> None:
    game = StandinDcs(tmp_path, tmp_path / "files", 9, "Op Anvil", state="running")
    assert game.take_players([{"name": "Viper 1", "side": 2}, {"name": "Cobra 1", "side": 1}])
    assert not game.take_players([{"name": "Viper 1", "side": 2}, {"name": "Cobra 1", "side": 1}])
    game.take_players([{"name": "Cobra 1", "side": 1}])
    game.take_players([{"name": "Viper 1", "side": 7}, {"name": "Cobra 1", "side": 1}])
    assert [(p["id"], p["name"], p["side"]) for p in game.players] == [
        (2, "Viper 1", 0),
        (3, "Cobra 1", 1),
    ]


def test_ending_the_mission_leaves_a_tacview_recording_and_a_dcs_log(tmp_path: Path) -> None:
    game = StandinDcs(tmp_path, tmp_path / "files", 9, "Op, Anvil", state="running")
    game.take_players([{"name": "Viper 1", "side": 2, "slot": "F-16C_50"}])

    game.carry_out({"id": "e1", "kind": "end_mission"})

    assert game.state == "stopped"
    [recording] = (tmp_path / "files" / "Tracks" / "Tacview").glob("*.txt.acmi")
    assert "Title=Op\\, Anvil" in recording.read_text(encoding="utf-8")
    log = (tmp_path / "files" / "Logs" / "dcs.log").read_text(encoding="utf-8")
    assert "player Viper 1 joined" in log


def test_a_tacview_recording_has_the_header_frames_and_objects_of_the_format() -> None:
    started = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    players = [
        {"id": 2, "name": "Viper 1", "side": 2, "slot": "F-16C_50"},
        {"id": 3, "name": "Watcher", "side": 0, "slot": ""},
    ]

    lines = tacview_recording("Op Anvil", started, players).splitlines()

    assert lines[:3] == [
        "FileType=text/acmi/tacview",
        "FileVersion=2.2",
        "0,ReferenceTime=2026-12-05T12:00:00Z",
    ]
    frames = [line for line in lines if line.startswith("#")]
    assert frames == ["#0", "#10", "#20"]
    assert any(line.startswith("1,T=") and "Pilot=Viper 1,Color=Blue" in line for line in lines)
    assert lines[-1] == "-1"
    assert not any("Watcher" in line for line in lines)
