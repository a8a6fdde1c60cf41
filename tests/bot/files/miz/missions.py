"""Real .miz files written by pydcs, an independent producer of DCS missions."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import dcs
from dcs import planes, vehicles
from dcs.action import DoScript, DoScriptFile
from dcs.condition import TimeAfter
from dcs.mapping import Point
from dcs.terrain import Terrain
from dcs.triggers import Event, TriggerOnce
from dcs.unittype import FlyingType

logging.getLogger("pydcs").setLevel(logging.CRITICAL)  # it looks for a Windows registry


@dataclass(frozen=True)
class MissionPlan:
    terrain: Callable[[], Terrain] = dcs.terrain.Caucasus
    sortie: str = "Operation Test"
    start: datetime = datetime(2016, 6, 21, 12, 30, 15)
    blue_clients: int = 2
    red_clients: int = 0
    ai_groups: int = 1
    units_per_group: int = 4
    required_modules: tuple[str, ...] = ()
    do_script: str | None = None
    script_files: dict[str, str] = field(default_factory=dict)
    """File name -> Lua text, each run by a DO SCRIPT FILE trigger."""


def build_mission(plan: MissionPlan, path: Path) -> Path:
    """Write the planned mission to `path` with pydcs and return `path`."""
    mission = dcs.Mission(plan.terrain())
    mission.set_sortie_text(plan.sortie)
    mission.start_time = plan.start
    modules = {name: name for name in plan.required_modules}
    mission.required_modules = modules  # type: ignore[assignment]  # pydcs says None
    origin = next(iter(mission.terrain.airports.values())).position
    blue, red = mission.country("USA"), mission.country("Russia")
    for index in range(plan.ai_groups):
        position = origin.point_from_heading(index * 7 % 360, 2000 + 100 * index)
        country = blue if index % 2 else red
        mission.vehicle_group(
            country,
            f"armor {index}",
            vehicles.Armor.M_1_Abrams,
            position,
            group_size=plan.units_per_group,
        )
    _flights(mission, blue, planes.F_16C_50, plan.blue_clients, origin)
    _flights(mission, red, planes.Su_27, plan.red_clients, origin)
    if plan.do_script is not None:
        _trigger(mission, DoScript(mission.string(plan.do_script)))
    for name, text in plan.script_files.items():
        script = path.parent / name
        script.write_text(text)
        _trigger(mission, DoScriptFile(mission.map_resource.add_resource_file(script)))
    mission.save(str(path))
    return path


def _flights(
    mission: dcs.Mission,
    country: dcs.country.Country,
    kind: type[FlyingType],
    clients: int,
    origin: Point,
) -> None:
    for index in range(0, clients, 4):
        group = mission.flight_group_inflight(
            country,
            f"{country.name} {kind.id} {index}",
            kind,
            origin.point_from_heading(90, 5000 + 1000 * index),
            altitude=5000,
            group_size=min(4, clients - index),
        )
        for unit in group.units:
            unit.set_client()


def _trigger(mission: dcs.Mission, action: DoScript | DoScriptFile) -> None:
    trigger = TriggerOnce(Event.NoEvent, f"script {len(mission.triggerrules.triggers) + 1}")
    trigger.add_condition(TimeAfter(1))
    trigger.add_action(action)
    mission.triggerrules.triggers.append(trigger)
