# common.ps1 - shared helpers for the WeSign deploy scripts (dot-source it: . "$PSScriptRoot\common.ps1").
#
# Runs on Windows PowerShell 5.1 and PowerShell 7: no ??, ?., ternaries, && / || chains,
# ForEach-Object -Parallel, ConvertFrom-Json -AsHashtable or other 7-only parameters.
#
# This file is also shipped verbatim to the DevTest server by Invoke-OnTarget (together with
# target_ops.ps1), so everything here must work without $PSScriptRoot and without other files.
#
# Output convention (it matters for remoting):
#   * log lines are [string]s written to the output stream, each starting with "[<stage id>] ";
#   * a function that has a result emits one object with the property StageResult = $true;
#   * Receive-StageOutput on the Jenkins side forwards the strings and keeps the result.

Add-Type -AssemblyName System.IO.Compression
Add-Type -AssemblyName System.IO.Compression.FileSystem

# The secrets registered here are masked in every line printed through Write-StageLog /
# Receive-StageOutput, as a second line of defence: the scripts never print them on purpose.
if (-not (Get-Variable -Name StageContext -Scope Script -ErrorAction SilentlyContinue)) {
    $script:StageContext = @{
        Secrets = New-Object -TypeName System.Collections.Generic.List[string]
        LogFile = $null
    }
}

# ---------------------------------------------------------------------------------------------
# Logging
# ---------------------------------------------------------------------------------------------

function Register-StageSecret {
    <# Remembers a secret value so that it is masked in everything printed afterwards. #>
    [CmdletBinding()]
    param([AllowEmptyString()][AllowNull()][string]$Value)
    if ([string]::IsNullOrEmpty($Value)) { return }
    if (-not $script:StageContext.Secrets.Contains($Value)) { $script:StageContext.Secrets.Add($Value) }
}

function Protect-StageText {
    <# Replaces every registered secret value in Text by ***. #>
    [CmdletBinding()]
    param([AllowEmptyString()][AllowNull()][string]$Text)
    if ($null -eq $Text) { return '' }
    $masked = $Text
    if ($script:StageContext) {
        foreach ($secret in $script:StageContext.Secrets) {
            if ($secret.Length -gt 0) { $masked = $masked.Replace($secret, '***') }
        }
    }
    return $masked
}

function Set-StageLogFile {
    <# Every line printed from now on is also appended to Path (e.g. reports\deploy.log). #>
    [CmdletBinding()]
    param([AllowNull()][string]$Path)
    if ([string]::IsNullOrEmpty($Path)) { $script:StageContext.LogFile = $null; return }
    $parent = Split-Path -Path $Path -Parent
    # -WhatIf:$false: a local log is written even when the caller only asks what would change.
    if ($parent -and -not (Test-Path -LiteralPath $parent)) { $null = New-Item -ItemType Directory -Path $parent -Force -WhatIf:$false -Confirm:$false -ErrorAction Stop }
    $script:StageContext.LogFile = Resolve-LocalPath $Path
}

function Write-StageLine {
    <# Writes one already-marked line: masks secrets, appends to the log file if one is set, outputs it. #>
    [CmdletBinding()]
    param([AllowEmptyString()][string]$Line)
    $safe = Protect-StageText -Text $Line
    # On the target (or when target code runs in-process) the Jenkins side does the file logging.
    if ($script:StageContext -and $script:StageContext.LogFile -and -not $StageIsTarget) {
        [System.IO.File]::AppendAllText($script:StageContext.LogFile, $safe + [Environment]::NewLine, (New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false))
    }
    Write-Output $safe
}

