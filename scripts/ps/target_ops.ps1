# target_ops.ps1 - the work done ON the DevTest server (IIS app pools, backup, swap, restore, checks).
#
# Not run directly: Invoke-OnTarget (common.ps1) sends common.ps1 + this file to the server inside
# Invoke-Command -Session and calls one entry function (the *OnTarget functions below), or runs it in
# this process when there is no session (the Pester tests, or a run on the server itself).
# Same output convention as common.ps1: log lines as strings, one StageResult object at the end.
# Windows PowerShell 5.1 and PowerShell 7 compatible.

# Layout of the files this code keeps beside the site (never inside DEPLOY_DIR, which IIS serves):
#   STAGING\<artifact name>                     the transferred zip
#   STAGING\<artifact base>.<sha12>\            the expanded side folder, copied into DEPLOY_DIR at swap time
#   STAGING\<artifact base>.<sha12>.ready.json  written once the side folder is complete
#   BACKUP_ROOT\YYYYMMDD_HHMMSS\                a verified copy of DEPLOY_DIR taken before a deploy
#   BACKUP_ROOT\YYYYMMDD_HHMMSS.manifest.json   what that deploy did (artifact, migrations_ran, ...)
#   BACKUP_ROOT\current.json                    what DEPLOY_DIR holds now (for idempotent re-deploys)

$script:AppOfflineName = 'app_offline.htm'
$script:BackupIdPattern = '^\d{8}_\d{6}$'

# ---------------------------------------------------------------------------------------------
# IIS app pools
# ---------------------------------------------------------------------------------------------

function Import-IisModule {
    <# Loads WebAdministration, with a hint when IIS management tools are missing. #>
    [CmdletBinding()]
    param()
    try { Import-Module -Name WebAdministration -ErrorAction Stop -Verbose:$false }
    catch {
        throw ("the WebAdministration module is not available on {0}: {1}. Fix: install IIS management scripts and tools (Install-WindowsFeature Web-Scripting-Tools)." -f [Environment]::MachineName, $_.Exception.Message)
    }
}

function Get-AppPoolStateValue {
    <# 'Started' | 'Stopped' | 'Starting' | 'Stopping' | 'Unknown'; throws if the pool does not exist. #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)][string]$Name)
    try { $state = Get-WebAppPoolState -Name $Name -ErrorAction Stop }
    catch { throw ("app pool '{0}' does not exist on {1} ({2}). Fix: create it in IIS or correct IIS_APP_POOLS." -f $Name, [Environment]::MachineName, $_.Exception.Message) }
    if ($null -eq $state) { throw ("app pool '{0}' does not exist on {1}. Fix: create it in IIS or correct IIS_APP_POOLS." -f $Name, [Environment]::MachineName) }
    return [string]$state.Value
}

function Wait-AppPoolState {
    <# Polls until the pool is in State or the timeout passes; returns the last state seen. #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)][string]$Name,
        [Parameter(Mandatory = $true)][ValidateSet('Started', 'Stopped')][string]$State,
        [int]$TimeoutSeconds = 60,
        [int]$PollMilliseconds = 500
    )
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    while ($true) {
        $current = Get-AppPoolStateValue -Name $Name
        if ($current -eq $State) { return $current }
        if ([DateTime]::UtcNow -ge $deadline) { return $current }
        Start-Sleep -Milliseconds $PollMilliseconds
    }
}

function Stop-AppPoolsOnTarget {
    <# Stops each pool and waits until it is Stopped. Already stopped pools are fine (idempotent). #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)][string[]]$Pools,
        [int]$TimeoutSeconds = 60,
        [int]$PollMilliseconds = 500,
        [string]$Stage = 'deploy'
    )
    $StageLogId = $Stage
    Import-IisModule
    $states = [ordered]@{}
    $failed = New-Object -TypeName System.Collections.Generic.List[string]
    foreach ($pool in $Pools) {
        $state = Get-AppPoolStateValue -Name $pool
        if ($state -eq 'Stopped') {
            Write-StageLog -Message ("app pool '{0}' is already stopped" -f $pool)
        }
        else {
            if ($state -ne 'Stopping') {
                Write-StageLog -Message ("stopping app pool '{0}' (was {1})" -f $pool, $state)
                Stop-WebAppPool -Name $pool -ErrorAction Stop
            }
            $state = Wait-AppPoolState -Name $pool -State Stopped -TimeoutSeconds $TimeoutSeconds -PollMilliseconds $PollMilliseconds
            if ($state -eq 'Stopped') { Write-StageLog -Message ("app pool '{0}' stopped" -f $pool) }
            else { $failed.Add(("{0} (state: {1})" -f $pool, $state)) }
        }
        $states[$pool] = $state
    }
    if ($failed.Count -gt 0) {
        throw ("app pool(s) did not stop within {0}s: {1}. Fix: look for a hung w3wp.exe of that pool on the server (Get-Process w3wp) and the System event log." -f $TimeoutSeconds, ($failed -join ', '))
    }
    New-StageResult -Property @{ Pools = $states }
}

