"""The server image recipe: `packer validate` (when Debian's packer is installed), every
PowerShell script parsed by tree-sitter-powershell (rr's own user data too), and the image
installing the agent and hook of this very checkout, where rr's settings look for things."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import tree_sitter_powershell
from tree_sitter import Language, Node, Parser

from bot.cloud.base import AgentBoot
from bot.cloud.userdata import (
    AGENT_CREDENTIAL,
    AGENT_DIR,
    AGENT_SETTINGS,
    AGENT_TASK,
    NVME_READY_MARKER,
    NVME_WAIT_MINUTES,
    ServerBoot,
    ServerLayout,
    build_user_data,
)
from bot.config import Ec2Settings, ScheduleSettings
from tests.bot.cloud.helpers import credential_for
from tests.bot.cloud.userdata_reader import agent_settings_in_user_data, powershell_of
from tests.deploy.stack import REPO, template

PACKER_DIR = REPO / "deploy" / "packer"
RECIPE = PACKER_DIR / "rr-server.pkr.hcl"
SCRIPTS = sorted((PACKER_DIR / "scripts").glob("*.ps1"))
PARSER = Parser(Language(tree_sitter_powershell.language()))


def _errors(source: bytes) -> list[str]:
    found: list[str] = []

    def walk(node: Node) -> None:
        if node.type == "ERROR" or node.is_missing:
            line = node.start_point[0] + 1
            found.append(f"line {line}: {source[node.start_byte : node.end_byte][:80]!r}")
            return
        for child in node.children:
            walk(child)

    walk(PARSER.parse(source).root_node)
    return found


@pytest.mark.skipif(shutil.which("packer") is None, reason="packer is not installed")
def test_packer_validates_and_formats_the_recipe() -> None:
    validate = subprocess.run(
        ["packer", "validate", RECIPE.name],
        cwd=PACKER_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    formatted = subprocess.run(
        ["packer", "fmt", "-check", RECIPE.name],
        cwd=PACKER_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


def test_the_parser_finds_errors_where_there_are_some() -> None:
    assert _errors(b"if ($ready { Start-Sleep 1")


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_every_script_parses_as_powershell(script: Path) -> None:
    assert _errors(script.read_bytes()) == []


def test_every_script_runs_in_the_recipe() -> None:
    recipe = RECIPE.read_text(encoding="utf-8")
    named = set(re.findall(r"scripts/([A-Za-z-]+\.ps1)", recipe))
    by_scripts = {
        name
        for script in SCRIPTS
        for name in re.findall(r"C:\\rr\\scripts\\([A-Za-z-]+\.ps1)", script.read_text())
    }

    assert {s.name for s in SCRIPTS} == named | by_scripts


def _user_data_script() -> str:
    settings = Ec2Settings()
    layout = ServerLayout(
        write_folder=settings.write_folder,
        dcs_install_dir=settings.dcs_install_dir,
        srs_server_exe=settings.srs_server_exe,
        login_helper=settings.login_helper,
    )
    boot = ServerBoot(
        session_id="m-1",
        attempt=1,
        agent=AgentBoot("https://rr.example.org", credential_for("m-1")),
        login_parameter="/rr/prod/ed-login/one",
        region="eu-west-1",
    )
    return build_user_data(boot, layout)


def _user_data() -> bytes:
    return powershell_of(_user_data_script())


def test_rrs_user_data_parses_as_powershell() -> None:
    assert _errors(_user_data()) == []


_TRANSPARENT = {
    "pipeline",
    "pipeline_chain",
    "logical_expression",
    "bitwise_expression",
    "comparison_expression",
    "additive_expression",
    "multiplicative_expression",
    "format_expression",
    "range_expression",
    "array_literal_expression",
    "unary_expression",
}


def _value(node: Node, variables: dict[str, str]) -> str | None:
    """The string a path expression of the scripts evaluates to on Windows, or None: literals,
    variables assigned earlier, ``$env:ProgramData`` and ``Join-Path`` (all the scripts use)."""
    text = (node.text or b"").decode()
    named = [child for child in node.named_children if child.type != "command_argument_sep"]
    if node.type in _TRANSPARENT and len(named) == 1:
        return _value(named[0], variables)
    if node.type == "parenthesized_expression" and len(named) == 1:
        return _value(named[0], variables)
    if node.type == "variable":
        if text.lower() == "$env:programdata":
            return "C:\\ProgramData"
        return variables.get(text.lower())
    if node.type == "string_literal" and text.startswith("'"):
        return text[1:-1].replace("''", "'")
    if node.type == "string_literal" and "$" not in text and "`" not in text:
        return text[1:-1]
    if node.type == "command" and _command_name(node) == "join-path":
        parts = [_value(argument, variables) for argument in _arguments(node)]
        if len(parts) == 2 and None not in parts:
            return "\\".join(str(part).rstrip("\\") for part in parts)
    return None


def _command_name(command: Node) -> str:
    name = command.child_by_field_name("command_name") or command.named_children[0]
    return (name.text or b"").decode().lower()


def _arguments(command: Node) -> list[Node]:
    """A command's positional arguments and the values of its ``-Path``/``-LiteralPath``."""
    elements = next((c for c in command.named_children if c.type == "command_elements"), None)
    if elements is None:
        return []
    found = []
    skip = False
    for element in elements.named_children:
        if element.type == "command_argument_sep":
            continue
        if element.type == "command_parameter":
            parameter = (element.text or b"").decode().lower()
            skip = parameter not in ("-path", "-literalpath")
            continue
        if not skip:
            found.append(element)
        skip = False
    return found


