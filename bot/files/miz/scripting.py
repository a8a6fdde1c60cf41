"""Whether a mission's scripts seem to need DCS's scripting environment de-sanitized.

DCS's `MissionScripting.lua` removes `os`, `io` and `lfs` and disables `require` before
mission scripts run; missions that write files or load modules need a server where those lines
are commented out. This is a heuristic: a textual search of the mission file (its trigger
`DO SCRIPT` actions and waypoint scripts are strings in it), its dictionary (where the editor
may keep `DO SCRIPT` texts) and every `.lua` file in the archive (`DO SCRIPT FILE`) for
`os.`, `io.`, `lfs.` and `require`. A mention in a comment or a briefing counts too, and a
script can reach those names in ways no search sees; the answer is a hint for a squadron and
for support, not a guarantee.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

_USE = re.compile(
    rb"(?<![\w.:])(?:(os|io|lfs)[ \t]{0,8}\.[ \t]{0,8}[A-Za-z_]|(require)[ \t]{0,8}[(\"'\[])"
)
_OVERLAP = 32
"""Longer than any match, so a use split across two chunks is still seen."""
MAX_PLACES = 20


@dataclass(slots=True)
class SanitizedUses:
    """The sanitized modules scripts mention, and where (at most `MAX_PLACES` places)."""

    modules: set[str] = field(default_factory=set)
    places: list[str] = field(default_factory=list)

    def scan(self, place: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """Pass `chunks` through, noting every use found in them."""
        tail = b""
        found: set[str] = set()
        for chunk in chunks:
            window = tail + chunk
            for use in _USE.finditer(window):
                found.add((use.group(1) or use.group(2)).decode("ascii"))
            tail = window[-_OVERLAP:]
            yield chunk
        if found:
            self.modules |= found
            if len(self.places) < MAX_PLACES:
                self.places.append(place)
