# An embeddable Python (pinned, hash-checked) and rr's agent package (with its DCS hook, agent\hook\rr_hook.lua), copied
# from the repository checkout the image was built from; a manifest of their SHA-256s is kept at
# C:\rr\app\agent-manifest.txt. The ED login helper goes where RR_EC2_LOGIN_HELPER points.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
[Net.ServicePointManager]::SecurityProtocol = [Net.SecurityProtocolType]::Tls12
$version = $env:RR_PYTHON_VERSION
$archive = "C:\rr\downloads\python-$version-embed-amd64.zip"
$python = 'C:\rr\python'
$app = 'C:\rr\app'

# The agent holds the launch's credential and starts everything: its Python is checked, always.
if (-not $env:RR_PYTHON_SHA256) { throw "Set the packer variable python_sha256 to the SHA-256 of python-$version-embed-amd64.zip" }
Invoke-WebRequest -Uri "https://www.python.org/ftp/python/$version/python-$version-embed-amd64.zip" -OutFile $archive
$actual = (Get-FileHash -Path $archive -Algorithm SHA256).Hash
if ($actual -ne $env:RR_PYTHON_SHA256.ToUpperInvariant()) { throw "Python $version has SHA-256 $actual, not $env:RR_PYTHON_SHA256" }
Expand-Archive -Path $archive -DestinationPath $python -Force

New-Item -ItemType Directory -Force -Path $app | Out-Null
Copy-Item -Path $env:RR_AGENT_STAGE -Destination (Join-Path $app 'agent') -Recurse -Force
Get-ChildItem -Path (Join-Path $app 'agent') -Recurse -Directory -Filter '__pycache__' | Remove-Item -Recurse -Force

# The embeddable Python ignores PYTHONPATH; its ._pth file lists where imports come from.
$pth = Get-ChildItem -Path $python -Filter 'python*._pth' | Select-Object -First 1
Add-Content -Path $pth.FullName -Value $app -Encoding ascii

$manifest = Get-ChildItem -Path (Join-Path $app 'agent') -Recurse -File | Sort-Object FullName | ForEach-Object {
    $relative = $_.FullName.Substring($app.Length + 1).Replace('\', '/')
    '{0}  {1}' -f (Get-FileHash -Path $_.FullName -Algorithm SHA256).Hash.ToLowerInvariant(), $relative
}
Set-Content -Path (Join-Path $app 'agent-manifest.txt') -Value $manifest -Encoding ascii

& (Join-Path $python 'python.exe') -c 'import agent.main, agent.hookfile; agent.hookfile.hook_source()'
if ($LASTEXITCODE -ne 0) { throw 'the agent does not import in the embedded Python' }

Copy-Item -Path 'C:\rr\scripts\ed-login.ps1' -Destination 'C:\rr\ed-login.ps1' -Force
