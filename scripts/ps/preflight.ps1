<#
.SYNOPSIS
    Checks everything the deploy needs before anything changes; writes reports\preflight.json.
.DESCRIPTION
    Jenkins stage 'Pre-flight' (marker [preflight]). "Assume nothing": every check is reported, each
    failure with a one-line remediation hint, and the exit code is 1 if any check failed.
    Jenkins side (always): dotnet, git, node and py present; free disk in the workspace; the folder
    arguments are sane.
    DevTest side (not with -LocalOnly, the dry run, which never contacts the server): TCP 445 (SMB) and
    the WinRM port (5986), the credential (by opening a WinRM session), then on the server: the
    WebAdministration module, W3SVC and WAS running, each app pool exists, free disk for the staging
    copy + side folder + backup (3 x the artifact size, at least -MinFreeMB).
    preflight.json: { checks: [{ id, ok, detail, hint }], ok, computer, local_only, started_at, finished_at }.
    Changes nothing on the server. Windows PowerShell 5.1 and PowerShell 7.
.EXAMPLE
    powershell -NoProfile -NonInteractive -File scripts\ps\preflight.ps1 -ComputerName DevTest -Pools "UserApi,SignerApi,ManagementApi,DefaultAppPool,PdfConvertorService" -DeployDir C:\inetpub\WeSign -BackupRoot C:\backup\WeSign -StagingDir C:\deploy -ArtifactPath artifact\WeSign.DevTest.zip -ReportPath reports\preflight.json
.EXAMPLE
    powershell -NoProfile -NonInteractive -File scripts\ps\preflight.ps1 -ComputerName DevTest -Pools UserApi -DeployDir C:\inetpub\WeSign -BackupRoot C:\backup\WeSign -StagingDir C:\deploy -ArtifactPath artifact\WeSign.DevTest.zip -ReportPath reports\preflight.json -LocalOnly
#>
# SupportsShouldProcess only so that callers may pass -Confirm:$false / -WhatIf like to the other
# scripts; this script changes nothing on DevTest (it only writes its local reports).
[CmdletBinding(SupportsShouldProcess = $true)]
param(
    [Parameter(Mandatory = $true)][ValidatePattern('^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$')][string]$ComputerName,
    [Parameter(Mandatory = $true)][string[]]$Pools,
    [Parameter(Mandatory = $true)][string]$DeployDir,
    [Parameter(Mandatory = $true)][string]$BackupRoot,
    [Parameter(Mandatory = $true)][string]$StagingDir,
    # The zip on the Jenkins side; before the Package stage it does not exist yet, then -MinFreeMB applies.
    [Parameter(Mandatory = $true)][string]$ArtifactPath,
    [ValidateNotNullOrEmpty()][string]$ReportPath = 'reports\preflight.json',
    # Dry run: only the Jenkins-side checks; DevTest is never contacted.
    [switch]$LocalOnly,
    [ValidateRange(1, 65535)][int]$Port,
    [ValidateRange(1, 65535)][int]$SmbPort = 445,
    [switch]$AllowHttpLab,
    [switch]$SkipCertificateCheckLab,
    # Free space the server needs at least, in MB (and 3 x the artifact when it exists).
    [ValidateRange(0, 10485760)][int]$MinFreeMB = 1024,
    # Free space the Jenkins workspace needs, in MB.
    [ValidateRange(0, 10485760)][int]$LocalMinFreeMB = 2048,
    [string[]]$RequiredTools = @('dotnet', 'git', 'node', 'py'),
    [ValidateRange(100, 120000)][int]$TcpTimeoutMilliseconds = 3000
)
$ErrorActionPreference = 'Stop'
. (Join-Path -Path $PSScriptRoot -ChildPath 'winrm_session.ps1')
$StageLogId = 'preflight'

$checks = New-Object -TypeName System.Collections.Generic.List[object]
function Add-Check {
    param([string]$Id, [bool]$Ok, [string]$Detail, [string]$Hint)
    $entry = [ordered]@{ id = $Id; ok = $Ok; detail = (Protect-StageText -Text $Detail); hint = $null }
    if (-not $Ok) { $entry.hint = $Hint }
    $checks.Add([pscustomobject]$entry)
    $mark = 'FAIL'
    if ($Ok) { $mark = 'ok' }
    Write-StageLog -Message ('{0,-4} {1}: {2}' -f $mark, $Id, $Detail)
    if (-not $Ok) { Write-StageLog -Message ('     fix: ' + $Hint) }
}

