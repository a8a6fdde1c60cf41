"""The PowerShell user data: the files inside, byte for byte, the 16 KB limit, the start-up."""

import random
import re

import pytest

from bot.cloud.base import LaunchError
from bot.cloud.userdata import (
    NVME_READY_MARKER,
    NVME_WAIT_MINUTES,
    USER_DATA_LIMIT,
    ServerBoot,
    ServerLayout,
    build_user_data,
    powershell_literal,
)
from bot.dcs import SessionOptions, render_server_files
from bot.domain.settings import SquadronSettings
from tests.bot.cloud.userdata_reader import files_in_user_data

LAYOUT = ServerLayout(
    write_folder="DCS.dcs_serverrelease",
    dcs_install_dir="C:\\Program Files\\Eagle Dynamics\\DCS World Server",
    srs_server_exe="C:\\SRS\\ServerCommandLine-Windows\\SRS-Server-Commandline.exe",
    login_helper="C:\\rr\\ed-login.ps1",
)
SESSION_ID = "5f0c6d3e-1f3a-4c55-9d59-0d9a2c6b7e11"


def boot(files: dict[str, bytes], login: str | None = None) -> ServerBoot:
    return ServerBoot(
        session_id=SESSION_ID, attempt=2, files=files, login_parameter=login, region="eu-west-1"
    )


def squadron(**changes: object) -> SquadronSettings:
    return SquadronSettings().apply_changes(changes)


def with_addons() -> SquadronSettings:
    return squadron(
        **{
            "server_name": 'JG 52 "Training" — Caucasus',
            "password": "hunter2",
            "srs.enabled": True,
            "lotatc.enabled": True,
            "lotatc.blue_password": "blue-pw",
        }
    )


def test_user_data_carries_every_rendered_file_byte_for_byte() -> None:
    files = render_server_files(with_addons(), SessionOptions(session_id=SESSION_ID))

    script = build_user_data(boot(files), LAYOUT)

    assert files_in_user_data(script) == files
    assert script.startswith("<powershell>\n") and script.endswith("</powershell>\n")
    assert script.isascii(), "the script itself must be plain ASCII: UTF-8 with no BOM"


def test_user_data_writes_exact_bytes_into_the_write_folder_and_starts_dcs_there() -> None:
    files = render_server_files(squadron(), SessionOptions(session_id=SESSION_ID))

    script = build_user_data(boot(files), LAYOUT)

    assert "[IO.File]::WriteAllBytes($target, $content)" in script
    assert not re.search(r"Out-File|Set-Content|Add-Content| >>? ", script)
    assert "$WriteFolder = 'DCS.dcs_serverrelease'" in script
    assert (
        "Start-Process -FilePath 'C:\\Program Files\\Eagle Dynamics\\DCS World Server\\bin\\"
        "DCS_server.exe' -ArgumentList '--server', '--norender', '-w', $WriteFolder -PassThru"
    ) in script


def test_user_data_waits_for_dcs_on_the_instance_store_and_fails_loudly_after_a_while() -> None:
    files = render_server_files(with_addons(), SessionOptions(session_id=SESSION_ID))

    script = build_user_data(boot(files, login="/rr/ed-login/1"), LAYOUT)

    assert NVME_READY_MARKER == "C:\\ProgramData\\rr\\nvme-ready"
    assert "$NvmeReady = 'C:\\ProgramData\\rr\\nvme-ready'" in script
    assert f"$NvmeDeadline = (Get-Date).AddMinutes({NVME_WAIT_MINUTES})" in script
    assert "while (-not (Test-Path -LiteralPath $NvmeReady)) {" in script
    assert (
        f"Write-Output ('rr FAILED: DCS is not on the instance store after {NVME_WAIT_MINUTES} "
        "minutes (no ' + $NvmeReady + '; see prepare-nvme.log); starting nothing')"
    ) in script
    assert "        Stop-Transcript\n        exit 1\n" in script
    wait = script.index("while (-not (Test-Path -LiteralPath $NvmeReady))")
    for later in ("WriteAllBytes", "SRS-Server-Commandline", "DCS_server.exe", "Get-SSMParameter"):
        assert wait < script.index(later), later  # the order is checked by parsing in tests/deploy


