# Shared helpers for the Pester tests of scripts/ps (dot-source in BeforeAll).
#
# What is real and what is not:
#   * real: the scripts, PowerShell, files and zips on disk under $TestDrive, robocopy's exit-code
#     handling (through a stand-in executable), HTTP over loopback for smoke.ps1;
#   * stand-ins: WinRM (New-PSSession / Invoke-Command / Remove-PSSession / Copy-Item -ToSession are
#     mocked; Invoke-Command runs the shipped script block in this process), and IIS (the module in
#     fakes/WebAdministration keeps app pool state in a JSON file).

$script:RepoRoot = [System.IO.Path]::GetFullPath((Join-Path -Path $PSScriptRoot -ChildPath '../..'))
$script:ScriptsDir = Join-Path -Path $script:RepoRoot -ChildPath 'scripts/ps'
$script:FakeSecret = 'fake-Pa55word-example-7731'
$script:FakeDbSecret = 'fake-db-Secret-example-4409'

function Get-ScriptPath([string]$Name) { return (Join-Path -Path $script:ScriptsDir -ChildPath $Name) }

function Set-FakeCredentialEnv {
    $env:DEVTEST_USER = 'EXAMPLE\svc-devtest'
    $env:DEVTEST_PASSWORD = $script:FakeSecret
}

function Clear-FakeCredentialEnv {
    Remove-Item -Path Env:DEVTEST_USER, Env:DEVTEST_PASSWORD, Env:DB_MIGRATION_USER, Env:DB_MIGRATION_PASSWORD -ErrorAction SilentlyContinue
}

function New-FakeIis {
    <# Writes the fake IIS state (pool name -> state) and puts the fake WebAdministration module on PSModulePath. #>
    param(
        [Parameter(Mandatory = $true)][System.Collections.IDictionary]$Pools,
        [string[]]$NeverStarts = @(),
        [string[]]$NeverStops = @(),
        [string]$Root = $TestDrive
    )
    $poolState = [ordered]@{}
    foreach ($name in $Pools.Keys) {
        $poolState[$name] = [ordered]@{ state = $Pools[$name]; neverStarts = ($NeverStarts -contains $name); neverStops = ($NeverStops -contains $name) }
    }
    $path = Join-Path -Path $Root -ChildPath ('fake-iis-{0}.json' -f [guid]::NewGuid().ToString('N'))
    Set-Content -LiteralPath $path -Value (ConvertTo-Json -InputObject ([ordered]@{ pools = $poolState; calls = @() }) -Depth 10)
    $env:FAKE_IIS_STATE = $path
    $fakes = Join-Path -Path $PSScriptRoot -ChildPath 'fakes'
    $separator = [System.IO.Path]::PathSeparator
    if (($env:PSModulePath -split [regex]::Escape([string]$separator)) -notcontains $fakes) { $env:PSModulePath = $fakes + $separator + $env:PSModulePath }
    return $path
}

function Get-FakeIisState { return (Get-Content -LiteralPath $env:FAKE_IIS_STATE -Raw | ConvertFrom-Json) }

function Get-FakePoolState([string]$Name) { return (Get-FakeIisState).pools.$Name.state }

function New-TestZip {
    <# Creates a zip with the given entries (name -> text), in name order. Names are used verbatim (so '..\evil.txt' is possible). #>
    param([Parameter(Mandatory = $true)][string]$Path, [Parameter(Mandatory = $true)][System.Collections.IDictionary]$Entries)
    Add-Type -AssemblyName System.IO.Compression
    $parent = Split-Path -Path $Path -Parent
    if (-not (Test-Path -LiteralPath $parent)) { $null = New-Item -ItemType Directory -Path $parent -Force }
    $stream = [System.IO.File]::Open($Path, [System.IO.FileMode]::Create)
    try {
        $zip = New-Object -TypeName System.IO.Compression.ZipArchive -ArgumentList $stream, ([System.IO.Compression.ZipArchiveMode]::Create)
        try {
            foreach ($name in ($Entries.Keys | Sort-Object)) {
                $entry = $zip.CreateEntry($name)
                $entry.LastWriteTime = [DateTimeOffset]::new(2026, 1, 2, 3, 4, 6, [TimeSpan]::Zero)
                $writer = New-Object -TypeName System.IO.StreamWriter -ArgumentList $entry.Open()
                try { $writer.Write([string]$Entries[$name]) } finally { $writer.Dispose() }
            }
        }
        finally { $zip.Dispose() }
    }
    finally { $stream.Dispose() }
    return $Path
}

