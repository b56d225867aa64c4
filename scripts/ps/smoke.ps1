<#
.SYNOPSIS
    GETs each smoke URL with retries and exponential backoff; fails fast on a URL still not 200.
.DESCRIPTION
    Jenkins stage 'Start IIS + Smoke' (marker [smoke]); rollback.ps1 reuses it with -Label rollback.
    Each URL is tried once plus up to -Retries more times, waiting BackoffSeconds * 2^(n-1) between
    tries (2 s, 4 s, 8 s by default). Only HTTP 200 counts as healthy. The first URL that is still not
    200 after its retries stops the run (fail fast); URLs after it are reported as not checked.
    Writes ReportsDir\smoke.json (smoke_<label>.json for another label):
      { urls: [{ url, ok, status, attempts, ms, error }], ok, healthy, total, label, started_at, finished_at }
    and ReportsDir\smoke_<label>_<yyyyMMdd_HHmmss>.log. Exit code 0 when every URL answered 200, else 1.
    Runs on the Jenkins server; nothing on DevTest changes. Windows PowerShell 5.1 and PowerShell 7.
.EXAMPLE
    powershell -NoProfile -NonInteractive -File scripts\ps\smoke.ps1 -Urls "http://DevTest/health,http://DevTest/WeSignManagement/health" -ReportsDir reports
#>
# SupportsShouldProcess only so that callers may pass -Confirm:$false / -WhatIf like to the other
# scripts; this script changes nothing on DevTest (it only writes its local reports).
[CmdletBinding(SupportsShouldProcess = $true)]
param(
    # Array or one comma-separated string of absolute http(s) URLs.
    [Parameter(Mandatory = $true)][string[]]$Urls,
    [ValidateRange(0, 10)][int]$Retries = 3,
    [ValidateRange(0, 120)][double]$BackoffSeconds = 2,
    [ValidateRange(1, 600)][int]$TimeoutSeconds = 10,
    [ValidateNotNullOrEmpty()][string]$ReportsDir = 'reports',
    [ValidatePattern('^[A-Za-z0-9_-]{1,32}$')][string]$Label = 'smoke',
    # Stage id for the log marker (rollback.ps1 passes 'rollback').
    [ValidatePattern('^[a-z0-9_-]{1,32}$')][string]$Stage = 'smoke'
)
$ErrorActionPreference = 'Stop'
. (Join-Path -Path $PSScriptRoot -ChildPath 'common.ps1')
$StageLogId = $Stage

function Hide-UrlCredential {
    <# http://user:secret@host/ -> http://***@host/ : user info in a URL is a secret. #>
    param([string]$Url)
    return ($Url -replace '(?<=://)[^/@\s]+@', '***@')
}

function Get-UrlStatus {
    <# One GET: returns @{ Status = <int or $null>; Error = <string or $null>; Ms }. #>
    param([string]$Url, [int]$Timeout)
    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    $status = $null
    $problem = $null
    try {
        # -UseBasicParsing: 5.1 would otherwise need Internet Explorer's engine; 7 ignores it.
        $response = Invoke-WebRequest -Uri $Url -Method Get -UseBasicParsing -TimeoutSec $Timeout -MaximumRedirection 5 -ErrorAction Stop
        $status = [int]$response.StatusCode
    }
    catch {
        $exception = $_.Exception
        $response = $null
        if ($exception.PSObject.Properties['Response']) { $response = $exception.Response }
        if ($null -ne $response -and $null -ne $response.StatusCode) { $status = [int]$response.StatusCode }
        $problem = $exception.Message
    }
    $watch.Stop()
    return [pscustomobject]@{ Status = $status; Error = $problem; Ms = [int]$watch.ElapsedMilliseconds }
}

