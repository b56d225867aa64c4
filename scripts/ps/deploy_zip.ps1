<#
.SYNOPSIS
    Transfers the WeSign artifact to DevTest (-Mode Transfer) or deploys it into IIS (-Mode Deploy).
.DESCRIPTION
    -Mode Transfer  (Jenkins stage 'Transfer Artifact', marker [transfer])
        Checks the zip for zip-slip entries before anything is written, copies it to STAGING on the
        server with Copy-Item -ToSession (default) or robocopy over SMB (net use with the Jenkins
        credential; robocopy exit codes 0-7 success, 8+ failure), verifies its SHA-256 on the server
        against the local file, and expands it into a side folder STAGING\<name>.<sha12>.
    -Mode Deploy    (Jenkins stage 'Backup & Deploy', marker [deploy]; app pools already stopped)
        Takes a timestamped backup BACKUP_ROOT\YYYYMMDD_HHMMSS of DEPLOY_DIR and verifies it before
        anything in DEPLOY_DIR changes (no backup, no deploy); puts app_offline.htm up; mirrors the side
        folder into DEPLOY_DIR with retries for locked files; restores the backup if that fails;
        optionally runs EF migrations (-RunMigrations, DB account from DB_MIGRATION_USER /
        DB_MIGRATION_PASSWORD); keeps the newest -KeepBackups backups. Deploying the artifact
        DEPLOY_DIR already holds changes nothing. Writes ReportsDir\deploy-manifest.json.
    Both modes append their lines to ReportsDir\deploy.log. Exit code 0 on success, 1 on failure.
    The WinRM credential comes from DEVTEST_USER / DEVTEST_PASSWORD (Jenkins withCredentials).
    Windows PowerShell 5.1 and PowerShell 7.
.EXAMPLE
    powershell -NoProfile -NonInteractive -File scripts\ps\deploy_zip.ps1 -Mode Transfer -ComputerName DevTest -ArtifactPath artifact\WeSign.DevTest.zip -StagingDir C:\deploy -DeployDir C:\inetpub\WeSign -BackupRoot C:\backup\WeSign -Confirm:$false
.EXAMPLE
    powershell -NoProfile -NonInteractive -File scripts\ps\deploy_zip.ps1 -Mode Deploy -ComputerName DevTest -ArtifactPath artifact\WeSign.DevTest.zip -StagingDir C:\deploy -DeployDir C:\inetpub\WeSign -BackupRoot C:\backup\WeSign -Pools "UserApi,SignerApi" -KeepBackups 10 -Confirm:$false
