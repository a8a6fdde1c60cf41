"""Windows user data that turns a prepared DCS image into a squadron's server.

The rendered files travel inside the script as one payload: a JSON index line
(``[{"path": ..., "size": ...}, ...]``) followed by the files' bytes back to back, gzip-compressed
and base64-encoded. The script decodes it, writes each file with ``[IO.File]::WriteAllBytes``
(exact bytes, so UTF-8 stays without BOM — ``Out-File`` in Windows PowerShell 5.1 would write
UTF-16 or add a BOM), starts SRS when its config is among the files, then DCS with the write
folder. Before any of that it waits for the image's NVMe-ready marker (``NVME_READY_MARKER``,
written by ``deploy/packer/scripts/prepare-nvme.ps1`` once DCS is copied onto the instance
store); if it has not appeared after ``NVME_WAIT_MINUTES`` the script logs the failure and exits
1, starting nothing, and rr's readiness timeout reports the launch as failed. An ED server
login travels only as the name of an SSM SecureString parameter: the instance reads the value
with its instance profile and hands it to the image's login helper in an environment variable,
so the credential is never in the user data.

EC2 takes at most 16 KB of user data; a script over that is refused, never truncated.
"""

import base64
import gzip
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from bot.cloud.base import LaunchError

USER_DATA_LIMIT = 16 * 1024
"""Bytes of user data EC2 accepts, before its own base64 encoding."""
SRS_CONFIG = "Config/SRS.cfg"
NVME_READY_MARKER = "C:\\ProgramData\\rr\\nvme-ready"
"""The file the image's boot task writes once DCS is on the instance store; the image's scripts
name the same path (``tests/deploy/test_packer.py`` checks)."""
NVME_WAIT_MINUTES = 30
"""How long the user data waits for ``NVME_READY_MARKER``; below rr's readiness timeout, so the
failure is logged on the server before rr gives up on it."""
_FILE_PATH = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")
_PRINTABLE_ASCII = re.compile(r"[ -~]*")


@dataclass(frozen=True)
class ServerLayout:
    """Where the image keeps DCS, SRS and the login helper.

    ``write_folder`` is the folder name under the Saved Games of the account running the user
    data; DCS's ``-w`` takes that name. ``login_helper`` is a PowerShell script on the image
    that signs DCS in with the login given in ``$env:RR_ED_LOGIN`` (the SSM parameter's value).
    """

    write_folder: str
    dcs_install_dir: str
    srs_server_exe: str
    login_helper: str


@dataclass(frozen=True)
class ServerBoot:
    """Everything one launch puts into its user data."""

    session_id: str
    attempt: int
    files: Mapping[str, bytes]
    login_parameter: str | None
    region: str


def build_user_data(boot: ServerBoot, layout: ServerLayout) -> str:
    """The ``<powershell>`` user data; raises ``LaunchError("config")`` if it would not fit."""
    payload = base64.b64encode(pack_files(boot.files)).decode("ascii")
    try:
        script = _script(boot, layout, payload)
    except ValueError as error:
        raise LaunchError("config", str(error)) from None
    size = len(script.encode("utf-8"))
    if size > USER_DATA_LIMIT:
        raise LaunchError(
            "config",
            f"The squadron's server settings are too large to hand to a server ({size:,} bytes "
            f"compressed, the limit is {USER_DATA_LIMIT:,}); shorten the description or the "
            "mission list.",
        )
    return script


def pack_files(files: Mapping[str, bytes]) -> bytes:
    """The gzip payload: a JSON index line, then every file's bytes in index order."""
    for path in files:
        if not _FILE_PATH.fullmatch(path) or ".." in path.split("/"):
            raise LaunchError(
                "config",
                f"The server file path {path!r} must be relative to the DCS folder and use only "
                "letters, digits, '.', '_', '-' and '/'.",
            )
    paths = sorted(files)
    index = [{"path": path, "size": len(files[path])} for path in paths]
    header = json.dumps(index, separators=(",", ":")).encode("ascii") + b"\n"
    body = b"".join(files[path] for path in paths)
    return gzip.compress(header + body, compresslevel=9, mtime=0)


def powershell_literal(text: str) -> str:
    """``text`` as a single-quoted PowerShell string; only printable ASCII is accepted, because
    PowerShell also ends single-quoted strings at typographic quotes."""
    if not _PRINTABLE_ASCII.fullmatch(text):
        raise ValueError(f"{text!r} must be printable ASCII to go into the server's script.")
    return "'" + text.replace("'", "''") + "'"


def _script(boot: ServerBoot, layout: ServerLayout, payload: str) -> str:
    dcs_exe = layout.dcs_install_dir.rstrip("\\") + "\\bin\\DCS_server.exe"
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
        f"$WriteFolder = {powershell_literal(layout.write_folder)}",
        "$SavedGames = Join-Path ([Environment]::GetFolderPath('UserProfile')) 'Saved Games'",
        "$WriteDir = Join-Path $SavedGames $WriteFolder",
        f"$Payload = {powershell_literal(payload)}",
        "$packed = New-Object IO.MemoryStream(, [Convert]::FromBase64String($Payload))",
        "$gzip = New-Object IO.Compression.GZipStream($packed, "
        "[IO.Compression.CompressionMode]::Decompress)",
        "$unpacked = New-Object IO.MemoryStream",
        "$gzip.CopyTo($unpacked)",
        "$bytes = $unpacked.ToArray()",
        "$split = [Array]::IndexOf($bytes, [byte]10)",
        "$index = [Text.Encoding]::UTF8.GetString($bytes, 0, $split) | ConvertFrom-Json",
        "$offset = $split + 1",
        "foreach ($file in $index) {",
        "    $target = Join-Path $WriteDir ($file.path.Replace('/', '\\'))",
        "    [void][IO.Directory]::CreateDirectory([IO.Path]::GetDirectoryName($target))",
        "    $content = New-Object byte[] $file.size",
        "    [Array]::Copy($bytes, $offset, $content, 0, $file.size)",
        "    [IO.File]::WriteAllBytes($target, $content)",
        "    $offset += $file.size",
        "}",
    ]
    if SRS_CONFIG in boot.files:
        srs_config = SRS_CONFIG.replace("/", "\\")
        lines += [
            f"$SrsConfig = Join-Path $WriteDir {powershell_literal(srs_config)}",
            f"Start-Process -FilePath {powershell_literal(layout.srs_server_exe)} "
            '-ArgumentList "-cfg=`"$SrsConfig`""',
        ]
    lines.append(
        f"$dcs = Start-Process -FilePath {powershell_literal(dcs_exe)} "
        "-ArgumentList '--server', '--norender', '-w', $WriteFolder -PassThru"
    )
    if boot.login_parameter is not None:
        parameter = powershell_literal(boot.login_parameter)
        region = powershell_literal(boot.region)
        lines += [
            f"$env:RR_ED_LOGIN = (Get-SSMParameter -Name {parameter} -WithDecryption $true "
            f"-Region {region}).Value",
            "try {",
            f"    & {powershell_literal(layout.login_helper)} -DcsProcessId $dcs.Id "
            "-WriteDir $WriteDir",
            "} finally {",
            "    Remove-Item Env:RR_ED_LOGIN",
            "}",
        ]
    lines += ["Stop-Transcript", "</powershell>", ""]
    return "\n".join(lines)
