<#
.SYNOPSIS
    Restores a backup of DEPLOY_DIR on DevTest (the named one or the newest), starts the pools, re-smokes.
.DESCRIPTION
    Jenkins stage 'Rollback' (marker [rollback]): after a failed smoke check, or for ACTION=rollback
    (ROLLBACK_TO = -BackupId; empty = the newest verified backup). On the server, inside
    Invoke-Command -Session: stop the pools, app_offline.htm, mirror BACKUP_ROOT\<id> into DEPLOY_DIR,
    verify, remove app_offline.htm, start the pools (each must reach Started). Then smoke.ps1 runs again
    with -Label rollback. Writes ReportsDir\rollback.json
      { backup_id, restored_at, smoke_ok, pools, migrations_warning, ok, error, ... }.
    If a deployment being undone ran EF migrations, it warns loudly: restoring code does not undo the
    database. Exit code 0 only when the restore worked and the re-smoke passed.
    Windows PowerShell 5.1 and PowerShell 7.
.EXAMPLE
    powershell -NoProfile -NonInteractive -File scripts\ps\rollback.ps1 -ComputerName DevTest -Pools "UserApi,SignerApi,ManagementApi,DefaultAppPool,PdfConvertorService" -DeployDir C:\inetpub\WeSign -BackupRoot C:\backup\WeSign -SmokeUrls "http://DevTest/health,http://DevTest/WeSignManagement/health" -Confirm:$false
.EXAMPLE
    powershell -NoProfile -NonInteractive -File scripts\ps\rollback.ps1 -ComputerName DevTest -Pools UserApi -DeployDir C:\inetpub\WeSign -BackupRoot C:\backup\WeSign -BackupId 20261204_101500 -SmokeUrls http://DevTest/health -Confirm:$false
