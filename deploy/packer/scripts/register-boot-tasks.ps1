# Two start-up tasks, both as SYSTEM: prepare the NVMe instance store and put DCS on it, then run
# rr's agent (start-agent.ps1), which waits for the values the user data leaves it. The user data
# starts rr-agent again once it has (nothing happens if it already runs).
# A scheduled task rather than a Windows service: python.exe does not answer the service control
# manager (sc.exe would stop it after 30 s) and a service wrapper (NSSM, WinSW) is one more
# download to trust; Task Scheduler is part of Windows, starts the task at boot with no one
# logged on, and SYSTEM survives sysprep (an account created on the image would get a new SID).
# SYSTEM is also the account the user data's ED login helper runs as, which must reach the DCS
# window the agent opens.
$ErrorActionPreference = 'Stop'
$system = New-ScheduledTaskPrincipal -UserId 'SYSTEM' -LogonType ServiceAccount -RunLevel Highest
$atStartup = New-ScheduledTaskTrigger -AtStartup

$nvmeArguments = "-NoProfile -ExecutionPolicy Bypass -File C:\rr\scripts\prepare-nvme.ps1 -InstallDir `"$env:RR_DCS_INSTALL_DIR`" -ImageCopy C:\rr\dcs"
$nvme = New-ScheduledTaskAction -Execute 'powershell.exe' -Argument $nvmeArguments
Register-ScheduledTask -TaskName 'rr-prepare-nvme' -Action $nvme -Trigger $atStartup -Principal $system -Force | Out-Null

$agent = New-ScheduledTaskAction -Execute 'powershell.exe' -Argument '-NoProfile -ExecutionPolicy Bypass -File C:\rr\scripts\start-agent.ps1'
$forever = New-ScheduledTaskSettingsSet -MultipleInstances IgnoreNew -ExecutionTimeLimit ([TimeSpan]::Zero) -RestartCount 10 -RestartInterval (New-TimeSpan -Minutes 1)
Register-ScheduledTask -TaskName 'rr-agent' -Action $agent -Trigger $atStartup -Principal $system -Settings $forever -Force | Out-Null
