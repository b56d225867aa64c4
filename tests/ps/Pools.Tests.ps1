BeforeAll {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
    # The functions the scripts dot-source must exist here for Mock to replace them.
    . (Get-ScriptPath 'winrm_session.ps1')
}

Describe 'stop_pools.ps1' {
    BeforeEach {
        Set-FakeCredentialEnv
        Use-FakeRemoting
        $script:reports = Join-Path -Path $TestDrive -ChildPath ([guid]::NewGuid().ToString('N'))
    }
    AfterEach { Clear-FakeCredentialEnv }

    It 'stops every running pool inside the remote session and waits until Stopped' {
        $null = New-FakeIis -Pools ([ordered]@{ UserApi = 'Started'; SignerApi = 'Started' })
        $run = Invoke-ScriptCaptured -Name 'stop_pools.ps1' -Parameters @{ ComputerName = 'DevTest'; Pools = @('UserApi', 'SignerApi'); PollMilliseconds = 50; Confirm = $false; ReportsDir = $script:reports }
        $run.ExitCode | Should -Be 0
        Get-FakePoolState 'UserApi' | Should -Be 'Stopped'
        Get-FakePoolState 'SignerApi' | Should -Be 'Stopped'
        Should -Invoke -CommandName Invoke-Command -Times 1 -Exactly
        Should -Invoke -CommandName New-PSSession -Times 1 -Exactly -ParameterFilter { $UseSSL -and $Port -eq 5986 }
        $run.Output | ForEach-Object { $_ | Should -Match '^\[deploy\] ' }
        (Get-Content -LiteralPath (Join-Path -Path $script:reports -ChildPath 'deploy.log') -Raw) | Should -Match "\[deploy\] app pool 'SignerApi' stopped"
    }

    It 'sends a self-contained script block (it also works in a fresh runspace, like a real session)' {
        Use-IsolatedRemoting
        $null = New-FakeIis -Pools ([ordered]@{ UserApi = 'Started' })
        $run = Invoke-ScriptCaptured -Name 'stop_pools.ps1' -Parameters @{ ComputerName = 'DevTest'; Pools = 'UserApi'; PollMilliseconds = 50; Confirm = $false; ReportsDir = $script:reports }
        $run.ExitCode | Should -Be 0 -Because $run.Text
        Get-FakePoolState 'UserApi' | Should -Be 'Stopped'
        $run.Text | Should -Match "\[deploy\] app pool 'UserApi' stopped"
    }

    It 'changes nothing with -WhatIf' {
        $null = New-FakeIis -Pools ([ordered]@{ UserApi = 'Started' })
        $run = Invoke-ScriptCaptured -Name 'stop_pools.ps1' -Parameters @{ ComputerName = 'DevTest'; Pools = 'UserApi'; WhatIf = $true; ReportsDir = $script:reports }
        $run.ExitCode | Should -Be 0
        Get-FakePoolState 'UserApi' | Should -Be 'Started'
        Should -Invoke -CommandName New-PSSession -Times 0 -Exactly
    }

    It 'accepts the pools as one comma-separated string and is idempotent for pools already stopped' {
        $null = New-FakeIis -Pools ([ordered]@{ UserApi = 'Stopped'; SignerApi = 'Started' })
        $run = Invoke-ScriptCaptured -Name 'stop_pools.ps1' -Parameters @{ ComputerName = 'DevTest'; Pools = 'UserApi, SignerApi'; PollMilliseconds = 50; Confirm = $false; ReportsDir = $script:reports }
        $run.ExitCode | Should -Be 0
        $run.Text | Should -Match "app pool 'UserApi' is already stopped"
        (Get-FakeIisState).calls | Should -Be @('Stop-WebAppPool SignerApi')
    }
}

Describe 'start_pools.ps1' {
    BeforeEach {
        Set-FakeCredentialEnv
        Use-FakeRemoting
        $script:reports = Join-Path -Path $TestDrive -ChildPath ([guid]::NewGuid().ToString('N'))
    }
    AfterEach { Clear-FakeCredentialEnv }

    It 'starts stopped pools, leaves started ones alone and exits 0' {
        $null = New-FakeIis -Pools ([ordered]@{ UserApi = 'Stopped'; DefaultAppPool = 'Started' })
        $run = Invoke-ScriptCaptured -Name 'start_pools.ps1' -Parameters @{ ComputerName = 'DevTest'; Pools = 'UserApi,DefaultAppPool'; PollMilliseconds = 50; Confirm = $false; ReportsDir = $script:reports }
        $run.ExitCode | Should -Be 0
        Get-FakePoolState 'UserApi' | Should -Be 'Started'
        (Get-FakeIisState).calls | Should -Be @('Start-WebAppPool UserApi')
        $run.Output | ForEach-Object { $_ | Should -Match '^\[smoke\] ' }
    }

    Context 'when a pool never reaches Started' {
        It 'fails naming that pool (and only that pool)' {
            $null = New-FakeIis -Pools ([ordered]@{ UserApi = 'Stopped'; PdfConvertorService = 'Stopped' }) -NeverStarts 'PdfConvertorService'
            $run = Invoke-ScriptCaptured -Name 'start_pools.ps1' -Parameters @{ ComputerName = 'DevTest'; Pools = 'UserApi,PdfConvertorService'; TimeoutSeconds = 1; PollMilliseconds = 50; Confirm = $false; ReportsDir = $script:reports }
            $run.ExitCode | Should -Be 1
            $run.Text | Should -Match '\[smoke\] ERROR: app pool\(s\) did not reach Started within 1s: PdfConvertorService \(state: Stopped\)'
            $run.Text | Should -Not -Match 'UserApi \(state'
            Get-FakePoolState 'UserApi' | Should -Be 'Started'
        }
    }

    Context 'when a pool does not exist' {
        It 'fails with the pool name and a fix' {
            $null = New-FakeIis -Pools ([ordered]@{ UserApi = 'Stopped' })
            $run = Invoke-ScriptCaptured -Name 'start_pools.ps1' -Parameters @{ ComputerName = 'DevTest'; Pools = 'UserApi,Nope'; PollMilliseconds = 50; Confirm = $false; ReportsDir = $script:reports }
            $run.ExitCode | Should -Be 1
            $run.Text | Should -Match "app pool 'Nope' does not exist"
            $run.Text | Should -Match 'Fix:'
        }
    }

    It 'rejects a pool name with shell metacharacters before contacting the server' {
        $null = New-FakeIis -Pools ([ordered]@{ UserApi = 'Stopped' })
        $run = Invoke-ScriptCaptured -Name 'start_pools.ps1' -Parameters @{ ComputerName = 'DevTest'; Pools = 'UserApi;Remove-Item'; Confirm = $false; ReportsDir = $script:reports }
        $run.ExitCode | Should -Be 1
        $run.Text | Should -Match "invalid app pool 'UserApi;Remove-Item'"
        Should -Invoke -CommandName New-PSSession -Times 0 -Exactly
    }
}