function Write-StageLog {
    <#
      Prints Message with the stage marker, one "[<stage>] " per line.
      Without -Stage it uses $StageLogId, a variable the calling script or entry function sets
      (PowerShell's dynamic scoping makes the caller's variable visible here).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Position = 0)][AllowEmptyString()][string]$Message,
        [string]$Stage
    )
    if (-not $Stage) { $Stage = $StageLogId }
    if (-not $Stage) { $Stage = 'ps' }
    foreach ($line in ($Message -split "\r?\n")) {
        $text = '[{0}] {1}' -f $Stage, $line
        # On the target ($StageIsTarget, set by Invoke-OnTarget) lines only travel back; the
        # Jenkins side logs them to the file when Receive-StageOutput forwards them.
        if ($StageIsTarget) { Write-Output (Protect-StageText -Text $text) } else { Write-StageLine -Line $text }
    }
}

function New-StageResult {
    <# Builds the one result object a function emits (see the output convention above). #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)][System.Collections.IDictionary]$Property)
    $ordered = [ordered]@{ StageResult = $true }
    foreach ($key in $Property.Keys) { $ordered[$key] = $Property[$key] }
    return [pscustomobject]$ordered
}

function Receive-StageOutput {
    <#
      Forwards log lines (strings) to the output stream, keeps the result object in $Result.Value.
      Usage: $r = $null; Invoke-OnTarget ... | Receive-StageOutput -Result ([ref]$r)
    #>
    [CmdletBinding()]
    param(
        [Parameter(ValueFromPipeline = $true)][AllowNull()][object]$InputObject,
        [Parameter(Mandatory = $true)][ref]$Result
    )
    process {
        if ($null -eq $InputObject) { return }
        if ($InputObject -is [string]) { Write-StageLine -Line $InputObject; return }
        if ($InputObject.PSObject.Properties['StageResult'] -and $InputObject.StageResult) { $Result.Value = $InputObject; return }
        # Anything else is a stray object (a cmdlet's output someone forgot to discard): show it, do not lose it.
        Write-StageLog -Message ('(output) ' + ($InputObject | Out-String).Trim())
    }
}

function Resolve-LocalPath {
    <#
      Full path of Path relative to the current PowerShell location (.NET methods resolve relative
      paths against the process directory, which can differ from it).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true, Position = 0)][string]$Path)
    return $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($Path)
}

function Get-IsoTimestamp {
    <# UTC time as ISO 8601 text (ConvertTo-Json on 5.1 would write DateTime as \/Date(...)\/). #>
    [CmdletBinding()]
    param([datetime]$Time = (Get-Date))
    return $Time.ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ss.fffZ', [System.Globalization.CultureInfo]::InvariantCulture)
}

# ---------------------------------------------------------------------------------------------
# Input normalisation
# ---------------------------------------------------------------------------------------------

function ConvertTo-NameList {
    <#
      Accepts an array, one comma-separated string ("UserApi,SignerApi") or a mix (Jenkins may pass
      either) and returns the trimmed, de-duplicated names. Throws on an empty list or a bad name.
    #>
    [CmdletBinding()]
    param(
        [AllowNull()][AllowEmptyCollection()][string[]]$Value,
        [string]$What = 'name',
        [string]$Pattern = '^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$'
    )
    $names = New-Object -TypeName System.Collections.Generic.List[string]
    foreach ($item in @($Value)) {
        if ($null -eq $item) { continue }
        foreach ($part in ($item -split ',')) {
            $name = $part.Trim()
            if ($name.Length -eq 0) { continue }
            if ($name -notmatch $Pattern) {
                throw ("invalid {0} '{1}': use letters, digits, space, dot, dash or underscore (for example 'UserApi'), separated by commas" -f $What, $name)
            }
            $known = $false
            foreach ($existing in $names) { if ($existing -ieq $name) { $known = $true } }
            if (-not $known) { $names.Add($name) }
        }
    }
    if ($names.Count -eq 0) { throw ("no {0} given: pass one or more, as an array or as one comma-separated string" -f $What) }
    return , $names.ToArray()
}

