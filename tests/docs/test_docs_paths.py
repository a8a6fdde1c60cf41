"""The maintainers' docs name real things: every path, function and link in them exists.

Checked in ``docs/*.md`` and ``README.md``, outside fenced code blocks:

- an inline code span that is a repository path (``bot/…``, ``cogs/…``, ``eventstore/…``,
  ``bench/…``, ``agent/…``, ``discord_emulator/…``, ``tests/…``, ``deploy/…``, ``docs/…`` or a
  top-level file) exists; one ending in ``/`` is a folder;
- ``path.py:Name`` or ``path.py:Class.member``: that file defines it;
- a bare ``Class`` or ``Class.member`` span (CamelCase) is defined somewhere in rr's packages,
  unless it is a name of an outside API listed in ``OUTSIDE_NAMES``;
- a relative Markdown link points at a file that exists, and its ``#anchor`` at a heading there.

So renaming or moving a file, class or function without updating the docs fails ``make test``.
"""

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
PACKAGES = ("agent", "bench", "bot", "cogs", "discord_emulator", "eventstore")
TOP_FOLDERS = (*PACKAGES, "deploy", "docs", "tests")
TOP_FILES = ("README.md", "Makefile", "pyproject.toml", ".env.example")

OUTSIDE_NAMES = frozenset(
    {
        # DynamoDB's operations and condition checks, named in the table design.
        "PutItem",
        "TransactWriteItems",
        "ConditionCheck",
        "DeleteItem",
        "GetItem",
        "UpdateItem",
        "Query",
        "Scan",
        # EC2's RunInstances parameter, in the README's EC2 section.
        "ClientToken",
        # discord.py's sharded client, in the design's "Past 2,500 guilds".
        "AutoShardedClient",
    }
)

FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
PATH = re.compile(
    r"^(?:\./)?(?P<path>(?:"
    + "|".join(re.escape(folder) for folder in TOP_FOLDERS)
    + r")/[\w./-]*|"
    + "|".join(re.escape(name) for name in TOP_FILES)
    + r")(?::(?P<name>[A-Za-z_]\w*(?:\.\w+)*))?$"
)
BARE_NAME = re.compile(r"^(?P<name>[A-Z][a-z]\w*(?:\.[A-Za-z_]\w*)?)$")


def _prose(document: Path) -> str:
    return FENCE.sub("", document.read_text(encoding="utf-8"))


def _spans(document: Path) -> list[str]:
    return CODE_SPAN.findall(_prose(document))


def _ids(documents: list[Path]) -> list[str]:
    return [str(document.relative_to(ROOT)) for document in documents]


@cache
def _definitions(path: Path) -> dict[str, set[str]]:
    """Qualified names a module defines: top-level names, and the members of its classes
    (class attributes, methods, and attributes its methods set on ``self``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: dict[str, set[str]] = {}

    def assigned(node: ast.stmt) -> list[str]:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            return [node.name]
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            return [node.target.id]
        if isinstance(node, ast.Assign):
            return [target.id for target in node.targets if isinstance(target, ast.Name)]
        return []

    for node in tree.body:
        for name in assigned(node):
            names.setdefault(name, set())
        if isinstance(node, ast.ClassDef):
            for member in node.body:
                names[node.name].update(assigned(member))
            names[node.name].update(
                target.attr
                for inner in ast.walk(node)
                if isinstance(inner, ast.Assign | ast.AnnAssign)
                for target in (inner.targets if isinstance(inner, ast.Assign) else [inner.target])
                if isinstance(target, ast.Attribute)
                and isinstance(target.value, ast.Name)
                and target.value.id == "self"
            )
    return names


def _defines(path: Path, qualified: str) -> bool:
    head, _, member = qualified.partition(".")
    names = _definitions(path)
    return head in names and (not member or member in names[head])


@cache
def _modules() -> list[Path]:
    return [path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))]


def _heading_anchors(document: Path) -> set[str]:
    """GitHub's anchors of a Markdown file's headings."""
    anchors = set()
    for line in _prose(document).splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", title)))
    return anchors


@pytest.mark.parametrize("document", DOCUMENTS, ids=_ids(DOCUMENTS))
def test_paths_and_their_names_exist(document: Path) -> None:
    missing = []
    for span in _spans(document):
        match = PATH.match(span)
        if match is None:
            continue
        path, name = ROOT / match["path"], match["name"]
        if not path.exists() or (match["path"].endswith("/") and not path.is_dir()):
            missing.append(f"{span}: no such file or folder")
        elif name is not None and not (path.suffix == ".py" and _defines(path, name)):
            missing.append(f"{span}: {match['path']} defines no {name}")
    assert not missing, f"{document.name} names what the tree does not hold:\n" + "\n".join(missing)


@pytest.mark.parametrize("document", DOCUMENTS, ids=_ids(DOCUMENTS))
def test_named_classes_exist(document: Path) -> None:
    missing = sorted(
        {
            span
            for span in _spans(document)
            if (match := BARE_NAME.match(span)) is not None
            and span.partition(".")[0] not in OUTSIDE_NAMES
            and not any(_defines(module, match["name"]) for module in _modules())
        }
    )
    assert not missing, f"{document.name} names classes rr does not define: {missing}"


@pytest.mark.parametrize("document", DOCUMENTS, ids=_ids(DOCUMENTS))
def test_relative_links_resolve(document: Path) -> None:
    broken = []
    for target in LINK.findall(_prose(document)):
        if re.match(r"^[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        linked = (document.parent / file).resolve() if file else document
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in _heading_anchors(linked):
            broken.append(f"{target}: no heading #{anchor}")
    assert not broken, f"{document.name} has broken links:\n" + "\n".join(broken)


def test_the_readme_links_the_maintainers_docs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert f"(docs/{page.name})" in readme, f"README.md does not link docs/{page.name}"


def test_no_code_comment_points_outside_the_repository() -> None:
    """Docstrings and comments point to docs/, not to a DESIGN.md or a folder outside."""
    outside = re.compile(r"DESIGN\.md|/work/|shared/reference")
    offenders = [
        str(module.relative_to(ROOT))
        for module in _modules()
        if outside.search(module.read_text(encoding="utf-8"))
    ]
    assert not offenders, f"pointers outside the repository in: {offenders}"
