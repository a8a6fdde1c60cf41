# What DCS and its add-ons need from Windows: the Visual C++ runtimes, rr's folders, and the
# game's ports open in Windows Firewall (the security group opens the same ones in AWS).
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
[Net.ServicePointManager]::SecurityProtocol = [Net.SecurityProtocolType]::Tls12

foreach ($folder in 'C:\rr', 'C:\rr\downloads', (Join-Path $env:ProgramData 'rr')) {
    New-Item -ItemType Directory -Force -Path $folder | Out-Null
}

foreach ($arch in 'x64', 'x86') {
    $installer = "C:\rr\downloads\vc_redist.$arch.exe"
    Invoke-WebRequest -Uri "https://aka.ms/vs/17/release/vc_redist.$arch.exe" -OutFile $installer
    $run = Start-Process -FilePath $installer -ArgumentList '/install', '/quiet', '/norestart' -Wait -PassThru
    if ($run.ExitCode -notin 0, 3010) { throw "vc_redist.$arch.exe failed with exit code $($run.ExitCode)" }
}

$ports = @(
    @{ Name = 'DCS'; Protocol = 'TCP'; Port = 10308 },
    @{ Name = 'DCS'; Protocol = 'UDP'; Port = 10308 },
    @{ Name = 'SRS'; Protocol = 'TCP'; Port = 5002 },
    @{ Name = 'SRS'; Protocol = 'UDP'; Port = 5002 },
    @{ Name = 'Tacview'; Protocol = 'TCP'; Port = 42674 },
    @{ Name = 'LotAtc'; Protocol = 'TCP'; Port = 10310 }
)
foreach ($rule in $ports) {
    $label = "rr $($rule.Name) $($rule.Protocol) $($rule.Port)"
    New-NetFirewallRule -DisplayName $label -Direction Inbound -Protocol $rule.Protocol -LocalPort $rule.Port -Action Allow | Out-Null
}