function ConvertTo-UrlList {
    <# Like ConvertTo-NameList for http(s) URLs. #>
    [CmdletBinding()]
    param([AllowNull()][AllowEmptyCollection()][string[]]$Value)
    $urls = New-Object -TypeName System.Collections.Generic.List[string]
    foreach ($item in @($Value)) {
        if ($null -eq $item) { continue }
        foreach ($part in ($item -split ',')) {
            $url = $part.Trim()
            if ($url.Length -eq 0) { continue }
            $parsed = $null
            if (-not [System.Uri]::TryCreate($url, [System.UriKind]::Absolute, [ref]$parsed) -or ($parsed.Scheme -ne 'http' -and $parsed.Scheme -ne 'https')) {
                throw ("invalid URL '{0}': pass absolute http:// or https:// URLs, e.g. http://DevTest/health" -f $url)
            }
            $urls.Add($url)
        }
    }
    if ($urls.Count -eq 0) { throw 'no URL given: pass one or more URLs, as an array or as one comma-separated string' }
    return , $urls.ToArray()
}

function ConvertTo-ComparablePath {
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)][string]$Path)
    return $Path.Replace('/', '\').TrimEnd('\').ToLowerInvariant()
}

function Assert-DeployPaths {
    <#
      Refuses target folders that would make the mirror copy dangerous: relative paths, '..', a drive
      or share root, and BACKUP_ROOT or STAGING inside DEPLOY_DIR (or the other way round).
      The folders are on the server, so this checks the text only (Windows or, for tests, POSIX paths).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)][System.Collections.IDictionary]$Paths, [string]$DeployKey = 'DeployDir')
    foreach ($name in $Paths.Keys) {
        $value = [string]$Paths[$name]
        if ([string]::IsNullOrWhiteSpace($value)) { throw ("-{0} is required: pass a full path on the server, e.g. C:\inetpub\WeSign" -f $name) }
        if ($value -notmatch '^([A-Za-z]:[\\/]|/|\\\\)') { throw ("-{0} '{1}' is not a full path: pass e.g. C:\inetpub\WeSign" -f $name, $value) }
        if ($value -match '(^|[\\/])\.\.([\\/]|$)') { throw ("-{0} '{1}' contains '..': pass a plain full path" -f $name, $value) }
        if ($value -match '^([A-Za-z]:[\\/]?|[\\/]+|\\\\[^\\]+\\[^\\]+[\\]?)$') { throw ("-{0} '{1}' is a drive or share root: pass a folder below it" -f $name, $value) }
    }
    if (-not $Paths.Contains($DeployKey)) { return }
    $deploy = ConvertTo-ComparablePath -Path $Paths[$DeployKey]
    foreach ($name in $Paths.Keys) {
        if ($name -eq $DeployKey) { continue }
        $other = ConvertTo-ComparablePath -Path $Paths[$name]
        if ($other -eq $deploy -or $other.StartsWith($deploy + '\') -or $deploy.StartsWith($other + '\')) {
            throw ("-{0} '{1}' and -{2} '{3}' overlap: keep the backup and staging folders outside the site folder" -f $name, $Paths[$name], $DeployKey, $Paths[$DeployKey])
        }
    }
}

# ---------------------------------------------------------------------------------------------
# Retry, JSON, files
# ---------------------------------------------------------------------------------------------

function Invoke-WithRetry {
    <#
      Runs Action up to Attempts times, waiting DelayMilliseconds * 2^(n-1) between tries
      (locked files, a pool still releasing handles). Rethrows the last error.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)][scriptblock]$Action,
        [string]$Description = 'operation',
        [ValidateRange(1, 100)][int]$Attempts = 5,
        [ValidateRange(0, 600000)][int]$DelayMilliseconds = 500
    )
    for ($attempt = 1; $attempt -le $Attempts; $attempt++) {
        try {
            return (& $Action)
        }
        catch {
            if ($attempt -ge $Attempts) {
                throw ("{0} failed after {1} attempt(s): {2}" -f $Description, $attempt, $_.Exception.Message)
            }
            $wait = [int]($DelayMilliseconds * [math]::Pow(2, $attempt - 1))
            Write-StageLog -Message ("{0} failed (attempt {1}/{2}): {3}; retrying in {4} ms" -f $Description, $attempt, $Attempts, $_.Exception.Message, $wait)
            Start-Sleep -Milliseconds $wait
        }
    }
}

