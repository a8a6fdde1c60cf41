"""The DCS hook in a real Lua 5.1 against a fake of DCS's hook API, over real loopback UDP."""

from __future__ import annotations

import pytest

from agent.hooklink import parse_report
from tests.agent.conftest import AgentEnd
from tests.agent.fake_dcs import FakeDcs


def test_hook_registers_callbacks_and_reports_nothing_until_called(
    dcs: FakeDcs, agent_end: AgentEnd
) -> None:
    assert dcs.callbacks is not None
    assert agent_end.reports() == []
    assert ("rr", 8, f"rr hook loaded; reporting to port {agent_end.port}") in dcs.logs


def test_a_mission_start_with_players_is_reported_without_the_server(
    dcs: FakeDcs, agent_end: AgentEnd
) -> None:
    dcs.mission_name = "Op Snowfall"
    dcs.fire("onMissionLoadBegin")
    assert agent_end.report()["state"] == "loading"
    dcs.fire("onMissionLoadEnd")
    assert agent_end.report()["mission"] == "Op Snowfall"
    dcs.fire("onSimulationStart")
    dcs.connect(2, "Viper 1-1", side=2, slot=17)
    dcs.fire("onPlayerConnect", 2)
    dcs.connect(3, "Red Dog", side=1, slot="42_2")
    dcs.fire("onPlayerChangeSlot", 3)
    reports = agent_end.reports()
    assert [report["state"] for report in reports] == ["running"] * 3
    assert reports[-1]["players"] == [
        {"id": 2, "name": "Viper 1-1", "side": 2, "slot": "17"},
        {"id": 3, "name": "Red Dog", "side": 1, "slot": "42_2"},
    ]
    assert reports[0]["players"] == {}  # DCS's lua2json writes an empty table as an object
    assert parse_report(
        b'{"type":"state","state":"running","mission":"","players":{},"done":{}}', 0
    )