function Get-TreeText {
    <# Relative path -> file text of a folder, as one sorted string: easy to compare two trees. #>
    param([Parameter(Mandatory = $true)][string]$Path)
    if (-not (Test-Path -LiteralPath $Path)) { return '<missing>' }
    $root = [System.IO.Path]::GetFullPath($Path).TrimEnd('/', '\')
    $lines = foreach ($file in (Get-ChildItem -LiteralPath $Path -Recurse -File -Force | Sort-Object -Property FullName)) {
        '{0}={1}' -f $file.FullName.Substring($root.Length + 1).Replace('\', '/'), ([System.IO.File]::ReadAllText($file.FullName))
    }
    return ($lines -join "`n")
}

function New-DeployLayout {
    <# A fresh DEPLOY_DIR (with v0 content), BACKUP_ROOT, STAGING and reports folder under $TestDrive. #>
    param([System.Collections.IDictionary]$Initial = @{ 'index.html' = 'v0'; 'bin/app.dll' = 'v0-dll'; 'web.config' = '<configuration v0/>' })
    $root = Join-Path -Path $TestDrive -ChildPath ([guid]::NewGuid().ToString('N').Substring(0, 8))
    $layout = [pscustomobject]@{
        Root       = $root
        DeployDir  = Join-Path -Path $root -ChildPath 'inetpub/WeSign'
        BackupRoot = Join-Path -Path $root -ChildPath 'backup/WeSign'
        StagingDir = Join-Path -Path $root -ChildPath 'deploy'
        ReportsDir = Join-Path -Path $root -ChildPath 'reports'
        ArtifactDir = Join-Path -Path $root -ChildPath 'artifact'
    }
    $null = New-Item -ItemType Directory -Path $layout.DeployDir -Force
    foreach ($name in $Initial.Keys) {
        $file = Join-Path -Path $layout.DeployDir -ChildPath $name
        $null = New-Item -ItemType Directory -Path (Split-Path -Path $file -Parent) -Force
        Set-Content -LiteralPath $file -Value $Initial[$name] -NoNewline
    }
    return $layout
}

function New-FakePSSession {
    <#
      A real [PSSession] object that is not connected to anything (its constructor is not run), so the
      scripts' parameter types are checked as on Windows while the mocks do the work.
    #>
    return [System.Runtime.CompilerServices.RuntimeHelpers]::GetUninitializedObject([System.Management.Automation.Runspaces.PSSession])
}

function Use-FakeRemoting {
    <#
      Mocks the WinRM cmdlets: New-PSSession returns a stand-in session, Invoke-Command runs the script
      block it is given in this process (the same text that would travel to the server), Copy-Item
      -ToSession copies locally, Test-TcpPort says the WinRM port is open. Call it in BeforeEach/It.
    #>
    Mock -CommandName Test-TcpPort -MockWith { $true }
    Mock -CommandName New-PSSession -MockWith { New-FakePSSession }
    Mock -CommandName Remove-PSSession -MockWith { }
    Mock -CommandName Invoke-Command -MockWith { & $ScriptBlock @ArgumentList }
    # The body must not call Copy-Item: through dynamic scoping that call would see this call's
    # $ToSession, match the filter again and recurse.
    Mock -CommandName Copy-Item -ParameterFilter { $null -ne $ToSession } -MockWith {
        [System.IO.File]::Copy([string]@($LiteralPath)[0], $Destination, $true)
    }
}

function Use-IsolatedRemoting {
    <#
      Like Use-FakeRemoting, but Invoke-Command runs the script block in a fresh runspace that knows
      nothing of this test or of the calling script, as a remote session would: this proves that what
      travels to the server is self-contained. Call it after Use-FakeRemoting.
    #>
    Mock -CommandName Invoke-Command -MockWith {
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript($ScriptBlock.ToString())
            foreach ($argument in @($ArgumentList)) { $null = $ps.AddArgument($argument) }
            $output = $ps.Invoke()
            if ($ps.Streams.Error.Count -gt 0) { throw $ps.Streams.Error[0].Exception.Message }
            foreach ($item in $output) { $item }
        }
        catch [System.Management.Automation.MethodInvocationException] {
            # A throw inside the runspace: surface its own message, as Invoke-Command -ErrorAction Stop does.
            throw $_.Exception.InnerException.Message
        }
        finally { $ps.Dispose() }
    }
}

function Invoke-ScriptCaptured {
    <#
      Runs a script like Jenkins does (all streams merged) and returns @{ Output = [string[]]; ExitCode }.
      $LASTEXITCODE is reset first so a stale value can never pass for the script's.
    #>
    param([Parameter(Mandatory = $true)][string]$Name, [hashtable]$Parameters = @{})
    $global:LASTEXITCODE = -999
    $lines = & (Get-ScriptPath $Name) @Parameters *>&1 | ForEach-Object { [string]$_ }
    return [pscustomobject]@{ Output = @($lines); ExitCode = $global:LASTEXITCODE; Text = (@($lines) -join "`n") }
}

function Get-FreeTcpPort {
    $listener = New-Object -TypeName System.Net.Sockets.TcpListener -ArgumentList ([System.Net.IPAddress]::Loopback), 0
    $listener.Start()
    try { return $listener.LocalEndpoint.Port } finally { $listener.Stop() }
}

function Start-SmokeServer {
    <# Starts fixtures/smoke_server.py on a free loopback port; returns @{ Process; BaseUrl }. Stop it with Stop-SmokeServer. #>
    # The py launcher on Windows (the user's convention); python3 where there is none (Linux CI).
    $interpreter = Get-Command -Name py, python3 -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    if (-not $interpreter) { throw 'Neither the py launcher nor python3 was found; the smoke tests need one to serve fixtures/smoke_server.py.' }
    $info = New-Object -TypeName System.Diagnostics.ProcessStartInfo
    $info.FileName = $interpreter.Source
    $info.Arguments = '"{0}"' -f (Join-Path -Path $PSScriptRoot -ChildPath 'fixtures/smoke_server.py')
    $info.UseShellExecute = $false
    $info.RedirectStandardOutput = $true
    $process = [System.Diagnostics.Process]::Start($info)
    $portLine = $process.StandardOutput.ReadLine()
    if (-not ($portLine -match '^\d+$')) { $process.Kill(); throw "smoke_server.py did not print its port (got '$portLine')" }
    return [pscustomobject]@{ Process = $process; BaseUrl = ('http://127.0.0.1:{0}' -f $portLine) }
}

function Stop-SmokeServer([object]$Server) {
    if ($null -ne $Server -and -not $Server.Process.HasExited) { $Server.Process.Kill(); $Server.Process.WaitForExit(5000) | Out-Null }
}

function New-UniquePath([string]$Prefix) { return ('{0}/{1}' -f $Prefix, [guid]::NewGuid().ToString('N')) }