function Write-JsonFile {
    <#
      Writes InputObject as JSON (UTF-8 without BOM), creating the folder. -Depth is explicit because
      ConvertTo-Json's default depth (2) silently truncates nested objects on 5.1 and 7.
      -InputObject rather than the pipeline keeps one-element arrays as arrays on 5.1.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)][string]$Path,
        [Parameter(Mandatory = $true)][AllowNull()][object]$InputObject,
        [ValidateRange(1, 100)][int]$Depth = 20
    )
    $parent = Split-Path -Path $Path -Parent
    if ($parent -and -not (Test-Path -LiteralPath $parent)) { $null = New-Item -ItemType Directory -Path $parent -Force -WhatIf:$false -Confirm:$false -ErrorAction Stop }
    $json = ConvertTo-Json -InputObject $InputObject -Depth $Depth
    $full = (Resolve-LocalPath $Path)
    [System.IO.File]::WriteAllText($full, (Protect-StageText -Text $json) + "`n", (New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false))
}

function Read-JsonFile {
    <# Reads a JSON file (5.1 and 7: a PSCustomObject, no -AsHashtable). Returns $null if it does not exist. #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)][string]$Path)
    if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) { return $null }
    $text = [System.IO.File]::ReadAllText((Resolve-LocalPath $Path))
    if ($text.Trim().Length -eq 0) { return $null }
    return (ConvertFrom-Json -InputObject $text)
}

function Get-FileSha256 {
    <# Lower-case hex SHA-256 of a file. #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)][string]$Path)
    return (Get-FileHash -LiteralPath $Path -Algorithm SHA256 -ErrorAction Stop).Hash.ToLowerInvariant()
}

function Get-RelativeChildPath {
    <# Path of Child below Root with '/' separators ([IO.Path]::GetRelativePath is 7-only). #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)][string]$Root, [Parameter(Mandatory = $true)][string]$Child)
    $rootFull = (Resolve-LocalPath $Root).TrimEnd('\', '/')
    $childFull = (Resolve-LocalPath $Child)
    if (-not $childFull.StartsWith($rootFull, [System.StringComparison]::OrdinalIgnoreCase)) {
        throw ("'{0}' is not below '{1}'" -f $childFull, $rootFull)
    }
    return $childFull.Substring($rootFull.Length).TrimStart('\', '/').Replace('\', '/')
}

function Get-FolderInventory {
    <#
      What a folder holds: file count, total bytes and per relative path (case-insensitive, '/'
      separators) the length, plus the SHA-256 with -WithHash. Missing folder = empty inventory.
      ExcludeName drops files with that leaf name at the top level (app_offline.htm).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)][string]$Path,
        [switch]$WithHash,
        [string[]]$ExcludeRelativePath = @()
    )
    $files = @{}
    $count = 0
    [long]$bytes = 0
    if (Test-Path -LiteralPath $Path -PathType Container) {
        foreach ($file in (Get-ChildItem -LiteralPath $Path -Recurse -Force -File -ErrorAction Stop)) {
            $relative = Get-RelativeChildPath -Root $Path -Child $file.FullName
            $skip = $false
            foreach ($excluded in $ExcludeRelativePath) {
                if ($relative -ieq $excluded -or $relative.StartsWith($excluded.TrimEnd('/') + '/', [System.StringComparison]::OrdinalIgnoreCase)) { $skip = $true }
            }
            if ($skip) { continue }
            $entry = [string]$file.Length
            if ($WithHash) { $entry = $entry + ':' + (Get-FileSha256 -Path $file.FullName) }
            $files[$relative] = $entry
            $count++
            $bytes += $file.Length
        }
    }
    return [pscustomobject]@{ Path = $Path; Count = $count; Bytes = $bytes; Files = $files }
}

