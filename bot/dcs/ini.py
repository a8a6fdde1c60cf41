"""INI text for SRS's server.cfg.

A value that could break its line (a newline, `=`, `;`, `#`, `[`, a quote, a backslash,
surrounding spaces that readers trim) is refused, never escaped or trimmed: INI has no
escaping that every reader agrees on, and SRS must see the password the admin chose. The
squadron settings refuse such values when they are set (`bot.domain.settings.IniText`), so a
refusal here means a caller skipped validation. Booleans are written `true`/`false`, the way SRS
writes them; sections and keys in sorted order, so the output is deterministic.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TypeAlias

from bot.domain.settings import is_ini_safe

IniValue: TypeAlias = bool | int | str

_NAME = re.compile(r"[A-Za-z0-9_]+( [A-Za-z0-9_]+)*")


def ini_value(value: IniValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if not is_ini_safe(value):
        raise ValueError('An INI value may not hold spaces, control characters or = ; # [ ] " \\.')
    return value


def render_ini(sections: Mapping[str, Mapping[str, IniValue]], comment: str) -> str:
    """The INI text for `sections`, opened by a `;` comment line."""
    if not comment.isprintable():
        raise ValueError("An INI comment must be a single printable line.")
    lines = [f"; {comment}"]
    for section in sorted(sections):
        _check_name(section)
        lines += ["", f"[{section}]"]
        for key in sorted(sections[section]):
            _check_name(key)
            lines.append(f"{key}={ini_value(sections[section][key])}")
    return "\n".join(lines) + "\n"


def _check_name(name: str) -> None:
    if _NAME.fullmatch(name) is None:
        raise ValueError(f"{name!r} is not a plain INI section or key name.")