function Split-FixHint {
    <# "<what failed> Fix: <how>" -> detail, hint (the messages of winrm_session.ps1 have this shape). #>
    param([string]$Message, [string]$DefaultHint)
    $index = $Message.IndexOf(' Fix: ')
    if ($index -lt 0) { return @($Message, $DefaultHint) }
    $hint = $Message.Substring($index + 6)
    $said = $hint.IndexOf(' WinRM said: ')
    $detail = $Message.Substring(0, $index)
    if ($said -ge 0) { $detail = $detail + ' (' + $hint.Substring($said + 13) + ')'; $hint = $hint.Substring(0, $said) }
    return @($detail, $hint)
}

$startedAt = Get-IsoTimestamp
$session = $null
$reportFull = Resolve-LocalPath $ReportPath
try {
    Write-StageLog -Message ("preflight for {0} ({1})" -f $ComputerName, $(if ($LocalOnly) { 'local only: dry run, DevTest is not contacted' } else { 'Jenkins side and DevTest' }))

    # --- Jenkins side ---------------------------------------------------------------------
    $poolList = @()
    try {
        $poolList = ConvertTo-NameList -Value $Pools -What 'app pool'
        Add-Check -Id 'inputs' -Ok $true -Detail ('{0} app pool(s): {1}' -f $poolList.Count, ($poolList -join ', ')) -Hint ''
    }
    catch { Add-Check -Id 'inputs' -Ok $false -Detail $_.Exception.Message -Hint 'Pass -Pools as an array or one comma-separated string of IIS app pool names (IIS_APP_POOLS).' }
    try {
        Assert-DeployPaths -Paths ([ordered]@{ DeployDir = $DeployDir; BackupRoot = $BackupRoot; StagingDir = $StagingDir })
        Add-Check -Id 'paths' -Ok $true -Detail ('DEPLOY_DIR {0}, BACKUP_ROOT {1}, STAGING {2}' -f $DeployDir, $BackupRoot, $StagingDir) -Hint ''
    }
    catch { Add-Check -Id 'paths' -Ok $false -Detail $_.Exception.Message -Hint 'Use full, separate folders on the server, e.g. C:\inetpub\WeSign, C:\backup\WeSign, C:\deploy.' }

    foreach ($tool in $RequiredTools) {
        $found = Get-Command -Name $tool -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
        $detail = '{0} not found on PATH' -f $tool
        if ($found) { $detail = '{0} at {1}' -f $tool, $found.Source }
        Add-Check -Id ('tool_' + $tool) -Ok ($null -ne $found) -Detail $detail -Hint ("Install {0} on the Jenkins server and put it on the PATH of the Jenkins service (then restart the agent)." -f $tool)
    }

    $artifactBytes = [long]0
    $artifactFull = Resolve-LocalPath $ArtifactPath
    if (Test-Path -LiteralPath $artifactFull -PathType Leaf) {
        $artifactBytes = (Get-Item -LiteralPath $artifactFull).Length
        Add-Check -Id 'artifact' -Ok $true -Detail ('{0}: {1:N0} bytes' -f $ArtifactPath, $artifactBytes) -Hint ''
    }
    else {
        Write-StageLog -Message ("note: {0} is not built yet; disk space is checked against -MinFreeMB {1}" -f $ArtifactPath, $MinFreeMB)
    }

    try {
        $localRoot = [System.IO.Path]::GetPathRoot((Resolve-LocalPath '.'))
        $drive = New-Object -TypeName System.IO.DriveInfo -ArgumentList $localRoot
        $needed = [long]$LocalMinFreeMB * 1MB
        if ($artifactBytes * 3 -gt $needed) { $needed = $artifactBytes * 3 }
        $free = [long]$drive.AvailableFreeSpace
        Add-Check -Id 'local_disk' -Ok ($free -ge $needed) -Detail ('{0}: {1:N0} MB free, {2:N0} MB needed' -f $localRoot, ($free / 1MB), ($needed / 1MB)) -Hint 'Free space in the Jenkins workspace drive (old builds, workspace cleanup) or lower -LocalMinFreeMB.'
    }
    catch { Add-Check -Id 'local_disk' -Ok $false -Detail ('cannot read free space: ' + $_.Exception.Message) -Hint 'Check the Jenkins workspace drive.' }

    # --- DevTest side ---------------------------------------------------------------------
    if (-not $LocalOnly) {
        $winRmPort = $Port
        if ($winRmPort -le 0) { if ($AllowHttpLab) { $winRmPort = 5985 } else { $winRmPort = 5986 } }
        $smbOpen = Test-TcpPort -ComputerName $ComputerName -Port $SmbPort -TimeoutMilliseconds $TcpTimeoutMilliseconds
        Add-Check -Id 'tcp_smb' -Ok $smbOpen -Detail ('TCP {0} (SMB) on {1}: {2}' -f $SmbPort, $ComputerName, $(if ($smbOpen) { 'open' } else { 'closed or unreachable' })) -Hint ('Allow TCP {0} from the Jenkins server to {1} only (firewall), and check the name resolves.' -f $SmbPort, $ComputerName)
        $winRmOpen = Test-TcpPort -ComputerName $ComputerName -Port $winRmPort -TimeoutMilliseconds $TcpTimeoutMilliseconds
        Add-Check -Id 'tcp_winrm' -Ok $winRmOpen -Detail ('TCP {0} (WinRM) on {1}: {2}' -f $winRmPort, $ComputerName, $(if ($winRmOpen) { 'open' } else { 'closed or unreachable' })) -Hint ('Allow TCP {0} from the Jenkins server and create a WinRM HTTPS listener on {1} (winrm quickconfig -transport:https).' -f $winRmPort, $ComputerName)

        if (-not $winRmOpen) {
            Add-Check -Id 'winrm_session' -Ok $false -Detail 'not attempted: the WinRM port is closed' -Hint 'Fix tcp_winrm first.'
        }
        else {
            try {
                $opened = $null
                Open-TargetSession -ComputerName $ComputerName -Port $winRmPort -AllowHttpLab:$AllowHttpLab -SkipCertificateCheckLab:$SkipCertificateCheckLab | Receive-StageOutput -Result ([ref]$opened)
                $session = $opened.Session
                Add-Check -Id 'winrm_session' -Ok $true -Detail ('WinRM session opened on port {0}: the credential works' -f $winRmPort) -Hint ''
            }
            catch {
                $parts = Split-FixHint -Message $_.Exception.Message -DefaultHint 'Check the WinRM listener and the svc-devtest credential.'
                Add-Check -Id 'winrm_session' -Ok $false -Detail $parts[0] -Hint $parts[1]
            }
        }

        if ($null -eq $session) {
            Add-Check -Id 'target_checks' -Ok $false -Detail 'IIS, services, app pools and disk on the server not checked: no WinRM session' -Hint 'Fix winrm_session first.'
        }
        else {
            $target = $null
            try {
                Invoke-OnTarget -Session $session -EntryPoint 'Get-TargetPreflightOnTarget' -Parameters @{
                    Pools = $poolList; DeployDir = $DeployDir; StagingDir = $StagingDir; BackupRoot = $BackupRoot
                    ArtifactBytes = $artifactBytes; MinFreeBytes = ([long]$MinFreeMB * 1MB); Stage = 'preflight'
                } | Receive-StageOutput -Result ([ref]$target)
                foreach ($check in @($target.Checks)) {
                    $checks.Add([pscustomobject][ordered]@{ id = [string]$check.id; ok = [bool]$check.ok; detail = [string]$check.detail; hint = $check.hint })
                    if (-not $check.ok) { Write-StageLog -Message ('     fix: ' + $check.hint) }
                }
            }
            catch { Add-Check -Id 'target_checks' -Ok $false -Detail ('the checks on the server failed: ' + $_.Exception.Message) -Hint 'Run the same commands in an interactive WinRM session to see the error (Enter-PSSession DevTest -UseSSL).' }
        }
    }
}
catch {
    Add-Check -Id 'preflight_error' -Ok $false -Detail $_.Exception.Message -Hint 'Unexpected error in preflight.ps1: see the log above.'
}
finally {
    Close-DevTestSession -Session $session
}

$failed = @($checks | Where-Object { -not $_.ok })
$allOk = $failed.Count -eq 0 -and $checks.Count -gt 0
$exitCode = 0
if (-not $allOk) { $exitCode = 1 }
try {
    Write-JsonFile -Path $reportFull -InputObject ([ordered]@{
            checks = $checks.ToArray(); ok = $allOk; computer = $ComputerName; local_only = [bool]$LocalOnly
            started_at = $startedAt; finished_at = (Get-IsoTimestamp)
        })
}
catch { Write-StageLog -Message ('ERROR: cannot write {0}: {1}' -f $ReportPath, $_.Exception.Message); $exitCode = 1 }
if ($allOk) { Write-StageLog -Message ('preflight passed: {0} check(s) ok' -f $checks.Count) }
else { Write-StageLog -Message ('preflight FAILED: {0} of {1} check(s) failed: {2}' -f $failed.Count, $checks.Count, (($failed | ForEach-Object { $_.id }) -join ', ')) }
exit $exitCode