function Compare-FolderInventory {
    <# Differences between two inventories as readable strings (empty array = same content). #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)][object]$Reference, [Parameter(Mandatory = $true)][object]$Difference)
    $problems = New-Object -TypeName System.Collections.Generic.List[string]
    foreach ($key in $Reference.Files.Keys) {
        if (-not $Difference.Files.ContainsKey($key)) { $problems.Add("missing: $key") }
        elseif ($Difference.Files[$key] -ne $Reference.Files[$key]) { $problems.Add("differs: $key") }
    }
    foreach ($key in $Difference.Files.Keys) {
        if (-not $Reference.Files.ContainsKey($key)) { $problems.Add("extra: $key") }
    }
    return , $problems.ToArray()
}

# ---------------------------------------------------------------------------------------------
# Zip handling (zip-slip safe)
# ---------------------------------------------------------------------------------------------

function Get-UnsafeZipEntry {
    <# Names of entries that would escape the destination: '..' segments, rooted or drive paths. #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)][string]$ZipPath)
    $unsafe = New-Object -TypeName System.Collections.Generic.List[string]
    $zip = [System.IO.Compression.ZipFile]::OpenRead((Resolve-LocalPath $ZipPath))
    try {
        foreach ($entry in $zip.Entries) {
            $name = $entry.FullName
            $segments = $name -split '[\\/]'
            $bad = $name.StartsWith('/') -or $name.StartsWith('\') -or $name.Contains(':') -or ($segments -contains '..')
            if ($bad) { $unsafe.Add($name) }
        }
    }
    finally { $zip.Dispose() }
    return , $unsafe.ToArray()
}

function Assert-ZipIsSafe {
    <# Throws, before anything is written, if the zip has an entry that could land outside the destination. #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)][string]$ZipPath)
    if (-not (Test-Path -LiteralPath $ZipPath -PathType Leaf)) { throw ("artifact not found: '{0}'" -f $ZipPath) }
    try { $unsafe = Get-UnsafeZipEntry -ZipPath $ZipPath }
    catch { throw ("'{0}' is not a readable zip file: {1}" -f $ZipPath, $_.Exception.Message) }
    if ($unsafe.Count -gt 0) {
        throw ("refusing '{0}': {1} entr(y/ies) with '..' or an absolute path (zip slip): {2}. Rebuild the package with paths relative to the site root." -f $ZipPath, $unsafe.Count, (($unsafe | Select-Object -First 5) -join ', '))
    }
}

function Expand-ZipSafely {
    <#
      Extracts ZipPath into Destination (created; must not exist or be empty). Checks every entry
      first (Assert-ZipIsSafe) and again per entry against the resolved destination.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)][string]$ZipPath, [Parameter(Mandatory = $true)][string]$Destination)
    Assert-ZipIsSafe -ZipPath $ZipPath
    $destinationFull = (Resolve-LocalPath $Destination).TrimEnd('\', '/')
    $null = New-Item -ItemType Directory -Path $destinationFull -Force -ErrorAction Stop
    $separator = [System.IO.Path]::DirectorySeparatorChar
    $zip = [System.IO.Compression.ZipFile]::OpenRead((Resolve-LocalPath $ZipPath))
    try {
        foreach ($entry in $zip.Entries) {
            $relative = $entry.FullName.Replace('\', '/').Replace('/', [string]$separator)
            $target = [System.IO.Path]::GetFullPath([System.IO.Path]::Combine($destinationFull, $relative))
            if (-not $target.StartsWith($destinationFull + $separator, [System.StringComparison]::OrdinalIgnoreCase)) {
                throw ("zip entry '{0}' resolves outside '{1}'" -f $entry.FullName, $destinationFull)
            }
            if ($entry.FullName.EndsWith('/') -or $entry.FullName.EndsWith('\')) {
                $null = New-Item -ItemType Directory -Path $target -Force -ErrorAction Stop
                continue
            }
            $parent = [System.IO.Path]::GetDirectoryName($target)
            if (-not (Test-Path -LiteralPath $parent)) { $null = New-Item -ItemType Directory -Path $parent -Force -ErrorAction Stop }
            [System.IO.Compression.ZipFileExtensions]::ExtractToFile($entry, $target, $true)
        }
    }
    finally { $zip.Dispose() }
}

# ---------------------------------------------------------------------------------------------
# Folder mirroring (backup, swap, restore)
# ---------------------------------------------------------------------------------------------

function Sync-FolderMirror {
    <#
      Makes Destination hold exactly what Source holds (copy new/changed files, delete extra ones),
      leaving the relative paths in Keep alone. Locked files are retried. Returns nothing but log lines.
      A PowerShell copy rather than robocopy /MIR so that the same code runs in the Pester tests.
    #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    param(
        [Parameter(Mandatory = $true)][string]$Source,
        [Parameter(Mandatory = $true)][string]$Destination,
        [string[]]$Keep = @(),
        [int]$RetryAttempts = 5,
        [int]$RetryDelayMilliseconds = 500
    )
    if (-not (Test-Path -LiteralPath $Source -PathType Container)) { throw ("source folder not found: '{0}'" -f $Source) }
    if (-not (Test-Path -LiteralPath $Destination -PathType Container)) { $null = New-Item -ItemType Directory -Path $Destination -Force -ErrorAction Stop }
    $sourceInventory = Get-FolderInventory -Path $Source -WithHash -ExcludeRelativePath $Keep
    $destinationInventory = Get-FolderInventory -Path $Destination -WithHash -ExcludeRelativePath $Keep
    $copied = 0
    foreach ($relative in ($sourceInventory.Files.Keys | Sort-Object)) {
        if ($destinationInventory.Files.ContainsKey($relative) -and $destinationInventory.Files[$relative] -eq $sourceInventory.Files[$relative]) { continue }
        $from = Join-Path -Path $Source -ChildPath $relative
        $to = Join-Path -Path $Destination -ChildPath $relative
        $toParent = Split-Path -Path $to -Parent
        if ($PSCmdlet.ShouldProcess($to, 'copy')) {
            if (-not (Test-Path -LiteralPath $toParent -PathType Container)) { $null = New-Item -ItemType Directory -Path $toParent -Force -ErrorAction Stop }
            Invoke-WithRetry -Description ("copy {0}" -f $relative) -Attempts $RetryAttempts -DelayMilliseconds $RetryDelayMilliseconds -Action {
                Copy-Item -LiteralPath $from -Destination $to -Force -ErrorAction Stop
            }
            $copied++
        }
    }
    $removed = 0
    foreach ($relative in ($destinationInventory.Files.Keys | Sort-Object)) {
        if ($sourceInventory.Files.ContainsKey($relative)) { continue }
        $extra = Join-Path -Path $Destination -ChildPath $relative
        if ($PSCmdlet.ShouldProcess($extra, 'remove')) {
            Invoke-WithRetry -Description ("remove {0}" -f $relative) -Attempts $RetryAttempts -DelayMilliseconds $RetryDelayMilliseconds -Action {
                Remove-Item -LiteralPath $extra -Force -Confirm:$false -ErrorAction Stop
            }
            $removed++
        }
    }
    # Folders left empty by the removals (deepest first), unless the source has them too.
    $folders = @(Get-ChildItem -LiteralPath $Destination -Recurse -Force -Directory -ErrorAction Stop | Sort-Object -Property { $_.FullName.Length } -Descending)
    foreach ($folder in $folders) {
        $relative = Get-RelativeChildPath -Root $Destination -Child $folder.FullName
        $kept = $false
        foreach ($k in $Keep) { if ($relative -ieq $k -or $relative.StartsWith($k.TrimEnd('/') + '/', [System.StringComparison]::OrdinalIgnoreCase)) { $kept = $true } }
        if ($kept) { continue }
        if (Test-Path -LiteralPath (Join-Path -Path $Source -ChildPath $relative) -PathType Container) { continue }
        if (@(Get-ChildItem -LiteralPath $folder.FullName -Force -ErrorAction Stop).Count -eq 0) {
            if ($PSCmdlet.ShouldProcess($folder.FullName, 'remove empty folder')) { Remove-Item -LiteralPath $folder.FullName -Force -Confirm:$false -ErrorAction Stop }
        }
    }
    Write-StageLog -Message ("mirrored '{0}' -> '{1}': {2} file(s) copied, {3} removed, {4} unchanged" -f $Source, $Destination, $copied, $removed, ($sourceInventory.Count - $copied))
}

# ---------------------------------------------------------------------------------------------
# Network and native commands
# ---------------------------------------------------------------------------------------------

function Test-TcpPort {
    <# $true if a TCP connection to ComputerName:Port opens within TimeoutMilliseconds. Works on 5.1 and 7. #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)][string]$ComputerName,
        [Parameter(Mandatory = $true)][ValidateRange(1, 65535)][int]$Port,
        [ValidateRange(100, 120000)][int]$TimeoutMilliseconds = 3000
    )
    $client = New-Object -TypeName System.Net.Sockets.TcpClient
    try {
        $pending = $client.BeginConnect($ComputerName, $Port, $null, $null)
        if (-not $pending.AsyncWaitHandle.WaitOne($TimeoutMilliseconds)) { return $false }
        $client.EndConnect($pending)
        return $client.Connected
    }
    catch { return $false }
    finally { $client.Close() }
}

