"""`rr-mission inspect FILE.miz`: what rr reads from a mission, as JSON, for operators.

It runs the checks an upload gets, with the limits and installed terrains from rr's settings
(the environment and `.env`): a refused file gets its one-sentence reason on stderr and exit
status 1. A mission on a terrain rr's servers lack is still summarised, with the refusal after.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.config import InvalidSettings, load_settings
from bot.files.miz import MizLimits, MizRejected, check_terrain, read_mission
from bot.files.miz.limits import MB


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rr-mission", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    inspect = commands.add_parser("inspect", help="print what rr reads from a .miz, as JSON")
    inspect.add_argument("file", type=Path, help="the .miz file")
    arguments = parser.parse_args(argv)
    try:
        settings = load_settings()
    except InvalidSettings as error:
        print(f"rr-mission: {error}", file=sys.stderr)
        return 2
    max_file_bytes = settings.files.mission_max_mb * MB
    try:
        with arguments.file.open("rb") as file:
            summary = read_mission(file, MizLimits(max_file_bytes=max_file_bytes))
    except OSError as error:
        print(f"rr-mission: cannot read {arguments.file}: {error.strerror}.", file=sys.stderr)
        return 2
    except MizRejected as refusal:
        print(refusal, file=sys.stderr)
        return 1
    print(summary.model_dump_json(indent=2))
    try:
        check_terrain(summary, settings.installed_terrains)
    except MizRejected as refusal:
        print(refusal, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
