# Two start-up tasks: prepare the NVMe instance store and put DCS on it, then run rr's agent
# once the user data has left its settings (C:\ProgramData\rr\agent.env).
$ErrorActionPreference = 'Stop'
$system = New-ScheduledTaskPrincipal -UserId 'SYSTEM' -LogonType ServiceAccount -RunLevel Highest
$atStartup = New-ScheduledTaskTrigger -AtStartup

$nvmeArguments = "-NoProfile -ExecutionPolicy Bypass -File C:\rr\scripts\prepare-nvme.ps1 -InstallDir `"$env:RR_DCS_INSTALL_DIR`" -ImageCopy C:\rr\dcs"
$nvme = New-ScheduledTaskAction -Execute 'powershell.exe' -Argument $nvmeArguments
Register-ScheduledTask -TaskName 'rr-prepare-nvme' -Action $nvme -Trigger $atStartup -Principal $system -Force | Out-Null

$agent = New-ScheduledTaskAction -Execute 'powershell.exe' -Argument '-NoProfile -ExecutionPolicy Bypass -File C:\rr\scripts\start-agent.ps1'
$restart = New-ScheduledTaskSettingsSet -RestartCount 10 -RestartInterval (New-TimeSpan -Minutes 1) -ExecutionTimeLimit ([TimeSpan]::Zero)
Register-ScheduledTask -TaskName 'rr-agent' -Action $agent -Trigger $atStartup -Principal $system -Settings $restart -Force | Out-Null