HOSTILE_NAMES = [
    "Quote \" and ' and \\ back",
    "New\nline\r\tand tab",
    "Ünïcødé 飛行機 🛩️",
    "%s%d%%[^a-z]*.-+?()",
    "]] --[[ end",
    '{"type":"state"}',
    "",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_arrive_unchanged(dcs: FakeDcs, agent_end: AgentEnd, name: str) -> None:
    dcs.connect(2, name, side=1, slot=name)
    dcs.fire("onPlayerConnect", 2)
    raw = agent_end.socket.recv(65535)
    report = parse_report(raw, 0.0)
    assert report is not None
    assert report.players == [{"id": 2, "name": name, "side": 1, "slot": name[:64]}]


def test_very_long_names_are_cut_on_a_character_boundary(dcs: FakeDcs, agent_end: AgentEnd) -> None:
    name = "é" * 40 + "x" * 10_000  # 80 bytes of two-byte characters first
    dcs.connect(2, name)
    dcs.connect(3, "a" + "飛" * 100)
    dcs.fire("onPlayerConnect", 3)
    players = agent_end.report()["players"]
    assert players[0]["name"] == "é" * 32
    assert players[1]["name"] == "a" + "飛" * 21  # 64 bytes: 1 + 21 × 3
    assert all(len(player["name"].encode()) <= 64 for player in players)


def test_invalid_utf8_in_a_name_does_not_break_the_report(
    dcs: FakeDcs, agent_end: AgentEnd
) -> None:
    dcs.connect(2, b"bad \xff\xfe name")
    dcs.fire("onPlayerConnect", 2)
    report = parse_report(agent_end.socket.recv(65535), 0.0)
    assert report is not None and report.players[0]["name"].startswith("bad ")


def test_disconnect_before_connect_and_a_player_dcs_no_longer_knows(
    dcs: FakeDcs, agent_end: AgentEnd
) -> None:
    dcs.fire("onPlayerDisconnect", 5)
    assert agent_end.report()["players"] == {}
    dcs.connect(5, "Late")
    dcs.fire("onPlayerConnect", 5)
    assert [p["id"] for p in agent_end.report()["players"]] == [5]
    # DCS still lists the player while onPlayerDisconnect runs: the hook leaves it out.
    dcs.fire("onPlayerDisconnect", 5)
    assert agent_end.report()["players"] == {}
    dcs.disconnect(5)
    # An id still listed whose info is gone (it left between the two calls) is skipped.
    dcs.connect(6, "Stays")
    dcs.players[9] = None  # type: ignore[assignment]
    dcs.fire("onPlayerConnect", 6)
    assert agent_end.report()["players"] == [{"id": 6, "name": "Stays", "side": 0, "slot": ""}]


def test_frame_before_start_and_stop_twice(dcs: FakeDcs, agent_end: AgentEnd) -> None:
    dcs.fire("onSimulationFrame")
    assert agent_end.report()["state"] == "loading"
    dcs.fire("onSimulationStop")
    dcs.fire("onSimulationStop")
    assert [r["state"] for r in agent_end.reports()] == ["stopped", "stopped"]
    dcs.fire("onMissionLoadEnd")
    dcs.fire("onSimulationStart")
    assert [r["state"] for r in agent_end.reports()] == ["stopped", "running"]


def test_frames_report_every_five_seconds_of_real_time(dcs: FakeDcs, agent_end: AgentEnd) -> None:
    dcs.fire("onSimulationFrame")
    assert len(agent_end.reports()) == 1
    for step in range(1, 50):
        dcs.real_time = step * 0.1
        dcs.fire("onSimulationFrame")
    assert agent_end.reports() == []
    dcs.real_time = 5.0
    dcs.fire("onSimulationFrame")
    assert len(agent_end.reports()) == 1


def test_instructions_are_carried_out_once_and_listed_as_done(
    dcs: FakeDcs, agent_end: AgentEnd
) -> None:
    agent_end.send({"id": "m1", "kind": "chat", "text": 'Server ends in 5 min "really"\n%s'})
    agent_end.send({"id": "m1", "kind": "chat", "text": 'Server ends in 5 min "really"\n%s'})
    agent_end.send({"id": "e1", "kind": "end_mission"})
    dcs.real_time = 1.0
    dcs.fire("onSimulationFrame")
    assert dcs.chats == [('Server ends in 5 min "really"\n%s', True)]
    assert dcs.missions_stopped == 1
    reports = agent_end.reports()
    assert reports[-1]["done"] == ["m1", "e1"]


def test_ending_a_mission_that_has_ended_already_stops_nothing_and_is_done(
    dcs: FakeDcs, agent_end: AgentEnd
) -> None:
    dcs.fire("onSimulationStart")
    agent_end.send({"id": "e1", "kind": "end_mission"})
    dcs.fire("onSimulationFrame")
    dcs.fire("onSimulationStop")
    agent_end.send({"id": "e2", "kind": "end_mission"})  # rr restarted and asked again
    dcs.fire("onSimulationFrame")
    assert dcs.missions_stopped == 1
    assert agent_end.reports()[-1]["done"] == ["e1", "e2"]


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[1, 2, 3]",
        b'{"kind": "chat", "text": "no id"}',
        b'{"id": 7, "kind": "chat", "text": "numeric id"}',
        b'{"id": "x", "kind": "format_disk"}',
        b'{"id": "y", "kind": "chat", "text": {"nested": true}}',
        b"",
    ],
)
def test_malformed_commands_are_ignored(dcs: FakeDcs, agent_end: AgentEnd, payload: bytes) -> None:
    agent_end.send(payload)
    agent_end.send({"id": "ok", "kind": "chat", "text": "after"})
    dcs.fire("onSimulationFrame")
    assert dcs.chats == [("after", True)]
    assert dcs.missions_stopped == 0


def test_a_failing_api_never_raises_into_dcs_and_logs_a_bounded_number_of_times(
    dcs: FakeDcs, agent_end: AgentEnd
) -> None:
    dcs.failing.add("get_player_list")
    for step in range(100):
        dcs.real_time = step * 10.0
        dcs.fire("onSimulationFrame")
        dcs.fire("onPlayerConnect", 2)
    errors = [entry for entry in dcs.logs if entry[1] == 2]
    assert len(errors) == 20
    assert "get_player_list failed" in errors[0][2]
    dcs.failing.clear()
    dcs.fire("onPlayerConnect", 2)
    assert agent_end.report()["state"] == "loading"


def test_a_report_too_big_for_a_datagram_leaves_the_last_players_out(
    dcs: FakeDcs, agent_end: AgentEnd
) -> None:
    escaped = "\x01" * 64  # 64 bytes, each written as \u0001 in JSON: 384
    for player_id in range(2, 202):
        dcs.connect(player_id, escaped, slot=escaped)
    dcs.fire("onPlayerConnect", 201)
    raw = agent_end.socket.recv(65535)
    assert len(raw) <= 60_000
    report = parse_report(raw, 0.0)
    assert report is not None
    assert [player["id"] for player in report.players] == list(range(2, 52))
    assert report.players[0]["name"] == escaped
