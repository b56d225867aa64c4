<#
.SYNOPSIS
    Starts the IIS app pools on DevTest and verifies that each reaches Started; fails naming every pool that did not. Idempotent: pools already started are fine.
.DESCRIPTION
    Jenkins stage 'Start IIS + Smoke' (stage id 'smoke'). The work runs on the server inside
    Invoke-Command -Session (target_ops.ps1: Start-AppPoolsOnTarget). Every line printed starts with "[smoke] ".
    Exit code 0 when every pool is Started, 1 otherwise. Windows PowerShell 5.1 and PowerShell 7.
.EXAMPLE
    powershell -NoProfile -NonInteractive -File scripts\ps\start_pools.ps1 -ComputerName DevTest -Pools "UserApi,SignerApi,ManagementApi,DefaultAppPool,PdfConvertorService" -Confirm:$false
#>
[CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
param(
    # The DevTest server (host name or FQDN; use the name in its WinRM certificate).
    [Parameter(Mandatory = $true)][ValidatePattern('^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$')][string]$ComputerName,
    # IIS app pools: an array, or one comma-separated string.
    [Parameter(Mandatory = $true)][string[]]$Pools,
    # How long to wait for each pool to reach Started.
    [ValidateRange(1, 3600)][int]$TimeoutSeconds = 60,
    # Lab only: WinRM over HTTP 5985 instead of HTTPS 5986.
    [switch]$AllowHttpLab,
    # Lab only: do not check the WinRM certificate.
    [switch]$SkipCertificateCheckLab,
    # WinRM port (default 5986, or 5985 with -AllowHttpLab).
    [ValidateRange(1, 65535)][int]$Port,
    [ValidateRange(50, 60000)][int]$PollMilliseconds = 500,
    # Stage id for the log marker (rollback.ps1 and others reuse this script).
    # Lines are also appended to ReportsDir\deploy.log (empty: no log file).
    [string]$ReportsDir = 'reports',
    [ValidatePattern('^[a-z0-9_-]{1,32}$')][string]$Stage = 'smoke'
)
$ErrorActionPreference = 'Stop'
. (Join-Path -Path $PSScriptRoot -ChildPath 'winrm_session.ps1')
$StageLogId = $Stage
$exitCode = 0
$session = $null
try {
    if ($ReportsDir) { Set-StageLogFile -Path (Join-Path -Path (Resolve-LocalPath $ReportsDir) -ChildPath 'deploy.log') }
    $poolList = ConvertTo-NameList -Value $Pools -What 'app pool'
    if ($PSCmdlet.ShouldProcess(('{0}: {1}' -f $ComputerName, ($poolList -join ', ')), 'Start IIS app pools')) {
        $opened = $null
        Open-TargetSession -ComputerName $ComputerName -Port $Port -AllowHttpLab:$AllowHttpLab -SkipCertificateCheckLab:$SkipCertificateCheckLab | Receive-StageOutput -Result ([ref]$opened)
        $session = $opened.Session
        $result = $null
        Invoke-OnTarget -Session $session -EntryPoint Start-AppPoolsOnTarget -Parameters @{
            Pools = $poolList; TimeoutSeconds = $TimeoutSeconds; PollMilliseconds = $PollMilliseconds; Stage = $Stage
        } | Receive-StageOutput -Result ([ref]$result)
        Write-StageLog -Message ('all {0} app pool(s) Started: {1}' -f $poolList.Count, ($poolList -join ', '))
    }
    else {
        Write-StageLog -Message 'WhatIf: no app pool was changed'
    }
}
catch {
    Write-StageLog -Message ('ERROR: ' + $_.Exception.Message)
    $exitCode = 1
}
finally {
    Close-DevTestSession -Session $session
    Set-StageLogFile -Path $null
}
exit $exitCode