function Start-AppPoolsOnTarget {
    <# Starts each pool and verifies it reaches Started; fails naming every pool that did not. #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)][string[]]$Pools,
        [int]$TimeoutSeconds = 60,
        [int]$PollMilliseconds = 500,
        [string]$Stage = 'smoke'
    )
    $StageLogId = $Stage
    Import-IisModule
    $states = [ordered]@{}
    $failed = New-Object -TypeName System.Collections.Generic.List[string]
    foreach ($pool in $Pools) {
        $state = Get-AppPoolStateValue -Name $pool
        if ($state -eq 'Started') {
            Write-StageLog -Message ("app pool '{0}' is already started" -f $pool)
        }
        else {
            if ($state -eq 'Stopping') { $null = Wait-AppPoolState -Name $pool -State Stopped -TimeoutSeconds $TimeoutSeconds -PollMilliseconds $PollMilliseconds }
            if ($state -ne 'Starting') {
                Write-StageLog -Message ("starting app pool '{0}' (was {1})" -f $pool, $state)
                try { Start-WebAppPool -Name $pool -ErrorAction Stop }
                catch { Write-StageLog -Message ("Start-WebAppPool '{0}' reported: {1}" -f $pool, $_.Exception.Message) }
            }
            $state = Wait-AppPoolState -Name $pool -State Started -TimeoutSeconds $TimeoutSeconds -PollMilliseconds $PollMilliseconds
            if ($state -eq 'Started') { Write-StageLog -Message ("app pool '{0}' started" -f $pool) }
            else { $failed.Add(("{0} (state: {1})" -f $pool, $state)) }
        }
        $states[$pool] = $state
    }
    if ($failed.Count -gt 0) {
        throw ("app pool(s) did not reach Started within {0}s: {1}. Fix: check the pool identity's password and the Application/System event logs (WAS, IIS-W3SVC-WP) on the server." -f $TimeoutSeconds, ($failed -join ', '))
    }
    New-StageResult -Property @{ Pools = $states }
}

# ---------------------------------------------------------------------------------------------
# Preflight checks on the target
# ---------------------------------------------------------------------------------------------

function New-PreflightCheck {
    [CmdletBinding()]
    param([string]$Id, [bool]$Ok, [string]$Detail, [string]$Hint)
    if ($Ok) { $Hint = $null }
    return [pscustomobject][ordered]@{ id = $Id; ok = $Ok; detail = $Detail; hint = $Hint }
}

function Get-TargetPreflightOnTarget {
    <#
      The server-side preflight: WebAdministration present, W3SVC and WAS running, every pool exists,
      enough free disk for staging + side folder + backup. Changes nothing on the server.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)][string[]]$Pools,
        [Parameter(Mandatory = $true)][string]$DeployDir,
        [Parameter(Mandatory = $true)][string]$StagingDir,
        [Parameter(Mandatory = $true)][string]$BackupRoot,
        [long]$ArtifactBytes = 0,
        [long]$MinFreeBytes = 0,
        [string]$Stage = 'preflight'
    )
    $StageLogId = $Stage
    $checks = New-Object -TypeName System.Collections.Generic.List[object]
    $machine = [Environment]::MachineName

    $module = Get-Module -ListAvailable -Name WebAdministration -Verbose:$false
    $moduleOk = $null -ne $module
    $checks.Add((New-PreflightCheck -Id 'iis_module' -Ok $moduleOk -Detail $(if ($moduleOk) { 'WebAdministration module available' } else { "WebAdministration module not found on $machine" }) -Hint 'Install IIS and its management scripts on DevTest: Install-WindowsFeature Web-Server, Web-Scripting-Tools.'))

    foreach ($serviceName in @('W3SVC', 'WAS')) {
        $detail = ''
        $ok = $false
        try {
            $service = Get-Service -Name $serviceName -ErrorAction Stop
            $ok = [string]$service.Status -eq 'Running'
            $detail = '{0} is {1}' -f $serviceName, $service.Status
        }
        catch { $detail = '{0} not found: {1}' -f $serviceName, $_.Exception.Message }
        $checks.Add((New-PreflightCheck -Id ('service_' + $serviceName.ToLowerInvariant()) -Ok $ok -Detail $detail -Hint ("Start it on DevTest: Start-Service {0} (and set it to Automatic); if it is missing, install the IIS role." -f $serviceName)))
    }

    $moduleLoaded = $false
    if ($moduleOk) {
        try { Import-IisModule; $moduleLoaded = $true } catch { $moduleLoaded = $false }
    }
    foreach ($pool in $Pools) {
        if (-not $moduleLoaded) {
            $checks.Add((New-PreflightCheck -Id ('pool_' + $pool) -Ok $false -Detail 'not checked: WebAdministration is not available' -Hint 'Fix iis_module first.'))
            continue
        }
        try {
            $state = Get-AppPoolStateValue -Name $pool
            $checks.Add((New-PreflightCheck -Id ('pool_' + $pool) -Ok $true -Detail ("app pool exists ({0})" -f $state) -Hint ''))
        }
        catch {
            $checks.Add((New-PreflightCheck -Id ('pool_' + $pool) -Ok $false -Detail $_.Exception.Message -Hint ("Create app pool '{0}' in IIS Manager or correct IIS_APP_POOLS in the Jenkinsfile." -f $pool)))
        }
    }

    # Staging holds the zip and the side folder (x2), the backup holds a copy (x1): x3 on one drive.
    $needs = @{}
    foreach ($pair in @(@($StagingDir, 2), @($BackupRoot, 1))) {
        $root = [System.IO.Path]::GetPathRoot([System.IO.Path]::GetFullPath($pair[0]))
        if (-not $needs.ContainsKey($root)) { $needs[$root] = 0 }
        $needs[$root] = $needs[$root] + $pair[1]
    }
    foreach ($root in ($needs.Keys | Sort-Object)) {
        $required = [long]($ArtifactBytes * $needs[$root])
        if ($required -lt $MinFreeBytes) { $required = $MinFreeBytes }
        $id = 'disk_' + ($root -replace '[^A-Za-z0-9]', '')
        if ($id -eq 'disk_') { $id = 'disk_root' }
        try {
            $drive = New-Object -TypeName System.IO.DriveInfo -ArgumentList $root
            $free = [long]$drive.AvailableFreeSpace
            $ok = $free -ge $required
            $detail = '{0}: {1:N0} MB free, {2:N0} MB needed (artifact x{3}, at least the minimum)' -f $root, ($free / 1MB), ($required / 1MB), $needs[$root]
        }
        catch { $ok = $false; $detail = '{0}: cannot read free space: {1}' -f $root, $_.Exception.Message }
        $checks.Add((New-PreflightCheck -Id $id -Ok $ok -Detail $detail -Hint ("Free space on {0} of DevTest: delete old folders under the backup root (KeepBackups) and the staging folder." -f $root)))
    }

    foreach ($check in $checks) {
        $mark = 'FAIL'
        if ($check.ok) { $mark = 'ok' }
        Write-StageLog -Message ('{0,-4} {1}: {2}' -f $mark, $check.id, $check.detail)
    }
    New-StageResult -Property @{ Checks = $checks.ToArray() }
}

