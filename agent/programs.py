"""Starting SRS and DCS once their files are written (on a Windows server)."""

import subprocess
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

SRS_CONFIG = "Config/SRS.cfg"

Starter = Callable[[Sequence[str]], object]
"""Starts a program and returns at once (``subprocess.Popen`` on a server)."""


@dataclass(frozen=True)
class Programs:
    """Where the image keeps the programs; None for a program this machine does not run."""

    dcs_exe: str | None = None
    srs_exe: str | None = None


def commands(programs: Programs, root: Path, files: Collection[str]) -> list[list[str]]:
    """SRS first (when its config is among the files), then DCS on the write folder ``root``;
    DCS's ``-w`` takes the folder's name under Saved Games."""
    found = []
    if programs.srs_exe is not None and SRS_CONFIG in files:
        found.append([programs.srs_exe, f"-cfg={root.joinpath(*SRS_CONFIG.split('/'))}"])
    if programs.dcs_exe is not None:
        found.append([programs.dcs_exe, "--server", "--norender", "-w", root.name])
    return found


def start_programs(
    programs: Programs, root: Path, files: Collection[str], starter: Starter | None = None
) -> list[object]:
    start = starter or _popen
    return [start(command) for command in commands(programs, root, files)]


def _popen(command: Sequence[str]) -> object:
    return subprocess.Popen(list(command), stdin=subprocess.DEVNULL)