#>
[CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
param(
    [Parameter(Mandatory = $true)][ValidatePattern('^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$')][string]$ComputerName,
    [Parameter(Mandatory = $true)][string[]]$Pools,
    [Parameter(Mandatory = $true)][string]$DeployDir,
    [Parameter(Mandatory = $true)][string]$BackupRoot,
    # YYYYMMDD_HHMMSS; empty = the newest verified backup.
    [ValidatePattern('^(\d{8}_\d{6})?$')][string]$BackupId = '',
    [Parameter(Mandatory = $true)][string[]]$SmokeUrls,
    [ValidateNotNullOrEmpty()][string]$ReportsDir = 'reports',
    [switch]$AllowHttpLab,
    [switch]$SkipCertificateCheckLab,
    [ValidateRange(1, 65535)][int]$Port,
    [ValidateRange(1, 3600)][int]$TimeoutSeconds = 60,
    [ValidateRange(50, 60000)][int]$PollMilliseconds = 500,
    [string[]]$PreservePaths = @(),
    [ValidateRange(1, 50)][int]$RetryAttempts = 5,
    [ValidateRange(0, 60000)][int]$RetryDelayMilliseconds = 1000,
    [ValidateRange(0, 10)][int]$SmokeRetries = 3,
    [ValidateRange(0, 120)][double]$SmokeBackoffSeconds = 2,
    [ValidateRange(1, 600)][int]$SmokeTimeoutSeconds = 10
)
$ErrorActionPreference = 'Stop'
. (Join-Path -Path $PSScriptRoot -ChildPath 'winrm_session.ps1')
$StageLogId = 'rollback'

$exitCode = 0
$session = $null
$reportsFull = Resolve-LocalPath $ReportsDir
$report = [ordered]@{
    backup_id = $null; backup_path = $null; restored_at = $null; smoke_ok = $false; pools = @()
    migrations_warning = $null; deploy_dir = $DeployDir; computer = $ComputerName; ok = $false; error = $null
    started_at = (Get-IsoTimestamp); finished_at = $null
}
try {
    Set-StageLogFile -Path (Join-Path -Path $reportsFull -ChildPath 'deploy.log')
    $poolList = ConvertTo-NameList -Value $Pools -What 'app pool'
    $report.pools = @($poolList)
    $urlList = ConvertTo-UrlList -Value $SmokeUrls
    Assert-DeployPaths -Paths ([ordered]@{ DeployDir = $DeployDir; BackupRoot = $BackupRoot })
    $which = 'the newest verified backup'
    if ($BackupId) { $which = 'backup ' + $BackupId }
    if (-not $PSCmdlet.ShouldProcess(('{0}:{1}' -f $ComputerName, $DeployDir), ('restore {0}' -f $which))) {
        Write-StageLog -Message 'WhatIf: nothing was restored'
        $report = $null
    }
    else {
        Write-StageLog -Message ("rollback of {0} on {1} to {2}" -f $DeployDir, $ComputerName, $which)
        $opened = $null
        Open-TargetSession -ComputerName $ComputerName -Port $Port -AllowHttpLab:$AllowHttpLab -SkipCertificateCheckLab:$SkipCertificateCheckLab | Receive-StageOutput -Result ([ref]$opened)
        $session = $opened.Session
        $restored = $null
        Invoke-OnTarget -Session $session -EntryPoint 'Invoke-RollbackOnTarget' -Parameters @{
            DeployDir = $DeployDir; BackupRoot = $BackupRoot; BackupId = $BackupId; Pools = $poolList
            TimeoutSeconds = $TimeoutSeconds; PollMilliseconds = $PollMilliseconds; PreservePaths = @($PreservePaths)
            RetryAttempts = $RetryAttempts; RetryDelayMilliseconds = $RetryDelayMilliseconds; Stage = 'rollback'
        } | Receive-StageOutput -Result ([ref]$restored)
        Close-DevTestSession -Session $session
        $session = $null
        $report.backup_id = $restored.BackupId
        $report.backup_path = $restored.BackupPath
        $report.restored_at = $restored.RestoredAt
        $report.migrations_warning = $restored.MigrationsWarning
        if ($restored.MigrationsWarning) {
            # Loud on purpose: a code rollback over a migrated database can break the restored version.
            Write-StageLog -Message '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!'
            Write-StageLog -Message ('WARNING: DATABASE NOT ROLLED BACK: ' + $restored.MigrationsWarning)
            Write-StageLog -Message '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!'
        }
        Write-StageLog -Message ("restored backup {0}; pools started; re-running the smoke check" -f $restored.BackupId)

        $global:LASTEXITCODE = 0
        & (Join-Path -Path $PSScriptRoot -ChildPath 'smoke.ps1') -Urls $urlList -Retries $SmokeRetries -BackoffSeconds $SmokeBackoffSeconds -TimeoutSeconds $SmokeTimeoutSeconds -ReportsDir $reportsFull -Label 'rollback' -Stage 'rollback' | ForEach-Object { Write-StageLine -Line ([string]$_) }
        $report.smoke_ok = ($LASTEXITCODE -eq 0)
        if ($report.smoke_ok) {
            $report.ok = $true
            Write-StageLog -Message ("rollback succeeded: backup {0} restored and the smoke check passed" -f $restored.BackupId)
        }
        else {
            $report.error = 'the smoke check failed after the rollback'
            Write-StageLog -Message 'ERROR: rollback restored the files but the smoke check still fails (rollback_failed): the previous version is not healthy either'
            $exitCode = 1
        }
    }
}
catch {
    $message = $_.Exception.Message
    Write-StageLog -Message ('ERROR: rollback failed: ' + $message)
    if ($null -ne $report) { $report.error = Protect-StageText -Text $message }
    $exitCode = 1
}
finally {
    Close-DevTestSession -Session $session
    if ($null -ne $report) {
        $report.finished_at = Get-IsoTimestamp
        try { Write-JsonFile -Path (Join-Path -Path $reportsFull -ChildPath 'rollback.json') -InputObject $report }
        catch { Write-StageLog -Message ('ERROR: cannot write rollback.json: ' + $_.Exception.Message); $exitCode = 1 }
    }
    Set-StageLogFile -Path $null
}
exit $exitCode