# ---------------------------------------------------------------------------------------------
# Staging: checksum, side folder
# ---------------------------------------------------------------------------------------------

function Get-SideFolderPath {
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)][string]$StagingDir, [Parameter(Mandatory = $true)][string]$ArtifactName, [Parameter(Mandatory = $true)][string]$Sha256)
    $base = [System.IO.Path]::GetFileNameWithoutExtension($ArtifactName)
    return (Join-Path -Path $StagingDir -ChildPath ('{0}.{1}' -f $base, $Sha256.Substring(0, 12)))
}

function Initialize-StagingOnTarget {
    <# Creates the staging folder (the transfer destination). #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)][string]$StagingDir, [string]$Stage = 'transfer')
    $StageLogId = $Stage
    if (-not (Test-Path -LiteralPath $StagingDir -PathType Container)) {
        $null = New-Item -ItemType Directory -Path $StagingDir -Force -ErrorAction Stop
        Write-StageLog -Message ("created staging folder '{0}'" -f $StagingDir)
    }
    New-StageResult -Property @{ StagingDir = $StagingDir }
}

function Assert-StagedArtifact {
    <# Throws unless the staged zip exists and its SHA-256 equals the one computed on Jenkins. #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)][string]$ZipPath, [Parameter(Mandatory = $true)][string]$ExpectedSha256)
    if (-not (Test-Path -LiteralPath $ZipPath -PathType Leaf)) {
        throw ("staged artifact not found on the server: '{0}'. Fix: run deploy_zip.ps1 -Mode Transfer first." -f $ZipPath)
    }
    $actual = Get-FileSha256 -Path $ZipPath
    if ($actual -ne $ExpectedSha256.ToLowerInvariant()) {
        throw ("checksum mismatch for '{0}': server has sha256 {1}, Jenkins sent {2}. The copy is corrupt or stale; run the transfer again." -f $ZipPath, $actual, $ExpectedSha256)
    }
    Write-StageLog -Message ("sha256 verified on the server: {0}" -f $actual)
}

