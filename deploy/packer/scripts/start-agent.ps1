# Runs rr's agent once the instance store is ready and the user data has written the agent's
# settings: C:\ProgramData\rr\agent.env holds RR_AGENT_URL and RR_AGENT_ROOT (KEY=VALUE lines)
# and C:\ProgramData\rr\agent-credential the credential minted for this launch.
$ErrorActionPreference = 'Stop'
$state = Join-Path $env:ProgramData 'rr'
$settings = Join-Path $state 'agent.env'
$credential = Join-Path $state 'agent-credential'
while (-not ((Test-Path (Join-Path $state 'nvme-ready')) -and (Test-Path $settings) -and (Test-Path $credential))) {
    Start-Sleep -Seconds 2
}
foreach ($line in Get-Content -Path $settings) {
    $name, $value = $line.Split('=', 2)
    if ($name -in 'RR_AGENT_URL', 'RR_AGENT_ROOT', 'RR_AGENT_DCS_EXE', 'RR_AGENT_SRS_EXE') {
        [Environment]::SetEnvironmentVariable($name, $value, 'Process')
    }
}
& 'C:\rr\python\python.exe' -m agent --credential-file $credential *>> (Join-Path $state 'agent.log')
exit $LASTEXITCODE