function Get-RobocopyExitCodeMeaning {
    <#
      Robocopy's exit code is a bit field: 0-7 success, 8 and above failure.
      Returns @{ Success; Meanings = [string[]] } with the meaning of each bit that is set.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)][int]$ExitCode)
    # Pairs, not a hashtable: an [ordered] dictionary indexed by an int returns the entry at that position.
    $bits = @(
        @(1, 'one or more files were copied'),
        @(2, 'extra files or folders were found in the destination'),
        @(4, 'mismatched files or folders were found'),
        @(8, 'some files or folders could not be copied (copy errors, retries exhausted)'),
        @(16, 'serious error: robocopy did not copy anything (bad arguments, access denied, path not found)')
    )
    $meanings = New-Object -TypeName System.Collections.Generic.List[string]
    if ($ExitCode -eq 0) { $meanings.Add('nothing to copy: source and destination already in sync') }
    foreach ($pair in $bits) {
        if (($ExitCode -band $pair[0]) -ne 0) { $meanings.Add(('{0} ({1})' -f $pair[1], $pair[0])) }
    }
    if ($ExitCode -lt 0 -or $ExitCode -gt 31) { $meanings.Add('unknown exit code') }
    return [pscustomobject]@{ ExitCode = $ExitCode; Success = ($ExitCode -ge 0 -and $ExitCode -lt 8); Meanings = $meanings.ToArray() }
}