function Expand-ArtifactOnTarget {
    <#
      Verifies the staged zip and expands it into its side folder (zip-slip checked before anything is
      written). Skips the work when the side folder is already complete for this checksum (idempotent).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)][string]$StagingDir,
        [Parameter(Mandatory = $true)][string]$ArtifactName,
        [Parameter(Mandatory = $true)][string]$Sha256,
        [string]$Stage = 'transfer'
    )
    $StageLogId = $Stage
    $zipPath = Join-Path -Path $StagingDir -ChildPath $ArtifactName
    Assert-StagedArtifact -ZipPath $zipPath -ExpectedSha256 $Sha256
    $side = Get-SideFolderPath -StagingDir $StagingDir -ArtifactName $ArtifactName -Sha256 $Sha256
    $readyPath = $side + '.ready.json'
    $ready = Read-JsonFile -Path $readyPath
    if ($null -ne $ready -and $ready.sha256 -eq $Sha256 -and (Test-Path -LiteralPath $side -PathType Container)) {
        $inventory = Get-FolderInventory -Path $side
        if ($inventory.Count -eq [int]$ready.count -and $inventory.Bytes -eq [long]$ready.bytes) {
            Write-StageLog -Message ("side folder '{0}' is already expanded for this artifact ({1} files)" -f $side, $inventory.Count)
            return (New-StageResult -Property @{ SidePath = $side; Count = $inventory.Count; Bytes = $inventory.Bytes; Expanded = $false })
        }
    }
    # Refuse a dangerous zip before the side folder is even created.
    Assert-ZipIsSafe -ZipPath $zipPath
    if (Test-Path -LiteralPath $readyPath) { Remove-Item -LiteralPath $readyPath -Force -Confirm:$false -ErrorAction Stop }
    if (Test-Path -LiteralPath $side) { Remove-Item -LiteralPath $side -Recurse -Force -Confirm:$false -ErrorAction Stop }
    try {
        Expand-ZipSafely -ZipPath $zipPath -Destination $side
    }
    catch {
        if (Test-Path -LiteralPath $side) { Remove-Item -LiteralPath $side -Recurse -Force -Confirm:$false -ErrorAction SilentlyContinue }
        throw ("expanding '{0}' into '{1}' failed: {2}" -f $zipPath, $side, $_.Exception.Message)
    }
    $inventory = Get-FolderInventory -Path $side
    Write-JsonFile -Path $readyPath -InputObject ([ordered]@{ sha256 = $Sha256; count = $inventory.Count; bytes = $inventory.Bytes; expanded_at = (Get-IsoTimestamp) })
    Write-StageLog -Message ("expanded into side folder '{0}': {1} files, {2} bytes" -f $side, $inventory.Count, $inventory.Bytes)
    New-StageResult -Property @{ SidePath = $side; Count = $inventory.Count; Bytes = $inventory.Bytes; Expanded = $true }
}

# ---------------------------------------------------------------------------------------------
# Backups
# ---------------------------------------------------------------------------------------------

function Get-DeployBackupList {
    <# Verified backups, newest first: objects { Id; Path; Manifest }. #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)][string]$BackupRoot)
    $list = New-Object -TypeName System.Collections.Generic.List[object]
    if (-not (Test-Path -LiteralPath $BackupRoot -PathType Container)) { return , $list.ToArray() }
    $folders = Get-ChildItem -LiteralPath $BackupRoot -Directory -ErrorAction Stop | Where-Object { $_.Name -match $script:BackupIdPattern } | Sort-Object -Property Name -Descending
    foreach ($folder in $folders) {
        $manifest = Read-JsonFile -Path (Join-Path -Path $BackupRoot -ChildPath ($folder.Name + '.manifest.json'))
        if ($null -eq $manifest -or -not $manifest.verified) { continue }
        $list.Add([pscustomobject]@{ Id = $folder.Name; Path = $folder.FullName; Manifest = $manifest })
    }
    return , $list.ToArray()
}

