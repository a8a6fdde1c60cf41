"""The PowerShell user data: rr's address and the launch's credential for the agent, in a
folder only SYSTEM and administrators open, after the NVMe wait; never a password or a file."""

import pytest

from bot.cloud.base import AgentBoot, LaunchError
from bot.cloud.userdata import (
    AGENT_CREDENTIAL,
    AGENT_SETTINGS,
    AGENT_TASK,
    NVME_READY_MARKER,
    NVME_WAIT_MINUTES,
    ServerBoot,
    ServerLayout,
    build_user_data,
    powershell_literal,
)
from tests.bot.cloud.helpers import RR_URL, credential_for
from tests.bot.cloud.userdata_reader import (
    agent_settings_in_user_data,
    credentials_in_user_data,
    strings_in_user_data,
)

LAYOUT = ServerLayout(
    write_folder="DCS.dcs_serverrelease",
    dcs_install_dir="D:\\DCS World Server",
    srs_server_exe="C:\\SRS\\ServerCommandLine-Windows\\SRS-Server-Commandline.exe",
    login_helper="C:\\rr\\ed-login.ps1",
)
SESSION_ID = "5f0c6d3e-1f3a-4c55-9d59-0d9a2c6b7e11"
CREDENTIAL = credential_for(SESSION_ID)


def boot(
    login: str | None = None, rr_url: str = RR_URL, credential: str = CREDENTIAL
) -> ServerBoot:
    return ServerBoot(
        session_id=SESSION_ID,
        attempt=2,
        agent=AgentBoot(rr_url, credential),
        login_parameter=login,
        region="eu-west-1",
    )


def test_user_data_tells_the_agent_where_rr_is_and_where_the_image_keeps_dcs_and_srs() -> None:
    script = build_user_data(boot(), LAYOUT)

    assert agent_settings_in_user_data(script) == {
        "RR_AGENT_URL": RR_URL,
        "RR_AGENT_WRITE_FOLDER": "DCS.dcs_serverrelease",
        "RR_AGENT_DCS_EXE": "D:\\DCS World Server\\bin\\DCS_server.exe",
        "RR_AGENT_SRS_EXE": "C:\\SRS\\ServerCommandLine-Windows\\SRS-Server-Commandline.exe",
    }
    assert credentials_in_user_data(script) == [CREDENTIAL]
    assert script.isascii(), "the script itself must be plain ASCII"


def test_settings_and_credential_go_into_a_folder_only_system_and_administrators_open() -> None:
    script = build_user_data(boot(), LAYOUT)
    lines = script.splitlines()

    def line_of(text: str) -> int:
        return next(i for i, line in enumerate(lines) if text in line)

    acl = line_of("Set-Acl -LiteralPath $AgentDir -AclObject $AgentAcl")
    assert "$AgentAcl.SetAccessRuleProtection($true, $false)" in script  # nothing inherited
    assert "foreach ($sid in 'S-1-5-18', 'S-1-5-32-544') {" in script  # SYSTEM, Administrators
    assert acl < line_of("Set-Content -LiteralPath $AgentSettings")
    assert acl < line_of("Set-Content -LiteralPath $AgentCredential")
    assert f"$AgentDir = '{AGENT_SETTINGS.rsplit(chr(92), 1)[0]}'" in script
    assert f"$AgentCredential = Join-Path $AgentDir '{AGENT_CREDENTIAL.rsplit(chr(92), 1)[1]}'" in (
        script
    )
    assert line_of("Set-Content -LiteralPath $AgentCredential") < line_of(
        f"Start-ScheduledTask -TaskName '{AGENT_TASK}'"
    )


def test_user_data_waits_for_dcs_on_the_instance_store_and_fails_loudly_after_a_while() -> None:
    script = build_user_data(boot(login="/rr/ed-login/1"), LAYOUT)

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
    for later in ("Set-Acl", "Set-Content", "Start-ScheduledTask", "Get-SSMParameter"):
        assert wait < script.index(later), later  # the order is checked by parsing in tests/deploy


def test_login_is_read_by_parameter_name_once_the_agent_started_dcs_and_given_to_the_helper() -> (
    None
):
    with_login = build_user_data(boot(login="/rr/ed-login/2"), LAYOUT)
    without_login = build_user_data(boot(), LAYOUT)

    assert (
        "while (-not ($dcs = Get-Process -Name 'DCS_server' -ErrorAction SilentlyContinue "
        "| Select-Object -First 1)) {"
    ) in with_login
    assert (
        "$env:RR_ED_LOGIN = (Get-SSMParameter -Name '/rr/ed-login/2' -WithDecryption $true "
        "-Region 'eu-west-1').Value"
    ) in with_login
    assert "& 'C:\\rr\\ed-login.ps1' -DcsProcessId $dcs.Id -WriteDir $WriteDir" in with_login
    assert "Remove-Item Env:RR_ED_LOGIN" in with_login
    assert with_login.index("Start-ScheduledTask") < with_login.index("Get-Process")
    assert "SSM" not in without_login and "RR_ED_LOGIN" not in without_login
    assert "RR_ED_LOGIN" not in " ".join(agent_settings_in_user_data(with_login))


def test_user_data_is_small_and_has_no_room_for_a_payload() -> None:
    script = build_user_data(boot(login="/rr/ed-login/2"), LAYOUT)

    assert len(script.encode()) < 6 * 1024
    assert max(len(text) for text in strings_in_user_data(script)) <= 120
    assert "FromBase64String" not in script and "GZipStream" not in script


@pytest.mark.parametrize("rr_url", ["", "ftp://rr.example.org", "https://rr.example.org/a b"])
def test_an_address_the_server_cannot_reach_rr_at_is_refused(rr_url: str) -> None:
    with pytest.raises(LaunchError) as refused:
        build_user_data(boot(rr_url=rr_url), LAYOUT)

    assert refused.value.reason == "config"
    assert "RR_PUBLIC_URL" in refused.value.message


def test_a_value_that_cannot_be_written_safely_is_refused_without_echoing_the_credential() -> None:
    odd = ServerLayout(
        write_folder="DCS\u2019server",
        dcs_install_dir=LAYOUT.dcs_install_dir,
        srs_server_exe=LAYOUT.srs_server_exe,
        login_helper=LAYOUT.login_helper,
    )

    with pytest.raises(LaunchError) as refused:
        build_user_data(boot(), odd)

    assert refused.value.reason == "config" and "printable ASCII" in refused.value.message
    assert CREDENTIAL not in refused.value.message


def test_powershell_strings_double_quotes_and_refuse_what_could_end_them() -> None:
    assert powershell_literal("it's") == "'it''s'"
    for text in ("curly\u2019quote", "new\nline", "caf\u00e9"):
        with pytest.raises(ValueError, match="printable ASCII"):
            powershell_literal(text)


def test_same_launch_gives_the_same_user_data() -> None:
    assert build_user_data(boot(), LAYOUT) == build_user_data(boot(), LAYOUT)
