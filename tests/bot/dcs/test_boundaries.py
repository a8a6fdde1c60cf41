"""bot.dcs depends only on the standard library and bot.domain; the settings only on the former."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import bot.dcs
import bot.domain.settings

DCS_MODULES = sorted(Path(bot.dcs.__file__).parent.glob("*.py"))


def imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0 and node.module, f"relative import in {path.name}"
            modules.add(node.module)
    return modules


def is_standard_library(module: str) -> bool:
    return module.split(".")[0] in sys.stdlib_module_names or module == "__future__"


@pytest.mark.parametrize("path", DCS_MODULES, ids=lambda path: path.name)
def test_dcs_modules_import_only_the_standard_library_and_the_domain(path: Path) -> None:
    for module in imported_modules(path):
        allowed = module.startswith(("bot.domain.", "bot.dcs")) or is_standard_library(module)
        assert allowed, f"{path.name} imports {module}"


def test_the_settings_import_only_the_standard_library() -> None:
    modules = imported_modules(Path(bot.domain.settings.__file__))
    assert all(is_standard_library(module) for module in modules), modules