function New-DeployBackup {
    <#
      Copies DEPLOY_DIR to BACKUP_ROOT\YYYYMMDD_HHMMSS and verifies the copy (file count, bytes and
      SHA-256 per file). A backup that fails is removed, so it can never be restored by mistake.
      Emits log lines and a StageResult { Id; Path; Count; Bytes } (use Receive-StageOutput).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)][string]$DeployDir,
        [Parameter(Mandatory = $true)][string]$BackupRoot
    )
    if (-not (Test-Path -LiteralPath $BackupRoot -PathType Container)) {
        $null = New-Item -ItemType Directory -Path $BackupRoot -Force -ErrorAction Stop
    }
    $id = $null
    $path = $null
    for ($try = 0; $try -lt 5; $try++) {
        $candidate = Get-Date -Format 'yyyyMMdd_HHmmss'
        $candidatePath = Join-Path -Path $BackupRoot -ChildPath $candidate
        if (-not (Test-Path -LiteralPath $candidatePath)) { $id = $candidate; $path = $candidatePath; break }
        Start-Sleep -Milliseconds 1000
    }
    if ($null -eq $id) { throw ("cannot find a free backup name under '{0}'" -f $BackupRoot) }
    $null = New-Item -ItemType Directory -Path $path -ErrorAction Stop
    # What DEPLOY_DIR held when the backup was taken, so that a rollback knows which artifact it restores.
    $previous = Read-JsonFile -Path (Join-Path -Path $BackupRoot -ChildPath 'current.json')
    $previousSha = $null
    if ($null -ne $previous) { $previousSha = $previous.artifact_sha256 }
    try {
        $source = Get-FolderInventory -Path $DeployDir -WithHash -ExcludeRelativePath @($script:AppOfflineName)
        if ($source.Count -gt 0) {
            Sync-FolderMirror -Source $DeployDir -Destination $path -Keep @($script:AppOfflineName) -Confirm:$false
        }
        $copy = Get-FolderInventory -Path $path -WithHash
        $differences = Compare-FolderInventory -Reference $source -Difference $copy
        if ($differences.Count -gt 0 -or $copy.Count -ne $source.Count -or $copy.Bytes -ne $source.Bytes) {
            throw ("backup verification failed: {0} difference(s), e.g. {1}" -f $differences.Count, (($differences | Select-Object -First 3) -join '; '))
        }
        Write-JsonFile -Path ($path + '.manifest.json') -InputObject ([ordered]@{
                backup_id = $id; backup_path = $path; deploy_dir = $DeployDir; verified = $true
                files = $copy.Count; bytes = $copy.Bytes; created_at = (Get-IsoTimestamp)
                previous_artifact_sha256 = $previousSha; artifact_sha256 = $null; migrations_ran = $false; deployed = $false
            })
    }
    catch {
        $reason = $_.Exception.Message
        Remove-Item -LiteralPath $path -Recurse -Force -Confirm:$false -ErrorAction SilentlyContinue
        Remove-Item -LiteralPath ($path + '.manifest.json') -Force -Confirm:$false -ErrorAction SilentlyContinue
        throw $reason
    }
    Write-StageLog -Message ("backup {0} verified: {1} files, {2} bytes in '{3}'" -f $id, $copy.Count, $copy.Bytes, $path)
    New-StageResult -Property @{ Id = $id; Path = $path; Count = $copy.Count; Bytes = $copy.Bytes }
}

function Remove-OldDeployBackups {
    <# Keeps the newest Keep backups (by name = time), deletes older folders and their manifests. #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    param([Parameter(Mandatory = $true)][string]$BackupRoot, [Parameter(Mandatory = $true)][int]$Keep)
    if (-not (Test-Path -LiteralPath $BackupRoot -PathType Container)) { return }
    $folders = @(Get-ChildItem -LiteralPath $BackupRoot -Directory -ErrorAction Stop | Where-Object { $_.Name -match $script:BackupIdPattern } | Sort-Object -Property Name -Descending)
    for ($i = $Keep; $i -lt $folders.Count; $i++) {
        $old = $folders[$i]
        if ($PSCmdlet.ShouldProcess($old.FullName, 'remove old backup')) {
            Remove-Item -LiteralPath $old.FullName -Recurse -Force -Confirm:$false -ErrorAction Stop
            $manifest = $old.FullName + '.manifest.json'
            if (Test-Path -LiteralPath $manifest) { Remove-Item -LiteralPath $manifest -Force -Confirm:$false -ErrorAction Stop }
            Write-StageLog -Message ("removed old backup {0} (keeping the newest {1})" -f $old.Name, $Keep)
        }
    }
}

function Set-AppOffline {
    <# Puts app_offline.htm into DEPLOY_DIR: ASP.NET Core shuts the app down and IIS serves this page. #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    param([Parameter(Mandatory = $true)][string]$DeployDir)
    if (-not (Test-Path -LiteralPath $DeployDir -PathType Container)) { $null = New-Item -ItemType Directory -Path $DeployDir -Force -ErrorAction Stop }
    $path = Join-Path -Path $DeployDir -ChildPath $script:AppOfflineName
    if ($PSCmdlet.ShouldProcess($path, 'write app_offline.htm')) {
        Set-Content -LiteralPath $path -Value '<!doctype html><html><head><title>Deploying</title></head><body><h1>WeSign is being updated</h1><p>Please try again in a minute.</p></body></html>' -Encoding UTF8 -ErrorAction Stop
    }
}

function Clear-AppOffline {
    [CmdletBinding(SupportsShouldProcess = $true)]
    param([Parameter(Mandatory = $true)][string]$DeployDir, [int]$RetryAttempts = 5, [int]$RetryDelayMilliseconds = 500)
    $path = Join-Path -Path $DeployDir -ChildPath $script:AppOfflineName
    if ((Test-Path -LiteralPath $path) -and $PSCmdlet.ShouldProcess($path, 'remove app_offline.htm')) {
        Invoke-WithRetry -Description 'remove app_offline.htm' -Attempts $RetryAttempts -DelayMilliseconds $RetryDelayMilliseconds -Action {
            Remove-Item -LiteralPath $path -Force -Confirm:$false -ErrorAction Stop
        }
    }
}

