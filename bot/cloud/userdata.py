"""Windows user data that tells a prepared DCS image where rr is and who the server is.

The image runs rr's agent as the scheduled task ``AGENT_TASK`` (``deploy/packer/scripts/
register-boot-tasks.ps1`` and ``start-agent.ps1``); the agent fetches the server's files from
rr, writes them and starts SRS and DCS. So the user data holds no password and no file: only
rr's address, the credential minted for this launch, the image's paths rr is configured with,
and, when the deployment has ED logins, the *name* of the SSM parameter holding one.

It waits for the image's NVMe-ready marker (``NVME_READY_MARKER``, written by
``deploy/packer/scripts/prepare-nvme.ps1`` once DCS is copied onto the instance store); if it
has not appeared after ``NVME_WAIT_MINUTES`` the script logs the failure and exits 1, starting
nothing, and rr's readiness timeout reports the launch as failed. Then it writes the agent's
settings and credential into ``AGENT_DIR``, a folder only SYSTEM (the agent's account) and
administrators may open, and starts the agent's task. The credential stays readable where EC2
keeps user data (DescribeInstanceAttribute, the instance metadata service) until it expires
with the session: see deploy/README.md "What the user data holds".

An ED server login is read on the server by its parameter's name, with the instance profile,
once the agent has started DCS, and handed to the image's login helper in an environment
variable of the user data's own process (never the agent's, so DCS does not inherit it).
"""

import re
from dataclasses import dataclass

from bot.cloud.base import AgentBoot, LaunchError

NVME_READY_MARKER = "C:\\ProgramData\\rr\\nvme-ready"
"""The file the image's boot task writes once DCS is on the instance store; the image's scripts
name the same path (``tests/deploy/test_packer.py`` checks)."""
NVME_WAIT_MINUTES = 30
"""How long the user data waits for ``NVME_READY_MARKER``; below rr's readiness timeout, so the
failure is logged on the server before rr gives up on it."""
AGENT_DIR = "C:\\ProgramData\\rr\\agent"
"""Where the user data leaves the agent's settings and credential; the image's agent task reads
them from the same paths (``tests/deploy/test_packer.py`` checks)."""
AGENT_SETTINGS = AGENT_DIR + "\\agent.env"
"""``KEY=VALUE`` lines: RR_AGENT_URL, RR_AGENT_WRITE_FOLDER, RR_AGENT_DCS_EXE, RR_AGENT_SRS_EXE."""
AGENT_CREDENTIAL = AGENT_DIR + "\\credential"
AGENT_TASK = "rr-agent"
"""The image's scheduled task that runs the agent as SYSTEM."""
DCS_PROCESS = "DCS_server"
DCS_START_WAIT_MINUTES = 10
"""How long the login step waits for the agent to start DCS (after fetching its files)."""
_HTTP_URL = re.compile(r"https?://[!-~]+")


@dataclass(frozen=True)
class ServerLayout:
    """Where the image keeps DCS, SRS and the login helper.

    ``write_folder`` is the folder name under the Saved Games of the account running DCS (the
    agent's); DCS's ``-w`` takes that name. ``login_helper`` is a PowerShell script on the
    image that signs DCS in with the login given in ``$env:RR_ED_LOGIN`` (the SSM parameter's
    value).
    """

    write_folder: str
    dcs_install_dir: str
    srs_server_exe: str
    login_helper: str

    @property
    def dcs_exe(self) -> str:
        return self.dcs_install_dir.rstrip("\\") + "\\bin\\DCS_server.exe"


@dataclass(frozen=True)
class ServerBoot:
    """Everything one launch puts into its user data."""

    session_id: str
    attempt: int
    agent: AgentBoot
    login_parameter: str | None
    region: str


def build_user_data(boot: ServerBoot, layout: ServerLayout) -> str:
    """The ``<powershell>`` user data; raises ``LaunchError("config")`` for a value that cannot
    go into it."""
    if not _HTTP_URL.fullmatch(boot.agent.rr_url):
        raise LaunchError(
            "config",
            "rr's web address is not an http(s) address a server can reach; set RR_PUBLIC_URL.",
        )
    try:
        return _script(boot, layout)
    except ValueError as error:
        raise LaunchError("config", str(error)) from None


def powershell_literal(text: str) -> str:
    """``text`` as a single-quoted PowerShell string; only printable ASCII is accepted, because
    PowerShell also ends single-quoted strings at typographic quotes."""
    if not re.fullmatch(r"[ -~]*", text):
        raise ValueError(f"{text!r} must be printable ASCII to go into the server's script.")
    return "'" + text.replace("'", "''") + "'"


def _settings_line(name: str, value: str) -> str:
    if "\n" in value or "\r" in value:
        raise ValueError(f"{name} must be one line.")
    return powershell_literal(f"{name}={value}")


