# rr's ED login helper (RR_EC2_LOGIN_HELPER): signs a starting DCS server in with the login the
# user data read from SSM into $env:RR_ED_LOGIN, a JSON object {"username": ..., "password": ...}.
# It drives the server's "DCS Login" window through Windows UI Automation, as
# ready-room-selfhosted does with FlaUI: the two edit boxes, "Save password" and "Auto login"
# ticked (so DCS keeps the login in Config\network.vault), then "Log In".
param(
    [Parameter(Mandatory)] [int] $DcsProcessId,
    [Parameter(Mandatory)] [string] $WriteDir,
    [int] $TimeoutSeconds = 300
)
$ErrorActionPreference = 'Stop'
Add-Type -AssemblyName UIAutomationClient
Add-Type -AssemblyName UIAutomationTypes
$login = $env:RR_ED_LOGIN | ConvertFrom-Json
if (-not $login.username -or -not $login.password) { throw 'RR_ED_LOGIN holds no username and password' }
$vault = Join-Path $WriteDir 'Config\network.vault'
$deadline = (Get-Date).AddSeconds($TimeoutSeconds)
$root = [Windows.Automation.AutomationElement]::RootElement
$ofProcess = New-Object Windows.Automation.PropertyCondition([Windows.Automation.AutomationElement]::ProcessIdProperty, $DcsProcessId)

function Find-All($element, $type) {
    $condition = New-Object Windows.Automation.PropertyCondition([Windows.Automation.AutomationElement]::ControlTypeProperty, $type)
    return $element.FindAll([Windows.Automation.TreeScope]::Descendants, $condition)
}

function Find-Named($element, [string] $name) {
    $condition = New-Object Windows.Automation.PropertyCondition([Windows.Automation.AutomationElement]::NameProperty, $name)
    return $element.FindFirst([Windows.Automation.TreeScope]::Descendants, $condition)
}

while ((Get-Date) -lt $deadline) {
    if (Test-Path $vault) {
        Write-Output 'DCS signed in with its saved login.'
        return
    }
    $window = $root.FindFirst([Windows.Automation.TreeScope]::Children, $ofProcess)
    $edits = if ($window) { Find-All $window ([Windows.Automation.ControlType]::Edit) } else { @() }
    if ($edits.Count -ge 2) {
        $edits[0].GetCurrentPattern([Windows.Automation.ValuePattern]::Pattern).SetValue($login.username)
        $edits[1].GetCurrentPattern([Windows.Automation.ValuePattern]::Pattern).SetValue($login.password)
        foreach ($box in 'Save password', 'Auto login') {
            $checkbox = Find-Named $window $box
            if ($checkbox) {
                $toggle = $checkbox.GetCurrentPattern([Windows.Automation.TogglePattern]::Pattern)
                if ($toggle.Current.ToggleState -ne [Windows.Automation.ToggleState]::On) { $toggle.Toggle() }
            }
        }
        $button = Find-Named $window 'Log In'
        if (-not $button) { throw "DCS's login window has no 'Log In' button" }
        $button.GetCurrentPattern([Windows.Automation.InvokePattern]::Pattern).Invoke()
        Write-Output 'DCS login submitted.'
        return
    }
    Start-Sleep -Seconds 2
}
throw "DCS showed no login window within $TimeoutSeconds s"