function Restore-DeployFromBackup {
    <# Makes DEPLOY_DIR equal to the backup folder again and verifies it. app_offline.htm is up meanwhile. #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)][string]$BackupPath,
        [Parameter(Mandatory = $true)][string]$DeployDir,
        [string[]]$PreservePaths = @(),
        [int]$RetryAttempts = 5,
        [int]$RetryDelayMilliseconds = 500
    )
    $keep = @($script:AppOfflineName) + @($PreservePaths)
    Set-AppOffline -DeployDir $DeployDir -Confirm:$false
    Sync-FolderMirror -Source $BackupPath -Destination $DeployDir -Keep $keep -RetryAttempts $RetryAttempts -RetryDelayMilliseconds $RetryDelayMilliseconds -Confirm:$false
    $expected = Get-FolderInventory -Path $BackupPath -WithHash -ExcludeRelativePath $keep
    $actual = Get-FolderInventory -Path $DeployDir -WithHash -ExcludeRelativePath $keep
    $differences = Compare-FolderInventory -Reference $expected -Difference $actual
    if ($differences.Count -gt 0) {
        throw ("DEPLOY_DIR does not match backup '{0}' after the restore: {1}" -f $BackupPath, (($differences | Select-Object -First 5) -join '; '))
    }
    Clear-AppOffline -DeployDir $DeployDir -RetryAttempts $RetryAttempts -RetryDelayMilliseconds $RetryDelayMilliseconds -Confirm:$false
    Write-StageLog -Message ("DEPLOY_DIR '{0}' restored from '{1}' ({2} files) and verified" -f $DeployDir, $BackupPath, $expected.Count)
}

# ---------------------------------------------------------------------------------------------
# EF Core migrations
# ---------------------------------------------------------------------------------------------

function Invoke-MigrationCommand {
    <#
      Runs the migration command line in DEPLOY_DIR with the DB service account in the environment
      variables DB_MIGRATION_USER / DB_MIGRATION_PASSWORD of that process only (never on a command line
      we print). Output is masked. Throws on a non-zero exit code.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)][string]$Command,
        [Parameter(Mandatory = $true)][string]$WorkingDirectory,
        [Parameter(Mandatory = $true)][pscredential]$Credential
    )
    $password = $Credential.GetNetworkCredential().Password
    Register-StageSecret -Value $password
    $onWindows = [System.Environment]::OSVersion.Platform -eq [System.PlatformID]::Win32NT
    $previousUser = $env:DB_MIGRATION_USER
    $previousPassword = $env:DB_MIGRATION_PASSWORD
    Push-Location -LiteralPath $WorkingDirectory
    try {
        $env:DB_MIGRATION_USER = $Credential.UserName
        $env:DB_MIGRATION_PASSWORD = $password
        Write-StageLog -Message ("running migrations: {0}" -f $Command)
        # EAP Continue inside the blocks: on 5.1 a stderr line (an EF warning) redirected with 2>&1 would
        # otherwise be a terminating error; the exit code decides.
        if ($onWindows) { $output = & { $ErrorActionPreference = 'Continue'; & cmd.exe /d /s /c $Command 2>&1 } }
        else { $output = & { $ErrorActionPreference = 'Continue'; & /bin/sh -c $Command 2>&1 } }
        $exitCode = $LASTEXITCODE
        foreach ($line in @($output)) {
            $text = ([string]$line).TrimEnd()
            if ($text.Length -gt 0) { Write-StageLog -Message ('  migrations: ' + $text) }
        }
        if ($exitCode -ne 0) { throw ("migration command failed with exit code {0}" -f $exitCode) }
        Write-StageLog -Message 'migrations finished'
    }
    finally {
        $env:DB_MIGRATION_USER = $previousUser
        $env:DB_MIGRATION_PASSWORD = $previousPassword
        Pop-Location
    }
}

# ---------------------------------------------------------------------------------------------
# Deploy and rollback entry points
# ---------------------------------------------------------------------------------------------

