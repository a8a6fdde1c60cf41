# Packer's first boot (user data): a WinRM HTTPS listener with a self-signed certificate, so the
# builder can connect. The image's own servers never use WinRM: sysprep resets this at the end.
$ErrorActionPreference = 'Stop'
$certificate = New-SelfSignedCertificate -DnsName $env:COMPUTERNAME -CertStoreLocation 'Cert:\LocalMachine\My'
Enable-PSRemoting -SkipNetworkProfileCheck -Force
Get-ChildItem -Path 'WSMan:\localhost\Listener' | Where-Object { $_.Keys -contains 'Transport=HTTP' } | Remove-Item -Recurse -Force
New-Item -Path 'WSMan:\localhost\Listener' -Transport HTTPS -Address * -CertificateThumbPrint $certificate.Thumbprint -Force | Out-Null
Set-Item -Path 'WSMan:\localhost\Service\Auth\Basic' -Value $true
New-NetFirewallRule -DisplayName 'WinRM HTTPS (image build)' -Direction Inbound -Protocol TCP -LocalPort 5986 -Action Allow | Out-Null
