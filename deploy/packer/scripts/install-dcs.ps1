# DCS World dedicated server and the chosen terrains, unattended, into C:\rr\dcs (the copy on the
# image's volume; at boot prepare-nvme.ps1 copies it onto the instance store, where DCS runs).
# The modular installer is an Inno Setup program (its process is DCS_World_Server_modular.tmp),
# so it takes Inno's silent switches; terrains come from DCS_updater's command line, as
# DCSServerBot drives it (--quiet install <module>, --quiet update @<branch>).
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
[Net.ServicePointManager]::SecurityProtocol = [Net.SecurityProtocolType]::Tls12
$ImageCopy = 'C:\rr\dcs'

function Invoke-Checked([string] $FilePath, [string[]] $Arguments) {
    $run = Start-Process -FilePath $FilePath -ArgumentList $Arguments -Wait -PassThru
    if ($run.ExitCode -ne 0) { throw "$FilePath $($Arguments -join ' ') failed with exit code $($run.ExitCode)" }
}

$page = Invoke-WebRequest -Uri 'https://www.digitalcombatsimulator.com/en/downloads/world/server/' -UseBasicParsing
$link = $page.Links | Where-Object { $_.href -like '/upload/*' -and $_.href -like '*.exe' } | Select-Object -First 1
if ($null -eq $link) { throw 'No DCS server installer link on the downloads page' }
$installer = 'C:\rr\downloads\DCS_World_Server_modular.exe'
Invoke-WebRequest -Uri ('https://www.digitalcombatsimulator.com' + $link.href) -OutFile $installer

Invoke-Checked $installer @('/VERYSILENT', '/SUPPRESSMSGBOXES', '/NORESTART', '/SP-', "/DIR=`"$ImageCopy`"")
Get-Process -Name 'DCS_updater' -ErrorAction SilentlyContinue | Wait-Process

$updater = Join-Path $ImageCopy 'bin\DCS_updater.exe'
Invoke-Checked $updater @('--quiet', 'update', "@$env:RR_DCS_BRANCH")
foreach ($module in $env:RR_TERRAINS.Split(',')) {
    if ($module.Trim()) { Invoke-Checked $updater @('--quiet', 'install', $module.Trim()) }
}
if (-not (Test-Path (Join-Path $ImageCopy 'bin\DCS_server.exe'))) { throw 'DCS_server.exe is missing after the install' }