function Invoke-DeployOnTarget {
    <#
      Backup (verified) -> app_offline.htm -> mirror the side folder into DEPLOY_DIR -> verify ->
      (optional) migrations -> remove app_offline.htm. Any failure after the backup restores it.
      No backup, no deploy: a failed backup throws before DEPLOY_DIR is touched.
      Deploying the artifact DEPLOY_DIR already holds changes nothing.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)][string]$DeployDir,
        [Parameter(Mandatory = $true)][string]$BackupRoot,
        [Parameter(Mandatory = $true)][string]$StagingDir,
        [Parameter(Mandatory = $true)][string]$ArtifactName,
        [Parameter(Mandatory = $true)][string]$ArtifactSha256,
        [int]$KeepBackups = 10,
        [string[]]$PreservePaths = @(),
        [bool]$RunMigrations = $false,
        [string]$MigrationCommand,
        [AllowNull()][pscredential]$MigrationCredential,
        [int]$RetryAttempts = 5,
        [int]$RetryDelayMilliseconds = 500,
        [string]$Stage = 'deploy'
    )
    $StageLogId = $Stage
    $keep = @($script:AppOfflineName) + @($PreservePaths)

    $expand = $null
    Expand-ArtifactOnTarget -StagingDir $StagingDir -ArtifactName $ArtifactName -Sha256 $ArtifactSha256 -Stage $Stage | Receive-StageOutput -Result ([ref]$expand)
    $side = $expand.SidePath
    $wanted = Get-FolderInventory -Path $side -WithHash -ExcludeRelativePath $keep

    # Idempotency: same artifact recorded as current and DEPLOY_DIR still holds exactly it.
    $currentPath = Join-Path -Path $BackupRoot -ChildPath 'current.json'
    $current = Read-JsonFile -Path $currentPath
    if ($null -ne $current -and $current.artifact_sha256 -eq $ArtifactSha256 -and $current.deploy_dir -eq $DeployDir) {
        $present = Get-FolderInventory -Path $DeployDir -WithHash -ExcludeRelativePath $keep
        $offlineLeft = Test-Path -LiteralPath (Join-Path -Path $DeployDir -ChildPath $script:AppOfflineName)
        if ((Compare-FolderInventory -Reference $wanted -Difference $present).Count -eq 0 -and -not $offlineLeft) {
            Write-StageLog -Message ("DEPLOY_DIR already holds artifact {0}: nothing to do (no backup, no file changed)" -f $ArtifactSha256.Substring(0, 12))
            return (New-StageResult -Property @{
                    Changed = $false; BackupId = $current.backup_id; BackupPath = $current.backup_path
                    MigrationsRan = $false; Files = $present.Count
                })
        }
    }

    # 1. Backup, verified. Nothing in DEPLOY_DIR has changed before this succeeds.
    $backup = $null
    try { New-DeployBackup -DeployDir $DeployDir -BackupRoot $BackupRoot | Receive-StageOutput -Result ([ref]$backup) }
    catch { throw ("no backup, no deploy: the backup of '{0}' into '{1}' failed: {2}. DEPLOY_DIR was not changed. Fix: check free space and permissions on the backup root." -f $DeployDir, $BackupRoot, $_.Exception.Message) }
    $manifestPath = $backup.Path + '.manifest.json'

    # 2. Swap, 3. migrations; any failure restores the backup.
    $migrationsRan = $false
    try {
        Set-AppOffline -DeployDir $DeployDir -Confirm:$false
        Write-StageLog -Message ("app_offline.htm is up; copying '{0}' into '{1}'" -f $side, $DeployDir)
        Sync-FolderMirror -Source $side -Destination $DeployDir -Keep $keep -RetryAttempts $RetryAttempts -RetryDelayMilliseconds $RetryDelayMilliseconds -Confirm:$false
        $present = Get-FolderInventory -Path $DeployDir -WithHash -ExcludeRelativePath $keep
        $differences = Compare-FolderInventory -Reference $wanted -Difference $present
        if ($differences.Count -gt 0) { throw ("DEPLOY_DIR does not match the artifact after the copy: {0}" -f (($differences | Select-Object -First 5) -join '; ')) }
        if ($RunMigrations) {
            if ($null -eq $MigrationCredential) { throw 'migrations requested but no DB migration credential was passed' }
            $migrationsRan = $true
            Invoke-MigrationCommand -Command $MigrationCommand -WorkingDirectory $DeployDir -Credential $MigrationCredential
        }
        Clear-AppOffline -DeployDir $DeployDir -RetryAttempts $RetryAttempts -RetryDelayMilliseconds $RetryDelayMilliseconds -Confirm:$false
    }
    catch {
        $reason = $_.Exception.Message
        Write-StageLog -Message ("deploy failed: {0}; restoring backup {1}" -f $reason, $backup.Id)
        $manifest = Read-JsonFile -Path $manifestPath
        $update = [ordered]@{}
        foreach ($p in $manifest.PSObject.Properties) { $update[$p.Name] = $p.Value }
        $update['artifact_sha256'] = $ArtifactSha256
        $update['migrations_ran'] = $migrationsRan
        $update['failed'] = $reason
        Write-JsonFile -Path $manifestPath -InputObject $update
        try { Restore-DeployFromBackup -BackupPath $backup.Path -DeployDir $DeployDir -PreservePaths $PreservePaths -RetryAttempts $RetryAttempts -RetryDelayMilliseconds $RetryDelayMilliseconds }
        catch {
            throw ("deploy failed ({0}) AND restoring backup {1} failed ({2}). DEPLOY_DIR is in an unknown state and app_offline.htm is still up. Restore by hand from '{3}' or run rollback.ps1." -f $reason, $backup.Id, $_.Exception.Message, $backup.Path)
        }
        $warning = ''
        if ($migrationsRan) { $warning = ' WARNING: the migration command ran; restoring the code does not undo database changes.' }
        throw ("deploy failed: {0}. DEPLOY_DIR was restored from backup {1}.{2}" -f $reason, $backup.Id, $warning)
    }

    # Record what DEPLOY_DIR holds and what this deploy did, then prune old backups.
    $manifest = Read-JsonFile -Path $manifestPath
    $update = [ordered]@{}
    foreach ($p in $manifest.PSObject.Properties) { $update[$p.Name] = $p.Value }
    $update['artifact_sha256'] = $ArtifactSha256
    $update['migrations_ran'] = $migrationsRan
    $update['deployed'] = $true
    $update['deployed_at'] = Get-IsoTimestamp
    Write-JsonFile -Path $manifestPath -InputObject $update
    Write-JsonFile -Path $currentPath -InputObject ([ordered]@{
            artifact_sha256 = $ArtifactSha256; deploy_dir = $DeployDir; backup_id = $backup.Id
            backup_path = $backup.Path; deployed_at = (Get-IsoTimestamp); migrations_ran = $migrationsRan
        })
    Remove-OldDeployBackups -BackupRoot $BackupRoot -Keep $KeepBackups -Confirm:$false
    Write-StageLog -Message ("deployed artifact {0} into '{1}' ({2} files); backup {3}" -f $ArtifactSha256.Substring(0, 12), $DeployDir, $present.Count, $backup.Id)
    New-StageResult -Property @{
        Changed = $true; BackupId = $backup.Id; BackupPath = $backup.Path
        MigrationsRan = $migrationsRan; Files = $present.Count
    }
}