#>
[CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
param(
    [Parameter(Mandatory = $true)][ValidateSet('Transfer', 'Deploy')][string]$Mode,
    [Parameter(Mandatory = $true)][ValidatePattern('^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$')][string]$ComputerName,
    # The zip on the Jenkins side (artifact\WeSign.DevTest.zip).
    [Parameter(Mandatory = $true)][ValidateNotNullOrEmpty()][string]$ArtifactPath,
    # Folders on the server.
    [ValidateNotNullOrEmpty()][string]$StagingDir = 'C:\deploy',
    [string]$DeployDir,
    [string]$BackupRoot,
    [ValidateSet('ToSession', 'Robocopy')][string]$TransferMethod = 'ToSession',
    [ValidateRange(1, 100)][int]$KeepBackups = 10,
    [ValidateNotNullOrEmpty()][string]$ReportsDir = 'reports',
    # EF Core migrations: off unless given. The DB account comes from DB_MIGRATION_USER / DB_MIGRATION_PASSWORD.
    [switch]$RunMigrations,
    # Command line run in DEPLOY_DIR on the server; DB_MIGRATION_USER / DB_MIGRATION_PASSWORD are in its environment.
    [string]$MigrationCommand = 'efbundle.exe',
    # Recorded in deploy-manifest.json (the pools the stop/start stages handle): array or comma-separated.
    [string[]]$Pools = @(),
    # Paths relative to DEPLOY_DIR that the deploy never deletes or overwrites (e.g. logs).
    [string[]]$PreservePaths = @(),
    [switch]$AllowHttpLab,
    [switch]$SkipCertificateCheckLab,
    [ValidateRange(1, 65535)][int]$Port,
    [ValidateRange(1, 50)][int]$RetryAttempts = 5,
    [ValidateRange(0, 60000)][int]$RetryDelayMilliseconds = 1000,
    # SMB share root for -TransferMethod Robocopy; default \\<ComputerName>\<drive>$ of StagingDir.
    [string]$SmbShare,
    # The robocopy and net executables (tests point these at stand-ins).
    [string]$RobocopyPath = 'robocopy.exe',
    [string]$NetPath = 'net.exe'
)
$ErrorActionPreference = 'Stop'
. (Join-Path -Path $PSScriptRoot -ChildPath 'winrm_session.ps1')
if ($Mode -eq 'Transfer') { $StageLogId = 'transfer' } else { $StageLogId = 'deploy' }

function Copy-ArtifactBySmb {
    <# net use \\server\C$ with the credential, robocopy the zip into STAGING, net use /delete. #>
    param([string]$LocalZip, [string]$Share, [string]$RemoteFolder, [pscredential]$Credential)
    $user = $Credential.UserName
    $password = $Credential.GetNetworkCredential().Password
    Write-StageLog -Message ("net use {0} /user:{1} (password from the Jenkins credential, not shown)" -f $Share, $user)
    # The password is an argument of net.exe (its only non-interactive way); it is never printed.
    Invoke-NativeCommand -FilePath $NetPath -ArgumentList @('use', $Share, ('/user:' + $user), $password) -DisplayArguments ('use {0} /user:{1} ***' -f $Share, $user)
    try {
        Invoke-Robocopy -Source (Split-Path -Path $LocalZip -Parent) -Destination $RemoteFolder -File @(Split-Path -Path $LocalZip -Leaf) -ExtraArgument @('/R:3', '/W:5', '/NP', '/NDL', '/Z') -RobocopyPath $RobocopyPath -Confirm:$false
    }
    finally {
        try { Invoke-NativeCommand -FilePath $NetPath -ArgumentList @('use', $Share, '/delete', '/y') }
        catch { Write-StageLog -Message ('net use /delete failed (ignored): ' + $_.Exception.Message) }
    }
}

function Join-TargetPath {
    <#
      Joins a folder on the server and a file name as text. Join-Path would resolve the drive on the
      Jenkins machine, which fails for a drive Jenkins does not have (D:\deploy).
    #>
    param([string]$Parent, [string]$Child)
    $separator = '\'
    if ($Parent.StartsWith('/')) { $separator = '/' }
    return ($Parent.TrimEnd('\', '/') + $separator + $Child)
}

function Get-SmbTarget {
    <# \\DevTest\C$ and \\DevTest\C$\deploy for StagingDir C:\deploy. #>
    param([string]$Computer, [string]$Staging, [string]$Share)
    if ($Staging -notmatch '^([A-Za-z]):\\(.*)$') { throw ("-TransferMethod Robocopy needs a drive path for -StagingDir (e.g. C:\deploy), got '{0}'" -f $Staging) }
    $drive = $Matches[1]
    $rest = $Matches[2].TrimEnd('\')
    if (-not $Share) { $Share = '\\{0}\{1}$' -f $Computer, $drive.ToUpperInvariant() }
    $folder = $Share.TrimEnd('\')
    if ($rest) { $folder = $folder + '\' + $rest }
    return [pscustomobject]@{ Share = $Share.TrimEnd('\'); Folder = $folder }
}

$exitCode = 0
$session = $null
$startedAt = Get-IsoTimestamp
$reportsFull = Resolve-LocalPath $ReportsDir
$manifest = $null
try {
    Set-StageLogFile -Path (Join-Path -Path $reportsFull -ChildPath 'deploy.log')
    Write-StageLog -Message ("deploy_zip.ps1 -Mode {0} to {1} started at {2}" -f $Mode, $ComputerName, $startedAt)
    $poolList = @()
    if (@($Pools | Where-Object { $_ }).Count -gt 0) { $poolList = ConvertTo-NameList -Value $Pools -What 'app pool' }
    $paths = [ordered]@{ StagingDir = $StagingDir }
    if ($Mode -eq 'Deploy') { $paths['DeployDir'] = $DeployDir; $paths['BackupRoot'] = $BackupRoot }
    elseif ($DeployDir -and $BackupRoot) { $paths['DeployDir'] = $DeployDir; $paths['BackupRoot'] = $BackupRoot }
    Assert-DeployPaths -Paths $paths

    $artifactFull = Resolve-LocalPath $ArtifactPath
    if (-not (Test-Path -LiteralPath $artifactFull -PathType Leaf)) {
        throw ("artifact not found: '{0}'. Fix: run the Package and Config Transform stages first (they write artifact\WeSign.DevTest.zip)." -f $ArtifactPath)
    }
    $artifactName = Split-Path -Path $artifactFull -Leaf
    $artifactSha = Get-FileSha256 -Path $artifactFull
    $artifactBytes = (Get-Item -LiteralPath $artifactFull).Length
    Write-StageLog -Message ("artifact {0}: {1} bytes, sha256 {2}" -f $artifactName, $artifactBytes, $artifactSha)

    $migrationCredential = $null
    if ($Mode -eq 'Deploy' -and $RunMigrations) {
        if ([string]::IsNullOrWhiteSpace($MigrationCommand)) { throw '-RunMigrations needs -MigrationCommand (e.g. efbundle.exe)' }
        $migrationCredential = Get-DevTestCredential -UserEnv 'DB_MIGRATION_USER' -PasswordEnv 'DB_MIGRATION_PASSWORD' -CredentialsId 'the DB migration credential'
        Write-StageLog -Message ("EF migrations enabled: '{0}' will run as {1}" -f $MigrationCommand, $migrationCredential.UserName)
    }

    if ($Mode -eq 'Transfer') {
        # Refuse a zip-slip archive before anything is written anywhere.
        Assert-ZipIsSafe -ZipPath $artifactFull
        if (-not $PSCmdlet.ShouldProcess(('{0}:{1}' -f $ComputerName, $StagingDir), ('transfer {0}' -f $artifactName))) {
            Write-StageLog -Message 'WhatIf: nothing was transferred'
        }
        else {
            $credential = Get-DevTestCredential
            $smb = $null
            if ($TransferMethod -eq 'Robocopy') { $smb = Get-SmbTarget -Computer $ComputerName -Staging $StagingDir -Share $SmbShare }
            $opened = $null
            Open-TargetSession -ComputerName $ComputerName -Credential $credential -Port $Port -AllowHttpLab:$AllowHttpLab -SkipCertificateCheckLab:$SkipCertificateCheckLab | Receive-StageOutput -Result ([ref]$opened)
            $session = $opened.Session
            $ignored = $null
            Invoke-OnTarget -Session $session -EntryPoint 'Initialize-StagingOnTarget' -Parameters @{ StagingDir = $StagingDir; Stage = 'transfer' } | Receive-StageOutput -Result ([ref]$ignored)
            $remoteZip = Join-TargetPath -Parent $StagingDir -Child $artifactName
            if ($TransferMethod -eq 'ToSession') {
                Write-StageLog -Message ("Copy-Item -ToSession -> {0}" -f $remoteZip)
                Copy-Item -LiteralPath $artifactFull -Destination $remoteZip -ToSession $session -Force -ErrorAction Stop
            }
            else {
                Copy-ArtifactBySmb -LocalZip $artifactFull -Share $smb.Share -RemoteFolder $smb.Folder -Credential $credential
            }
            $expanded = $null
            Invoke-OnTarget -Session $session -EntryPoint 'Expand-ArtifactOnTarget' -Parameters @{
                StagingDir = $StagingDir; ArtifactName = $artifactName; Sha256 = $artifactSha; Stage = 'transfer'
            } | Receive-StageOutput -Result ([ref]$expanded)
            Write-StageLog -Message ("transfer done: {0} verified on {1}, side folder {2}" -f $artifactName, $ComputerName, $expanded.SidePath)
        }
    }
    else {
        $manifest = [ordered]@{
            backup_id = $null; backup_path = $null; deploy_dir = $DeployDir; artifact_sha256 = $artifactSha
            artifact_name = $artifactName; computer = $ComputerName; pools = @($poolList)
            started_at = $startedAt; finished_at = $null; migrations_ran = $false; changed = $false; ok = $false; error = $null
        }
        if (-not $PSCmdlet.ShouldProcess(('{0}:{1}' -f $ComputerName, $DeployDir), ('back up and deploy {0}' -f $artifactName))) {
            Write-StageLog -Message 'WhatIf: nothing was backed up or deployed'
            $manifest = $null
        }
        else {
            $opened = $null
            Open-TargetSession -ComputerName $ComputerName -Port $Port -AllowHttpLab:$AllowHttpLab -SkipCertificateCheckLab:$SkipCertificateCheckLab | Receive-StageOutput -Result ([ref]$opened)
            $session = $opened.Session
            $result = $null
            Invoke-OnTarget -Session $session -EntryPoint 'Invoke-DeployOnTarget' -Parameters @{
                DeployDir = $DeployDir; BackupRoot = $BackupRoot; StagingDir = $StagingDir
                ArtifactName = $artifactName; ArtifactSha256 = $artifactSha; KeepBackups = $KeepBackups
                PreservePaths = @($PreservePaths); RunMigrations = [bool]$RunMigrations; MigrationCommand = $MigrationCommand
                MigrationCredential = $migrationCredential; RetryAttempts = $RetryAttempts
                RetryDelayMilliseconds = $RetryDelayMilliseconds; Stage = 'deploy'
            } | Receive-StageOutput -Result ([ref]$result)
            $manifest.backup_id = $result.BackupId
            $manifest.backup_path = $result.BackupPath
            $manifest.migrations_ran = [bool]$result.MigrationsRan
            $manifest.changed = [bool]$result.Changed
            $manifest.ok = $true
            if ($result.Changed) { Write-StageLog -Message ("deploy done: backup {0}, {1} files in {2}" -f $result.BackupId, $result.Files, $DeployDir) }
            else { Write-StageLog -Message ("deploy done: nothing changed (already deployed; last backup {0})" -f $result.BackupId) }
        }
    }
}
catch {
    $message = $_.Exception.Message
    Write-StageLog -Message ('ERROR: ' + $message)
    if ($null -ne $manifest) {
        $manifest.error = Protect-StageText -Text $message
        # A failed deploy that restored its backup says which one in its message.
        if ($message -match 'restored from backup (\d{8}_\d{6})') { $manifest.backup_id = $Matches[1] }
        $manifest.migrations_ran = $message -match 'the migration command ran'
    }
    $exitCode = 1
}
finally {
    Close-DevTestSession -Session $session
    if ($null -ne $manifest) {
        $manifest.finished_at = Get-IsoTimestamp
        try { Write-JsonFile -Path (Join-Path -Path $reportsFull -ChildPath 'deploy-manifest.json') -InputObject $manifest }
        catch { Write-StageLog -Message ('ERROR: cannot write deploy-manifest.json: ' + $_.Exception.Message); $exitCode = 1 }
    }
    Set-StageLogFile -Path $null
}
exit $exitCode
