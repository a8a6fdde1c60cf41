# Tacview, for its DCS exporter (the flight recorder and real-time telemetry on TCP 42674).
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
[Net.ServicePointManager]::SecurityProtocol = [Net.SecurityProtocolType]::Tls12
$installer = 'C:\rr\downloads\Tacview-setup.exe'
Invoke-WebRequest -Uri $env:RR_TACVIEW_URL -OutFile $installer
$run = Start-Process -FilePath $installer -ArgumentList '/S' -Wait -PassThru
if ($run.ExitCode -ne 0) { throw "Tacview's installer failed with exit code $($run.ExitCode)" }