$exitCode = 0
$startedAt = Get-IsoTimestamp
$reportsFull = Resolve-LocalPath $ReportsDir
$results = New-Object -TypeName System.Collections.Generic.List[object]
$jsonName = 'smoke.json'
if ($Label -ne 'smoke') { $jsonName = 'smoke_{0}.json' -f $Label }
$urlList = @()
try {
    $stamp = Get-Date -Format 'yyyyMMdd_HHmmss'
    Set-StageLogFile -Path (Join-Path -Path $reportsFull -ChildPath ('smoke_{0}_{1}.log' -f $Label, $stamp))
    $urlList = ConvertTo-UrlList -Value $Urls
    Write-StageLog -Message ("smoke check ({0}): {1} URL(s), up to {2} retries each, backoff {3}s doubling, timeout {4}s" -f $Label, $urlList.Count, $Retries, $BackoffSeconds, $TimeoutSeconds)
    $failedFast = $false
    foreach ($url in $urlList) {
        $shown = Hide-UrlCredential -Url $url
        if ($failedFast) {
            $results.Add([ordered]@{ url = $shown; ok = $false; status = $null; attempts = 0; ms = $null; error = 'not checked: an earlier URL failed (fail fast)' })
            continue
        }
        $attempt = 0
        $last = $null
        while ($true) {
            $attempt++
            $last = Get-UrlStatus -Url $url -Timeout $TimeoutSeconds
            $statusText = 'no response'
            if ($null -ne $last.Status) { $statusText = 'HTTP {0}' -f $last.Status }
            if ($last.Status -eq 200) {
                Write-StageLog -Message ("ok   {0} -> {1} in {2} ms (attempt {3})" -f $shown, $statusText, $last.Ms, $attempt)
                break
            }
            $reason = $statusText
            if ($last.Error) { $reason = '{0}: {1}' -f $statusText, (Hide-UrlCredential -Url $last.Error) }
            if ($attempt -gt $Retries) {
                Write-StageLog -Message ("FAIL {0} -> {1} after {2} attempt(s)" -f $shown, $reason, $attempt)
                break
            }
            $wait = $BackoffSeconds * [math]::Pow(2, $attempt - 1)
            Write-StageLog -Message ("retry {0} -> {1} (attempt {2}/{3}); waiting {4}s" -f $shown, $reason, $attempt, ($Retries + 1), $wait)
            Start-Sleep -Milliseconds ([int]($wait * 1000))
        }
        $ok = $last.Status -eq 200
        $errorText = $null
        if (-not $ok) {
            $errorText = 'not HTTP 200 after {0} attempt(s)' -f $attempt
            if ($last.Error) { $errorText = Hide-UrlCredential -Url $last.Error }
        }
        $results.Add([ordered]@{ url = $shown; ok = $ok; status = $last.Status; attempts = $attempt; ms = $last.Ms; error = $errorText })
        if (-not $ok) { $failedFast = $true }
    }
}
catch {
    Write-StageLog -Message ('ERROR: ' + $_.Exception.Message)
    $exitCode = 1
}
$healthy = @($results | Where-Object { $_.ok }).Count
$total = [Math]::Max($urlList.Count, $results.Count)
$allOk = ($exitCode -eq 0) -and ($total -gt 0) -and ($healthy -eq $total)
if (-not $allOk) { $exitCode = 1 }
Write-StageLog -Message ("smoke {0}: {1}/{2} healthy" -f $(if ($allOk) { 'passed' } else { 'FAILED' }), $healthy, $total)
try {
    Write-JsonFile -Path (Join-Path -Path $reportsFull -ChildPath $jsonName) -InputObject ([ordered]@{
            urls = $results.ToArray(); ok = $allOk; healthy = $healthy; total = $total; label = $Label
            started_at = $startedAt; finished_at = (Get-IsoTimestamp)
        })
}
catch {
    Write-StageLog -Message ('ERROR: cannot write {0}: {1}' -f $jsonName, $_.Exception.Message)
    $exitCode = 1
}
Set-StageLogFile -Path $null
exit $exitCode