function Invoke-RollbackOnTarget {
    <#
      Stops the pools, restores the named (or newest verified) backup into DEPLOY_DIR, starts the pools.
      Reports whether any deploy being undone ran migrations (the database is not rolled back).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)][string]$DeployDir,
        [Parameter(Mandatory = $true)][string]$BackupRoot,
        [AllowEmptyString()][string]$BackupId,
        [Parameter(Mandatory = $true)][string[]]$Pools,
        [int]$TimeoutSeconds = 60,
        [int]$PollMilliseconds = 500,
        [string[]]$PreservePaths = @(),
        [int]$RetryAttempts = 5,
        [int]$RetryDelayMilliseconds = 500,
        [string]$Stage = 'rollback'
    )
    $StageLogId = $Stage
    $backups = Get-DeployBackupList -BackupRoot $BackupRoot
    if ($backups.Count -eq 0) { throw ("no verified backup under '{0}': nothing to roll back to" -f $BackupRoot) }
    $chosen = $null
    if ($BackupId) {
        foreach ($b in $backups) { if ($b.Id -eq $BackupId) { $chosen = $b } }
        if ($null -eq $chosen) {
            throw ("backup '{0}' not found (or not verified) under '{1}'. Available: {2}" -f $BackupId, $BackupRoot, ((@($backups | Select-Object -First 10 | ForEach-Object { $_.Id })) -join ', '))
        }
    }
    else { $chosen = $backups[0] }
    if ([int]$chosen.Manifest.files -eq 0) {
        throw ("backup {0} is empty (it was taken before the first deployment); restoring it would leave no site. Pick another with -BackupId." -f $chosen.Id)
    }
    Write-StageLog -Message ("rolling back '{0}' to backup {1} ({2} files)" -f $DeployDir, $chosen.Id, $chosen.Manifest.files)

    # Deploys at or after the chosen backup are the ones being undone; did any of them migrate the DB?
    $migrated = @($backups | Where-Object { $_.Id -ge $chosen.Id -and $_.Manifest.migrations_ran } | ForEach-Object { $_.Id })
    $migrationsWarning = $null
    if ($migrated.Count -gt 0) {
        $migrationsWarning = "the deployment(s) taken at backup(s) {0} ran EF database migrations: restoring the code does NOT undo the database. Check schema compatibility with the restored version; restore the database or apply a down-migration if it is not compatible." -f ($migrated -join ', ')
        Write-StageLog -Message ('WARNING: ' + $migrationsWarning)
    }

    $ignored = $null
    Stop-AppPoolsOnTarget -Pools $Pools -TimeoutSeconds $TimeoutSeconds -PollMilliseconds $PollMilliseconds -Stage $Stage | Receive-StageOutput -Result ([ref]$ignored)
    Restore-DeployFromBackup -BackupPath $chosen.Path -DeployDir $DeployDir -PreservePaths $PreservePaths -RetryAttempts $RetryAttempts -RetryDelayMilliseconds $RetryDelayMilliseconds
    # DEPLOY_DIR no longer holds the artifact recorded as current: a later deploy of it must not be skipped.
    Write-JsonFile -Path (Join-Path -Path $BackupRoot -ChildPath 'current.json') -InputObject ([ordered]@{
            artifact_sha256 = $chosen.Manifest.previous_artifact_sha256; deploy_dir = $DeployDir; backup_id = $chosen.Id
            backup_path = $chosen.Path; deployed_at = (Get-IsoTimestamp); restored_from_backup = $chosen.Id; migrations_ran = $false
        })
    $started = $null
    Start-AppPoolsOnTarget -Pools $Pools -TimeoutSeconds $TimeoutSeconds -PollMilliseconds $PollMilliseconds -Stage $Stage | Receive-StageOutput -Result ([ref]$started)
    New-StageResult -Property @{
        BackupId = $chosen.Id; BackupPath = $chosen.Path; RestoredAt = (Get-IsoTimestamp)
        Pools = $started.Pools; MigrationsWarning = $migrationsWarning
    }
}