function Invoke-Robocopy {
    <#
      Runs robocopy and throws on exit code >= 8, logging the meaning of every bit.
      RobocopyPath exists so tests can point it at a stand-in executable.
    #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    param(
        [Parameter(Mandatory = $true)][string]$Source,
        [Parameter(Mandatory = $true)][string]$Destination,
        [string[]]$File = @(),
        [string[]]$ExtraArgument = @('/R:3', '/W:5', '/NP', '/NDL'),
        [string]$RobocopyPath = 'robocopy.exe'
    )
    $arguments = @($Source, $Destination) + @($File) + @($ExtraArgument)
    if (-not $PSCmdlet.ShouldProcess($Destination, 'robocopy')) { return }
    Write-StageLog -Message ('robocopy {0}' -f ($arguments -join ' '))
    # EAP Continue inside the block: on 5.1 a stderr line redirected with 2>&1 would otherwise become a
    # terminating error under 'Stop'; the exit code decides instead.
    $output = & { $ErrorActionPreference = 'Continue'; & $RobocopyPath @arguments 2>&1 }
    $exitCode = $LASTEXITCODE
    foreach ($line in @($output)) {
        $text = ([string]$line).TrimEnd()
        if ($text.Length -gt 0) { Write-StageLog -Message ('  robocopy: ' + $text) }
    }
    $meaning = Get-RobocopyExitCodeMeaning -ExitCode $exitCode
    foreach ($m in $meaning.Meanings) { Write-StageLog -Message ('robocopy exit code {0}: {1}' -f $exitCode, $m) }
    if (-not $meaning.Success) {
        throw ('robocopy failed with exit code {0}: {1}' -f $exitCode, ($meaning.Meanings -join '; '))
    }
}

