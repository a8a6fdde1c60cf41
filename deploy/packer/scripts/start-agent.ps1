# rr's agent, run as SYSTEM by the scheduled task rr-agent (register-boot-tasks.ps1): at start-up,
# and again by the user data once it has left the launch's values in C:\ProgramData\rr\agent, a
# folder only SYSTEM and administrators open:
#   agent.env   KEY=VALUE lines: RR_AGENT_URL, RR_AGENT_WRITE_FOLDER, RR_AGENT_DCS_EXE, RR_AGENT_SRS_EXE
#   credential  the credential rr minted for this launch; the agent reads it from the file
# The agent fetches the server's files from rr, writes them under SYSTEM's Saved Games\<write
# folder> (where DCS's -w looks, DCS running as SYSTEM too) and starts SRS and DCS, which inherit
# this script's working folder: DCS's bin folder, as DCS's own shortcut starts it.
$ErrorActionPreference = 'Stop'
$state = Join-Path $env:ProgramData 'rr'
$agentDir = Join-Path $state 'agent'
$settings = Join-Path $agentDir 'agent.env'
$credential = Join-Path $agentDir 'credential'
$ready = Join-Path $state 'nvme-ready'
$log = Join-Path $state 'agent.log'
while (-not ((Test-Path -LiteralPath $ready) -and (Test-Path -LiteralPath $settings) -and (Test-Path -LiteralPath $credential))) {
    Start-Sleep -Seconds 2
}

$names = 'RR_AGENT_URL', 'RR_AGENT_WRITE_FOLDER', 'RR_AGENT_DCS_EXE', 'RR_AGENT_SRS_EXE'
$values = @{}
foreach ($line in Get-Content -LiteralPath $settings) {
    $name, $value = $line.Split('=', 2)
    if ($name -in $names) { $values[$name] = $value }
}
foreach ($name in $names) {
    if (-not $values[$name]) { throw "$settings has no $name" }
}
$savedGames = Join-Path ([Environment]::GetFolderPath('UserProfile')) 'Saved Games'
$root = Join-Path $savedGames $values['RR_AGENT_WRITE_FOLDER']
Set-Location -LiteralPath (Split-Path -Parent $values['RR_AGENT_DCS_EXE'])

# The agent ends with 0 once rr says the session is over; anything else (rr unreachable for
# longer than its back-off, a crash) runs it again, until the server is terminated.
for ($run = 1; $run -le 30; $run++) {
    & 'C:\rr\python\python.exe' -m agent --rr-url $values['RR_AGENT_URL'] --root $root --dcs-exe $values['RR_AGENT_DCS_EXE'] --srs-exe $values['RR_AGENT_SRS_EXE'] --credential-file $credential *>> $log
    if ($LASTEXITCODE -eq 0) { exit 0 }
    Add-Content -LiteralPath $log -Value "rr agent exited with $LASTEXITCODE (run $run); starting it again in 10 s" -Encoding ascii
    Start-Sleep -Seconds 10
}
exit 1
