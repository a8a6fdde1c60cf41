# SimpleRadio Standalone's server, from its GitHub release, where rr's settings look for it
# (RR_EC2_SRS_SERVER_EXE).
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
[Net.ServicePointManager]::SecurityProtocol = [Net.SecurityProtocolType]::Tls12
$version = $env:RR_SRS_VERSION
$archive = "C:\rr\downloads\DCS-SimpleRadioStandalone-$version.zip"
$target = Join-Path $env:ProgramFiles 'DCS-SimpleRadio-Standalone'

Invoke-WebRequest -Uri "https://github.com/ciribob/DCS-SimpleRadioStandalone/releases/download/$version/DCS-SimpleRadioStandalone-$version.zip" -OutFile $archive
if ($env:RR_SRS_SHA256) {
    $actual = (Get-FileHash -Path $archive -Algorithm SHA256).Hash
    if ($actual -ne $env:RR_SRS_SHA256.ToUpperInvariant()) { throw "SRS $version has SHA-256 $actual, not $env:RR_SRS_SHA256" }
}
Expand-Archive -Path $archive -DestinationPath $target -Force
$server = Join-Path $target 'ServerCommandLine-Windows\SRS-Server-Commandline.exe'
if (-not (Test-Path $server)) { throw "SRS's command-line server is not at $server" }