def _paths_used(source: bytes) -> dict[str, set[str]]:
    """For each cmdlet of the script, the paths it is given that evaluate (see ``_value``)."""
    variables: dict[str, str] = {}
    used: dict[str, set[str]] = {}

    def walk(node: Node) -> None:
        if node.type == "assignment_expression":
            target, value = node.named_children[0], node.named_children[-1]
            for child in node.named_children[1:]:
                walk(child)
            evaluated = _value(value, variables)
            if evaluated is not None:
                variables[(target.text or b"").decode().lower()] = evaluated
            return
        if node.type == "command":
            for argument in _arguments(node):
                evaluated = _value(argument, variables)
                if evaluated is not None:
                    used.setdefault(_command_name(node), set()).add(evaluated)
        for child in node.children:
            walk(child)

    walk(PARSER.parse(source).root_node)
    return used


def test_the_path_reader_evaluates_the_scripts_way_of_naming_paths() -> None:
    source = b"""$s = Join-Path $env:ProgramData 'rr'
Test-Path (Join-Path $s "x") ; Set-Content -Path (Join-Path $s 'it''s') -Value 'v'"""

    assert _paths_used(source) == {
        "join-path": {"C:\\ProgramData", "rr", "C:\\ProgramData\\rr", "x", "it's"},
        "test-path": {"C:\\ProgramData\\rr\\x"},
        "set-content": {"C:\\ProgramData\\rr\\it's"},
    }


def test_the_image_and_the_user_data_name_the_same_nvme_ready_marker() -> None:
    scripts = PACKER_DIR / "scripts"
    prepare = _paths_used((scripts / "prepare-nvme.ps1").read_bytes())
    agent = _paths_used((scripts / "start-agent.ps1").read_bytes())
    user_data = _paths_used(_user_data())

    assert NVME_READY_MARKER in prepare["set-content"]  # the image writes it when DCS is copied
    assert NVME_READY_MARKER in prepare["remove-item"]  # and clears it at each boot first
    assert NVME_READY_MARKER in agent["test-path"]
    assert NVME_READY_MARKER in user_data["test-path"]


def _statement_calls(statement: Node) -> set[str]:
    calls: set[str] = set()

    def walk(node: Node) -> None:
        if node.type == "command":
            calls.add(_command_name(node))
        if node.type in ("invokation_expression", "member_access"):
            calls.add((node.text or b"").decode())
        for child in node.children:
            walk(child)

    walk(statement)
    return calls


def test_user_data_waits_for_the_nvme_before_writing_files_or_starting_anything() -> None:
    source = _user_data()
    statements = PARSER.parse(source).root_node.named_children[0].named_children
    texts = [(statement.text or b"").decode() for statement in statements]
    waits = [
        i
        for i, statement in enumerate(statements)
        if statement.type == "while_statement"
        and NVME_READY_MARKER
        in _paths_used(source[: statement.end_byte]).get("test-path", set())
        - _paths_used(source[: statement.start_byte]).get("test-path", set())
    ]
    acting = [
        i
        for i, text in enumerate(texts)
        if {"set-acl", "set-content", "start-scheduledtask", "get-process", "get-ssmparameter"}
        & _statement_calls(statements[i])
        or any(call.endswith(".ps1'") for call in _statement_calls(statements[i]))
    ]

    assert len(waits) == 1, "the user data must wait once, at top level, for the marker"
    assert acting and waits[0] < min(acting)
    assert any(f"Start-ScheduledTask -TaskName '{AGENT_TASK}'" in texts[i] for i in acting)
    assert any("ed-login.ps1" in texts[i] for i in acting)
    timeout = texts[waits[0]]
    assert re.search(
        r"if \(\(Get-Date\) -ge \$NvmeDeadline\) \{\s*Write-Output \('rr FAILED: [^\n]*"
        r"\s*Stop-Transcript\s*exit 1\s*\}",
        timeout,
    ), timeout
    assert f"$NvmeDeadline = (Get-Date).AddMinutes({NVME_WAIT_MINUTES})" in texts[waits[0] - 1]
    assert ScheduleSettings().readiness_timeout_minutes > NVME_WAIT_MINUTES


