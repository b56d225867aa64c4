BeforeAll {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
    $script:server = Start-SmokeServer
    $script:base = $script:server.BaseUrl
}
AfterAll { Stop-SmokeServer $script:server }

Describe 'smoke.ps1 (against a real HTTP server on loopback)' {
    BeforeEach {
        $reports = Join-Path -Path $TestDrive -ChildPath ([guid]::NewGuid().ToString('N'))
    }

    It 'passes when every URL answers 200 and writes smoke.json and a smoke log' {
        $urls = @(('{0}/{1}' -f $base, (New-UniquePath 'ok')), ('{0}/{1}' -f $base, (New-UniquePath 'ok')))
        $run = Invoke-ScriptCaptured -Name 'smoke.ps1' -Parameters @{ Urls = $urls; BackoffSeconds = 0; ReportsDir = $reports }
        $run.ExitCode | Should -Be 0 -Because $run.Text
        $run.Output | ForEach-Object { $_ | Should -Match '^\[smoke\] ' }
        $json = Get-Content -LiteralPath (Join-Path -Path $reports -ChildPath 'smoke.json') -Raw | ConvertFrom-Json
        $json.ok | Should -BeTrue
        $json.healthy | Should -Be 2
        $json.total | Should -Be 2
        $json.urls[0].url | Should -Be $urls[0]
        $json.urls[0].status | Should -Be 200
        $json.urls[0].attempts | Should -Be 1
        $json.urls[0].ms | Should -BeOfType [long]
        $logs = @(Get-ChildItem -LiteralPath $reports -Filter 'smoke_smoke_*.log')
        $logs.Count | Should -Be 1
        $logs[0].Name | Should -Match '^smoke_smoke_\d{8}_\d{6}\.log$'
        (Get-Content -LiteralPath $logs[0].FullName -Raw) | Should -Match '\[smoke\] smoke passed: 2/2 healthy'
    }

    It 'retries a URL that recovers on the 2nd try and passes' {
        $flaky = '{0}/{1}' -f $base, (New-UniquePath 'fail-first/1')
        $run = Invoke-ScriptCaptured -Name 'smoke.ps1' -Parameters @{ Urls = $flaky; BackoffSeconds = 0.05; ReportsDir = $reports }
        $run.ExitCode | Should -Be 0 -Because $run.Text
        $run.Text | Should -Match 'retry .* HTTP 503.*\(attempt 1/4\)'
        $json = Get-Content -LiteralPath (Join-Path -Path $reports -ChildPath 'smoke.json') -Raw | ConvertFrom-Json
        $json.urls[0].attempts | Should -Be 2
        $json.urls[0].ok | Should -BeTrue
    }

    It 'fails fast on a URL that never recovers: 1 + Retries attempts, later URLs not checked, exit 1' {
        $down = '{0}/{1}' -f $base, (New-UniquePath 'down')
        $after = '{0}/{1}' -f $base, (New-UniquePath 'ok')
        $run = Invoke-ScriptCaptured -Name 'smoke.ps1' -Parameters @{ Urls = ('{0},{1}' -f $down, $after); Retries = 3; BackoffSeconds = 0.01; ReportsDir = $reports }
        $run.ExitCode | Should -Be 1
        $run.Text | Should -Match ('FAIL {0} -> HTTP 503' -f [regex]::Escape($down))
        $json = Get-Content -LiteralPath (Join-Path -Path $reports -ChildPath 'smoke.json') -Raw | ConvertFrom-Json
        $json.ok | Should -BeFalse
        $json.healthy | Should -Be 0
        $json.total | Should -Be 2
        $json.urls[0].attempts | Should -Be 4
        $json.urls[0].status | Should -Be 503
        $json.urls[1].attempts | Should -Be 0
        $json.urls[1].error | Should -Match 'fail fast'
    }

    It 'reports a closed port as no response' {
        $port = Get-FreeTcpPort
        $run = Invoke-ScriptCaptured -Name 'smoke.ps1' -Parameters @{ Urls = "http://127.0.0.1:$port/health"; Retries = 1; BackoffSeconds = 0; TimeoutSeconds = 2; ReportsDir = $reports }
        $run.ExitCode | Should -Be 1
        $json = Get-Content -LiteralPath (Join-Path -Path $reports -ChildPath 'smoke.json') -Raw | ConvertFrom-Json
        $json.urls[0].status | Should -BeNullOrEmpty
        $json.urls[0].attempts | Should -Be 2
    }

    It 'writes smoke_rollback.json for the label rollback, leaving smoke.json alone' {
        $run = Invoke-ScriptCaptured -Name 'smoke.ps1' -Parameters @{ Urls = ('{0}/{1}' -f $base, (New-UniquePath 'ok')); BackoffSeconds = 0; ReportsDir = $reports; Label = 'rollback'; Stage = 'rollback' }
        $run.ExitCode | Should -Be 0
        Test-Path -LiteralPath (Join-Path -Path $reports -ChildPath 'smoke_rollback.json') | Should -BeTrue
        Test-Path -LiteralPath (Join-Path -Path $reports -ChildPath 'smoke.json') | Should -BeFalse
        $run.Output | ForEach-Object { $_ | Should -Match '^\[rollback\] ' }
    }

    It 'rejects a URL that is not http(s) with a clear message' {
        $run = Invoke-ScriptCaptured -Name 'smoke.ps1' -Parameters @{ Urls = 'ftp://DevTest/health'; ReportsDir = $reports }
        $run.ExitCode | Should -Be 1
        $run.Text | Should -Match "invalid URL 'ftp://DevTest/health': pass absolute http:// or https:// URLs"
    }

    It 'masks user info in URLs' {
        $url = '{0}/{1}' -f $base.Replace('http://', 'http://someone:fake-url-secret-example@'), (New-UniquePath 'ok')
        $run = Invoke-ScriptCaptured -Name 'smoke.ps1' -Parameters @{ Urls = $url; BackoffSeconds = 0; Retries = 0; ReportsDir = $reports }
        $run.Text | Should -Not -Match 'fake-url-secret-example'
        (Get-Content -LiteralPath (Join-Path -Path $reports -ChildPath 'smoke.json') -Raw) | Should -Not -Match 'fake-url-secret-example'
    }
}
