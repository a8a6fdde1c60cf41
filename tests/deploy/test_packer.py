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

from bot.cloud.userdata import ServerBoot, ServerLayout, build_user_data
from bot.config import Ec2Settings
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


def test_rrs_user_data_parses_as_powershell() -> None:
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
        files={"Config/SRS.cfg": b"[Server Settings]\n"},
        login_parameter="/rr/prod/ed-login/one",
        region="eu-west-1",
    )
    script = build_user_data(boot, layout)
    body = script.removeprefix("<powershell>\n").removesuffix("</powershell>\n")

    assert _errors(body.encode()) == []


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