def test_srs_starts_with_its_config_only_when_enabled() -> None:
    with_srs = render_server_files(with_addons(), SessionOptions(session_id=SESSION_ID))
    without = render_server_files(squadron(), SessionOptions(session_id=SESSION_ID))

    started = build_user_data(boot(with_srs), LAYOUT)
    not_started = build_user_data(boot(without), LAYOUT)

    assert "$SrsConfig = Join-Path $WriteDir 'Config\\SRS.cfg'" in started
    assert (
        "Start-Process -FilePath 'C:\\SRS\\ServerCommandLine-Windows\\SRS-Server-Commandline.exe'"
        ' -ArgumentList "-cfg=`"$SrsConfig`""'
    ) in started
    assert started.index("SRS-Server-Commandline") < started.index("DCS_server.exe")
    assert "SRS" not in not_started


def test_login_is_read_on_the_server_by_parameter_name_and_handed_to_the_login_helper() -> None:
    files = render_server_files(squadron(), SessionOptions(session_id=SESSION_ID))

    with_login = build_user_data(boot(files, login="/rr/ed-login/2"), LAYOUT)
    without_login = build_user_data(boot(files), LAYOUT)

    assert (
        "$env:RR_ED_LOGIN = (Get-SSMParameter -Name '/rr/ed-login/2' -WithDecryption $true "
        "-Region 'eu-west-1').Value"
    ) in with_login
    assert "& 'C:\\rr\\ed-login.ps1' -DcsProcessId $dcs.Id -WriteDir $WriteDir" in with_login
    assert "Remove-Item Env:RR_ED_LOGIN" in with_login
    assert "SSM" not in without_login and "RR_ED_LOGIN" not in without_login


def test_largest_settings_squadrons_can_type_fit_once_compressed() -> None:
    options = SessionOptions(
        session_id=SESSION_ID,
        missions=tuple(f"C:\\任务\\{i:02d}-" + "夜间飞行" * 61 + ".miz" for i in range(20)),
        description="\x00\x1f\x7f" * 333 + "\x01",
    )
    files = render_server_files(squadron(), options)
    assert sum(len(content) for content in files.values()) > USER_DATA_LIMIT

    script = build_user_data(boot(files, login="/rr/ed-login/1"), LAYOUT)

    assert len(script.encode()) <= USER_DATA_LIMIT
    assert files_in_user_data(script) == files


def test_settings_that_cannot_fit_are_refused_rather_than_truncated() -> None:
    letters = random.Random(4).choices(
        [chr(code) for code in range(0x4E00, 0x9FFF)]
        + [chr(code) for code in range(0xAC00, 0xD7A3)],
        k=6_000,
    )
    text = "".join(letters)
    options = SessionOptions(
        session_id=SESSION_ID,
        missions=tuple(text[i * 250 : (i + 1) * 250] + ".miz" for i in range(20)),
        description=text[5_000:6_000],
    )
    files = render_server_files(squadron(), options)

    with pytest.raises(LaunchError) as refused:
        build_user_data(boot(files), LAYOUT)

    assert refused.value.reason == "config"
    assert "too large" in refused.value.message
    assert "shorten the description or the mission list" in refused.value.message


@pytest.mark.parametrize(
    "path", ["../Scripts/evil.lua", "/Config/options.lua", "Config\\x.lua", ""]
)
def test_file_paths_outside_the_write_folder_are_refused(path: str) -> None:
    with pytest.raises(LaunchError) as refused:
        build_user_data(boot({path: b"x"}), LAYOUT)

    assert refused.value.reason == "config"


def test_powershell_strings_double_quotes_and_refuse_what_could_end_them() -> None:
    assert powershell_literal("it's") == "'it''s'"
    for text in ("curly\u2019quote", "new\nline", "caf\u00e9"):
        with pytest.raises(ValueError, match="printable ASCII"):
            powershell_literal(text)


def test_same_launch_gives_the_same_user_data() -> None:
    files = render_server_files(with_addons(), SessionOptions(session_id=SESSION_ID))

    assert build_user_data(boot(files), LAYOUT) == build_user_data(boot(dict(files)), LAYOUT)