def _script(boot: ServerBoot, layout: ServerLayout) -> str:
    settings = ", ".join(
        _settings_line(name, value)
        for name, value in (
            ("RR_AGENT_URL", boot.agent.rr_url),
            ("RR_AGENT_WRITE_FOLDER", layout.write_folder),
            ("RR_AGENT_DCS_EXE", layout.dcs_exe),
            ("RR_AGENT_SRS_EXE", layout.srs_server_exe),
        )
    )
    lines = [
        "<powershell>",
        "$ErrorActionPreference = 'Stop'",
        "$LogDir = Join-Path $env:ProgramData 'rr'",
        "[void][IO.Directory]::CreateDirectory($LogDir)",
        "Start-Transcript -Path (Join-Path $LogDir 'user-data.log') -Append",
        f"Write-Output ('rr session ' + {powershell_literal(boot.session_id)} "
        f"+ ', launch attempt {boot.attempt:d}')",
        f"$NvmeReady = {powershell_literal(NVME_READY_MARKER)}",
        f"$NvmeDeadline = (Get-Date).AddMinutes({NVME_WAIT_MINUTES:d})",
        "while (-not (Test-Path -LiteralPath $NvmeReady)) {",
        "    if ((Get-Date) -ge $NvmeDeadline) {",
        "        Write-Output ('rr FAILED: DCS is not on the instance store after "
        f"{NVME_WAIT_MINUTES:d} minutes (no ' + $NvmeReady + '; see prepare-nvme.log); "
        "starting nothing')",
        "        Stop-Transcript",
        "        exit 1",
        "    }",
        "    Start-Sleep -Seconds 5",
        "}",
        "Write-Output ('rr instance store: ' + (Get-Content -LiteralPath $NvmeReady -Raw "
        "-ErrorAction SilentlyContinue))",
        f"$AgentDir = {powershell_literal(AGENT_DIR)}",
        "$AgentAcl = New-Object Security.AccessControl.DirectorySecurity",
        "$AgentAcl.SetAccessRuleProtection($true, $false)",
        "foreach ($sid in 'S-1-5-18', 'S-1-5-32-544') {",
        "    $account = New-Object Security.Principal.SecurityIdentifier($sid)",
        "    $AgentAcl.AddAccessRule((New-Object Security.AccessControl.FileSystemAccessRule("
        "$account, 'FullControl', 'ContainerInherit, ObjectInherit', 'None', 'Allow')))",
        "}",
        "[void][IO.Directory]::CreateDirectory($AgentDir)",
        "Set-Acl -LiteralPath $AgentDir -AclObject $AgentAcl",
        f"$AgentSettings = Join-Path $AgentDir {powershell_literal(_leaf(AGENT_SETTINGS))}",
        f"Set-Content -LiteralPath $AgentSettings -Value @({settings}) -Encoding ascii",
        f"$AgentCredential = Join-Path $AgentDir {powershell_literal(_leaf(AGENT_CREDENTIAL))}",
        f"Set-Content -LiteralPath $AgentCredential -Value "
        f"{powershell_literal(boot.agent.credential)} -Encoding ascii -NoNewline",
        f"Start-ScheduledTask -TaskName {powershell_literal(AGENT_TASK)}",
        "Write-Output 'rr agent started'",
    ]
    if boot.login_parameter is not None:
        lines += _login(boot, layout)
    lines += ["Stop-Transcript", "</powershell>", ""]
    return "\n".join(lines)


def _leaf(path: str) -> str:
    return path.rsplit("\\", 1)[1]


def _login(boot: ServerBoot, layout: ServerLayout) -> list[str]:
    """Wait for the DCS the agent starts, then sign it in with the ED login read from SSM."""
    parameter = powershell_literal(boot.login_parameter or "")
    region = powershell_literal(boot.region)
    return [
        f"$WriteFolder = {powershell_literal(layout.write_folder)}",
        "$SavedGames = Join-Path ([Environment]::GetFolderPath('UserProfile')) 'Saved Games'",
        "$WriteDir = Join-Path $SavedGames $WriteFolder",
        f"$DcsDeadline = (Get-Date).AddMinutes({DCS_START_WAIT_MINUTES:d})",
        f"while (-not ($dcs = Get-Process -Name {powershell_literal(DCS_PROCESS)} "
        "-ErrorAction SilentlyContinue | Select-Object -First 1)) {",
        "    if ((Get-Date) -ge $DcsDeadline) {",
        "        Write-Output ('rr FAILED: the agent started no DCS within "
        f"{DCS_START_WAIT_MINUTES:d} minutes (see agent.log); DCS is not signed in')",
        "        Stop-Transcript",
        "        exit 1",
        "    }",
        "    Start-Sleep -Seconds 2",
        "}",
        f"$env:RR_ED_LOGIN = (Get-SSMParameter -Name {parameter} -WithDecryption $true "
        f"-Region {region}).Value",
        "try {",
        f"    & {powershell_literal(layout.login_helper)} -DcsProcessId $dcs.Id "
        "-WriteDir $WriteDir",
        "} finally {",
        "    Remove-Item Env:RR_ED_LOGIN",
        "}",
    ]
