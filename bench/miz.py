"""Benchmark of reading a large real mission: ``python -m bench.miz``.

pydcs writes a mission with thousands of ground units and a hundred player slots per side
(tens of MB of Lua once unpacked); `read_mission` then checks and summarises it. Printed: the
best wall-clock and CPU time of a few runs, and the peak memory traced by tracemalloc during a
separate run, against the size of the .miz and of its unpacked `mission` file. Goal: under a
second and under 10 times the file's size.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import time
import tracemalloc
import zipfile
from pathlib import Path

from bot.files.miz import read_mission
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
        unpacked = archive.getinfo("mission").file_size

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


if __name__ == "__main__":
    main()
