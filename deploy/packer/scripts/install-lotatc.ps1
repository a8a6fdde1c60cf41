# LotAtc, only for operators who hold a licence and give its installer's address; else nothing.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
if (-not $env:RR_LOTATC_URL) {
    Write-Output 'No LotAtc installer given: the image has no LotAtc.'
    return
}
[Net.ServicePointManager]::SecurityProtocol = [Net.SecurityProtocolType]::Tls12
$installer = 'C:\rr\downloads\LotAtc-setup.exe'
Invoke-WebRequest -Uri $env:RR_LOTATC_URL -OutFile $installer
$run = Start-Process -FilePath $installer -ArgumentList '/S' -Wait -PassThru
if ($run.ExitCode -ne 0) { throw "LotAtc's installer failed with exit code $($run.ExitCode)" }
