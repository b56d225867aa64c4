<#
.SYNOPSIS
    Runs every check of scripts/ps: parse + PowerShell 5.1 compatibility scan of each script, then
    the Pester 5 suites in tests/ps. Exit code 0 only if everything passed.
.DESCRIPTION
    Pester 5 comes from .tools/pwsh-modules/Pester (bash .ci/install-powershell.sh puts it there) or
    from an installed module. Run: pwsh -NoProfile -File tests/ps/Invoke-Tests.ps1 [-Path <test file>]
    or: npm test -- powershell
#>
[CmdletBinding()]
param(
    # Test files or folders to run (default: all of tests/ps).
    [string[]]$Path,
    [ValidateSet('None', 'Normal', 'Detailed', 'Diagnostic')][string]$Output = 'Detailed'
)
$ErrorActionPreference = 'Stop'
$repoRoot = [System.IO.Path]::GetFullPath((Join-Path -Path $PSScriptRoot -ChildPath '../..'))
$scriptsDir = Join-Path -Path $repoRoot -ChildPath 'scripts/ps'
. (Join-Path -Path $PSScriptRoot -ChildPath 'Compat.ps1')

# --- 1. Static checks ---------------------------------------------------------------------------
$staticPassed = 0
$staticFailed = 0
Write-Output '[tests] static checks of scripts/ps (parser + Windows PowerShell 5.1 compatibility)'
$scripts = @(Get-ChildItem -LiteralPath $scriptsDir -Filter '*.ps1' -File | Sort-Object -Property Name)
if ($scripts.Count -eq 0) { Write-Output "[tests] FAIL no scripts found in $scriptsDir"; $staticFailed++ }
foreach ($file in $scripts) {
    # Not wrapped in @(): the function returns its array as one object (, $array).
    $problems = Get-CompatibilityProblem -Path $file.FullName
    # Scripts that change the server must support -WhatIf/-Confirm at High impact (callers pass -Confirm:$false).
    if (@('stop_pools.ps1', 'start_pools.ps1', 'deploy_zip.ps1', 'rollback.ps1') -contains $file.Name) {
        $text = [System.IO.File]::ReadAllText($file.FullName)
        if ($text -notmatch "CmdletBinding\(SupportsShouldProcess = \`$true, ConfirmImpact = 'High'\)") { $problems += "$($file.Name): missing [CmdletBinding(SupportsShouldProcess = `$true, ConfirmImpact = 'High')]" }
    }
    if ($problems.Count -eq 0) { $staticPassed++; Write-Output ("[tests]   ok   {0}" -f $file.Name) }
    else {
        $staticFailed++
        Write-Output ("[tests]   FAIL {0}" -f $file.Name)
        foreach ($p in $problems) { Write-Output ("[tests]        " + $p) }
    }
}

# --- 2. Pester ----------------------------------------------------------------------------------
$localPester = Join-Path -Path $repoRoot -ChildPath '.tools/pwsh-modules/Pester/Pester.psd1'
if (Test-Path -LiteralPath $localPester) { Import-Module -Name $localPester -MinimumVersion 5.0 -Force }
else {
    $installed = Get-Module -ListAvailable -Name Pester | Where-Object { $_.Version.Major -ge 5 } | Sort-Object -Property Version -Descending | Select-Object -First 1
    if (-not $installed) {
        Write-Output '[tests] FAIL Pester 5 not found: run bash .ci/install-powershell.sh (it restores Pester 5.7.1 into .tools/)'
        Write-Output ("powershell: {0} passed, {1} failed" -f $staticPassed, ($staticFailed + 1))
        exit 1
    }
    Import-Module -Name $installed.Path -Force
}
$configuration = New-PesterConfiguration
if ($Path) { $configuration.Run.Path = @($Path -split ',' | Where-Object { $_ }) }  # -File passes one comma-separated string else { $configuration.Run.Path = @($PSScriptRoot) }
$configuration.Run.PassThru = $true
$configuration.Output.Verbosity = $Output
$configuration.TestResult.Enabled = $true
$configuration.TestResult.OutputFormat = 'JUnitXml'
$configuration.TestResult.OutputPath = Join-Path -Path $repoRoot -ChildPath 'tmp/pester-junit.xml'
$result = Invoke-Pester -Configuration $configuration

$passed = $staticPassed + $result.PassedCount
$failed = $staticFailed + $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount
if ($result.TotalCount -eq 0) { Write-Output '[tests] FAIL Pester ran no test'; $failed++ }
Write-Output ("[tests] static checks: {0} ok, {1} failed; Pester: {2} passed, {3} failed, {4} skipped" -f $staticPassed, $staticFailed, $result.PassedCount, $result.FailedCount, $result.SkippedCount)
Write-Output ("powershell: {0} passed, {1} failed" -f $passed, $failed)
if ($failed -gt 0) { exit 1 }
exit 0
