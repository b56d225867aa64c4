BeforeAll {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'Compat.ps1')
}

# The static checks that Invoke-Tests.ps1 runs over scripts/ps must catch each of these; if a rule
# silently stopped working, this file fails.
Describe 'Get-CompatibilityProblem' {
    It 'flags <Name>' -ForEach @(
        @{ Name = 'the ternary operator'; Code = '$a = $true ? 1 : 2'; Expected = '*ternary*' }
        @{ Name = '??'; Code = '$a = $b ?? 3'; Expected = '*?? is PowerShell 7 only*' }
        @{ Name = '??='; Code = '$a ??= 3'; Expected = '*??= is PowerShell 7 only*' }
        @{ Name = '?.'; Code = '$a = ${b}?.Length'; Expected = '*null-conditional*' }
        @{ Name = '?[]'; Code = '$a = ${b}?[0]'; Expected = '*null-conditional*' }
        @{ Name = 'a && chain'; Code = 'Get-Date && Get-Date'; Expected = '*pipeline chain*' }
        @{ Name = 'a || chain'; Code = 'Get-Date || Get-Date'; Expected = '*pipeline chain*' }
        @{ Name = 'ForEach-Object -Parallel'; Code = '1..3 | ForEach-Object -Parallel { $_ }'; Expected = '*ForEach-Object -Parallel is PowerShell 7 only*' }
        @{ Name = 'ConvertFrom-Json -AsHashtable'; Code = '$x = ConvertFrom-Json -InputObject "{}" -AsHashtable'; Expected = '*-AsHashtable is PowerShell 7 only*' }
        @{ Name = 'Invoke-WebRequest -SkipHttpErrorCheck'; Code = 'Invoke-WebRequest -Uri http://x -SkipHttpErrorCheck'; Expected = '*-SkipHttpErrorCheck*' }
        @{ Name = 'Join-Path with more children'; Code = 'Join-Path -Path a -ChildPath b -AdditionalChildPath c'; Expected = '*AdditionalChildPath*' }
        @{ Name = 'Get-Date -AsUTC'; Code = 'Get-Date -AsUTC'; Expected = '*AsUTC*' }
        @{ Name = '-Encoding utf8NoBOM'; Code = 'Set-Content -Path x -Value y -Encoding utf8NoBOM'; Expected = '*utf8NoBOM*' }
        @{ Name = '$IsWindows'; Code = 'if ($IsWindows) { 1 }'; Expected = '*$IsWindows does not exist*' }
        @{ Name = 'Test-Json'; Code = 'Test-Json -Json "{}"'; Expected = '*Test-Json is PowerShell 7 only*' }
        @{ Name = '[IO.Path]::GetRelativePath'; Code = '[System.IO.Path]::GetRelativePath("a", "b")'; Expected = '*.NET Core only*' }
        @{ Name = 'an alias'; Code = 'gci | % { $_ }'; Expected = "*alias 'gci'*" }
        @{ Name = 'a Unix-style alias'; Code = 'ls'; Expected = "*alias 'ls'*" }
        @{ Name = 'Write-Host'; Code = 'Write-Host "x"'; Expected = '*Write-Host*' }
        @{ Name = 'a state-changing cmdlet without -ErrorAction'; Code = 'Remove-Item -LiteralPath C:\x -Recurse -Force'; Expected = '*Remove-Item without -ErrorAction*' }
        @{ Name = 'a parse error'; Code = 'function f { if ($x) { }'; Expected = '*parse error*' }
    ) {
        $problems = Get-CompatibilityProblem -Text $Code
        $problems.Count | Should -BeGreaterThan 0
        ($problems -join "`n") | Should -BeLike $Expected
    }

    It 'accepts plain 5.1 code' {
        $code = @'
[CmdletBinding(SupportsShouldProcess = $true)]
param([string[]]$Pools = @())
$ErrorActionPreference = 'Stop'
foreach ($p in $Pools) { if ($null -eq $p) { continue } ; Write-Output ('[deploy] {0}' -f $p) }
$value = $(if ($Pools.Count -gt 0) { 'some' } else { 'none' })
$json = ConvertTo-Json -InputObject @{ a = 1 } -Depth 5
Get-ChildItem -LiteralPath . -File | Where-Object { $_.Length -gt 0 } | ForEach-Object { $_.Name }
'@
        Get-CompatibilityProblem -Text $code | Should -BeNullOrEmpty
    }
}
