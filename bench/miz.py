"""Benchmark of reading a large real mission: ``python -m bench.miz``.

pydcs writes a mission with thousands of ground units and a hundred player slots per side
(tens of MB of Lua once unpacked); `read_mission` then checks and summarises it. Printed: the
best wall-clock and CPU time of a few runs, and the peak memory traced by tracemalloc during a
separate run, against the size of the .miz and of its unpacked `mission` file. Goal: under a
second and under 10 times the file's size. Then the `mission` file alone is parsed both ways
the reader can read a unit, in the same run because the machine is shared and noisy: in one
match of its `Keep.record` pattern, and field by field as before that pattern existed.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import time
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

from bot.files.miz import read_mission
from bot.files.miz.limits import MizLimits
from bot.files.miz.luadata import WHOLE, Keep, parse_lua_data
from bot.files.miz.summary import MISSION_KEEP
from tests.bot.files.miz.missions import MissionPlan, build_mission

PLAN = MissionPlan(blue_clients=100, red_clients=100, ai_groups=1000, units_per_group=70)
RUNS = 3
MB = 1_000_000


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        with contextlib.redirect_stderr(io.StringIO()):  # pydcs looks for DCS and says so
            path = build_mission(PLAN, Path(folder) / "large.miz")
        data = path.read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        mission = archive.read("mission")
    unpacked = len(mission)

    walls, cpus = [], []
    for _ in range(RUNS):
        wall, cpu = time.perf_counter(), time.process_time()
        summary = read_mission(io.BytesIO(data))
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    tracemalloc.start()
    read_mission(io.BytesIO(data))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    slots = sum(side.total for side in summary.client_slots.values())
    print(f"mission: {summary.terrain}, {slots} player slots")
    print(f"  .miz {len(data) / MB:.2f} MB, mission file {unpacked / MB:.1f} MB unpacked")
    print(f"  read_mission: {min(walls):.3f} s wall, {min(cpus):.3f} s CPU (best of {RUNS})")
    print(
        f"  peak memory: {peak / MB:.2f} MB = {peak / len(data):.1f}x the .miz, "
        f"{peak / unpacked:.2f}x the unpacked mission"
    )
    print("  goal: under 1 s, and under 10x the file's size")

    chunk = MizLimits().chunk_bytes
    chunks = [mission[start : start + chunk] for start in range(0, unpacked, chunk)]
    field_by_field = {name: _read_field_by_field(keep) for name, keep in MISSION_KEEP.items()}
    in_one_match = _best_cpu(lambda: parse_lua_data(chunks, MISSION_KEEP))
    by_field = _best_cpu(lambda: parse_lua_data(chunks, field_by_field))
    print(f"parsing the mission file alone (CPU, best of {RUNS}):")
    print(f"  units field by field (before): {by_field:.3f} s")
    print(f"  units in one match (now):      {in_one_match:.3f} s = {in_one_match / by_field:.2f}x")


def _best_cpu(run: Callable[[], object]) -> float:
    times = []
    for _ in range(RUNS):
        start = time.process_time()
        run()
        times.append(time.process_time() - start)
    return min(times)


def _read_field_by_field(keep: Keep) -> Keep:
    """The same tree, with a number among each record's kept keys, which turns its pattern off."""
    if keep.fields is None:
        return keep
    fields = {key: _read_field_by_field(inner) for key, inner in keep.fields.items()}
    return Keep(fields | {0: WHOLE} if keep.record else fields, keep.reduce)


if __name__ == "__main__":
    main()