def test_the_image_reads_the_agents_values_where_the_user_data_leaves_them() -> None:
    scripts = PACKER_DIR / "scripts"
    agent = _paths_used((scripts / "start-agent.ps1").read_bytes())
    user_data = _paths_used(_user_data())

    assert AGENT_SETTINGS == AGENT_DIR + "\\agent.env"
    assert AGENT_CREDENTIAL == AGENT_DIR + "\\credential"
    assert {AGENT_SETTINGS, AGENT_CREDENTIAL} <= user_data["set-content"]
    assert AGENT_DIR in user_data["set-acl"]  # the folder is closed before anything goes in
    assert {AGENT_SETTINGS, AGENT_CREDENTIAL, NVME_READY_MARKER} <= agent["test-path"]
    assert AGENT_SETTINGS in agent["get-content"]


def test_the_agent_task_gets_every_setting_the_user_data_writes_and_the_credential_file() -> None:
    start = (PACKER_DIR / "scripts" / "start-agent.ps1").read_text()
    tasks = (PACKER_DIR / "scripts" / "register-boot-tasks.ps1").read_text()
    written = set(agent_settings_in_user_data(_user_data_script()))
    read = re.search(r"^\$names = (.+)$", start, re.MULTILINE)

    assert read is not None
    assert set(re.findall(r"'(RR_AGENT_[A-Z_]+)'", read.group(1))) == written
    agent_call = next(line for line in start.splitlines() if " -m agent " in line)
    for option, value in (
        ("--rr-url", "$values['RR_AGENT_URL']"),
        ("--root", "$root"),
        ("--dcs-exe", "$values['RR_AGENT_DCS_EXE']"),
        ("--srs-exe", "$values['RR_AGENT_SRS_EXE']"),
        ("--credential-file", "$credential"),
    ):
        assert f" {option} {value}" in agent_call
    assert "Set-Location -LiteralPath (Split-Path -Parent $values['RR_AGENT_DCS_EXE'])" in start
    assert f"Register-ScheduledTask -TaskName '{AGENT_TASK}'" in tasks
    assert "start-agent.ps1" in tasks


def test_the_image_installs_the_agent_and_hook_of_this_checkout() -> None:
    recipe = RECIPE.read_text(encoding="utf-8")
    copied = re.search(
        r'provisioner "file" \{\s*source\s*=\s*"\$\{path\.root\}/([^"]+)"\s*'
        r'destination\s*=\s*"\$\{local\.stage\}\\\\agent"',
        recipe,
    )
    assert copied is not None, "the recipe copies no agent from the checkout"
    assert (PACKER_DIR / copied.group(1)).resolve() == REPO / "agent"
    assert (REPO / "agent" / "hook" / "rr_hook.lua").is_file()
    assert '"RR_AGENT_STAGE=${local.stage}\\\\agent"' in recipe
    install = (PACKER_DIR / "scripts" / "install-agent.ps1").read_text()
    assert "Copy-Item -Path $env:RR_AGENT_STAGE" in install
    assert "agent.hookfile.hook_source()" in install  # the installed hook is the package's


def test_the_image_puts_things_where_rrs_settings_look() -> None:
    defaults = Ec2Settings()
    recipe = RECIPE.read_text(encoding="utf-8")
    srs = (PACKER_DIR / "scripts" / "install-srs.ps1").read_text()
    install_dir = re.search(r'variable "dcs_install_dir" \{[^}]*default\s*=\s*"([^"]+)"', recipe)
    stack_default = template()["Parameters"]["DcsInstallDir"]["Default"]

    assert defaults.login_helper == r"C:\rr\ed-login.ps1"
    assert (
        r"-Destination 'C:\rr\ed-login.ps1'"
        in (PACKER_DIR / "scripts" / "install-agent.ps1").read_text()
    )
    assert defaults.srs_server_exe.endswith(
        r"\ServerCommandLine-Windows\SRS-Server-Commandline.exe"
    )
    assert r"'ServerCommandLine-Windows\SRS-Server-Commandline.exe'" in srs
    assert install_dir is not None
    assert install_dir.group(1).replace("\\\\", "\\") == stack_default
