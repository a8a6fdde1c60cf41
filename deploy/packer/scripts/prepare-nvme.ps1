# At every boot: the instance store comes up empty and raw. Initialise and format it as D:, then
# copy DCS from the image's volume onto it, so the sim reads from local NVMe and not from an
# EBS volume that is still loading lazily from its snapshot. Writes C:\ProgramData\rr\nvme-ready
# when done (the agent waits for it), with how long it took.
param(
    [Parameter(Mandatory)] [string] $InstallDir,
    [Parameter(Mandatory)] [string] $ImageCopy
)
$ErrorActionPreference = 'Stop'
$state = Join-Path $env:ProgramData 'rr'
New-Item -ItemType Directory -Force -Path $state | Out-Null
Start-Transcript -Path (Join-Path $state 'prepare-nvme.log') -Append
$started = Get-Date
$ready = Join-Path $state 'nvme-ready'
Remove-Item -Path $ready -ErrorAction SilentlyContinue

$drive = $InstallDir.Substring(0, 1)
if (-not (Get-Volume -DriveLetter $drive -ErrorAction SilentlyContinue)) {
    $raw = Get-Disk | Where-Object { $_.PartitionStyle -eq 'RAW' -and $_.BusType -eq 'NVMe' } | Sort-Object Number
    if (-not $raw) { throw 'No raw NVMe instance store: launch rr servers on a type with one (i3, i3en)' }
    $disk = $raw | Select-Object -First 1
    Initialize-Disk -Number $disk.Number -PartitionStyle GPT
    New-Partition -DiskNumber $disk.Number -UseMaximumSize -DriveLetter $drive |
        Format-Volume -FileSystem NTFS -NewFileSystemLabel 'rr-nvme' -Confirm:$false | Out-Null
}

robocopy $ImageCopy $InstallDir /MIR /MT:32 /R:2 /W:5 /NFL /NDL /NP
if ($LASTEXITCODE -ge 8) { throw "robocopy failed with exit code $LASTEXITCODE" }

$seconds = [int]((Get-Date) - $started).TotalSeconds
Set-Content -Path $ready -Value "ready after $seconds s" -Encoding ascii
Stop-Transcript
