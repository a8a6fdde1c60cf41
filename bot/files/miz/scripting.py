"""Whether a mission's scripts seem to need DCS's scripting environment de-sanitized.

DCS's `MissionScripting.lua` removes `os`, `io` and `lfs` and disables `require` before
mission scripts run; missions that write files or load modules need a server where those lines
are commented out. This is a heuristic: a textual search of the mission file (its trigger
`DO SCRIPT` actions and waypoint scripts are strings in it), its dictionary (where the editor
may keep `DO SCRIPT` texts) and every `.lua` file in the archive (`DO SCRIPT FILE`) for `os.`,
`io.`, `lfs.` and `require` where they are not part of a longer name. A mention in a comment
or a briefing counts too, and a script can reach those names in ways no search sees; the
answer is a hint for a squadron and for support, not a guarantee.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

_USES = {
    b"os.": re.compile(rb"os\.[A-Za-z_]"),
    b"io.": re.compile(rb"io\.[A-Za-z_]"),
    b"lfs.": re.compile(rb"lfs\.[A-Za-z_]"),
    b"require": re.compile(rb"require[ \t]{0,8}[(\"'\[]"),
}
"""Each module's use, found by `bytes.find` on its needle (a regular expression searching for
all four at once is several times slower), then checked where it was found."""
_OVERLAP = 16
"""Longer than any use, so one split across two chunks is still seen."""
MAX_PLACES = 20


def _uses(window: bytes, wanted: set[bytes]) -> set[bytes]:
    """The needles in `wanted` used in `window` as a module name, not inside another name."""
    found = set()
    for needle in wanted:
        use = _USES[needle]
        at = window.find(needle)
        while at != -1:
            before = window[at - 1 : at]
            if not (before.isalnum() or before in (b"_", b".", b":")) and use.match(window, at):
                found.add(needle)
                break
            at = window.find(needle, at + 1)
    return found


@dataclass(slots=True)
class SanitizedUses:
    """The sanitized modules scripts mention, and where (at most `MAX_PLACES` places)."""

    modules: set[str] = field(default_factory=set)
    places: list[str] = field(default_factory=list)

    def scan(self, place: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """Pass `chunks` through, noting every module used in them."""
        tail = b""
        wanted = set(_USES)
        for chunk in chunks:
            if wanted:
                window = tail + chunk
                wanted -= _uses(window, wanted)
                tail = window[-_OVERLAP:]
            yield chunk
        if len(wanted) < len(_USES):
            self.modules |= {needle.rstrip(b".").decode() for needle in set(_USES) - wanted}
            if len(self.places) < MAX_PLACES:
                self.places.append(place)