function Invoke-NativeCommand {
    <# Runs a native program and throws if its exit code is not one of SuccessExitCode. Output goes through the log. #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)][string]$FilePath,
        [string[]]$ArgumentList = @(),
        [int[]]$SuccessExitCode = @(0),
        [string]$DisplayArguments
    )
    if (-not $DisplayArguments) { $DisplayArguments = $ArgumentList -join ' ' }
    # See Invoke-Robocopy: stderr must not become a terminating error on 5.1; the exit code decides.
    $output = & { $ErrorActionPreference = 'Continue'; & $FilePath @ArgumentList 2>&1 }
    $exitCode = $LASTEXITCODE
    foreach ($line in @($output)) {
        $text = ([string]$line).TrimEnd()
        if ($text.Length -gt 0) { Write-StageLog -Message ('  ' + $text) }
    }
    if ($SuccessExitCode -notcontains $exitCode) {
        throw ("'{0} {1}' failed with exit code {2}" -f $FilePath, $DisplayArguments, $exitCode)
    }
}

# ---------------------------------------------------------------------------------------------
# Running work on the target
# ---------------------------------------------------------------------------------------------

function Get-TargetLibraryText {
    <# The source sent to the target: this file plus target_ops.ps1 (read once on the Jenkins side). #>
    [CmdletBinding()]
    param([string]$ScriptRoot = $script:StageScriptRoot)
    if (-not $ScriptRoot) { throw 'Get-TargetLibraryText: the scripts folder is unknown (dot-source common.ps1 from a script file)' }
    $parts = foreach ($name in @('common.ps1', 'target_ops.ps1')) {
        [System.IO.File]::ReadAllText((Join-Path -Path $ScriptRoot -ChildPath $name))
    }
    return ($parts -join "`n")
}

function Invoke-OnTarget {
    <#
      Runs EntryPoint (a function of target_ops.ps1) with Parameters on the target: inside
      Invoke-Command -Session when Session is given, in this process when it is $null (tests, or a
      script run on the server itself). The library source travels with the call, so the target needs
      no copy of these scripts. Output follows the convention at the top of this file.
    #>
    [CmdletBinding()]
    param(
        [AllowNull()][object]$Session,
        [Parameter(Mandatory = $true)][string]$EntryPoint,
        [hashtable]$Parameters = @{}
    )
    $library = Get-TargetLibraryText
    $body = $library + "`n`$StageIsTarget = `$true`n`$entryParameters = `$args[0]`n$EntryPoint @entryParameters`n"
    $scriptBlock = [scriptblock]::Create($body)
    if ($null -eq $Session) {
        & $scriptBlock $Parameters
    }
    else {
        Invoke-Command -Session $Session -ScriptBlock $scriptBlock -ArgumentList $Parameters -ErrorAction Stop
    }
}

# Where the scripts live, for Get-TargetLibraryText (empty on the target, where it is not needed).
if ($PSScriptRoot) { $script:StageScriptRoot = $PSScriptRoot }
