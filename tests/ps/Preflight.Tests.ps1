BeforeAll {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
    . (Get-ScriptPath 'winrm_session.ps1')
    # Get-Service does not exist on Linux; this stand-in is what the preflight's remote part calls.
    function Get-Service {
        param([string]$Name)
        $stopped = @($env:FAKE_STOPPED_SERVICES -split ',')
        return [pscustomobject]@{ Name = $Name; Status = $(if ($stopped -contains $Name) { 'Stopped' } else { 'Running' }) }
    }

    function Invoke-Preflight([hashtable]$Extra = @{}) {
        $parameters = @{
            ComputerName = 'DevTest'; Pools = 'UserApi,SignerApi'; DeployDir = 'C:\inetpub\WeSign'; BackupRoot = 'C:\backup\WeSign'
            StagingDir = 'C:\deploy'; ArtifactPath = (Join-Path -Path $TestDrive -ChildPath 'artifact/WeSign.DevTest.zip')
            ReportPath = $script:reportPath; RequiredTools = @('pwsh'); MinFreeMB = 1; LocalMinFreeMB = 1
        }
        foreach ($key in $Extra.Keys) { $parameters[$key] = $Extra[$key] }
        return (Invoke-ScriptCaptured -Name 'preflight.ps1' -Parameters $parameters)
    }
    function Get-Report { return (Get-Content -LiteralPath $script:reportPath -Raw | ConvertFrom-Json) }
    function Get-CheckById([string]$Id) { return ((Get-Report).checks | Where-Object { $_.id -eq $Id }) }
}

Describe 'preflight.ps1' {
    BeforeEach {
        Set-FakeCredentialEnv
        Use-FakeRemoting
        $env:FAKE_STOPPED_SERVICES = ''
        $null = New-FakeIis -Pools ([ordered]@{ UserApi = 'Started'; SignerApi = 'Stopped' })
        $script:reportPath = Join-Path -Path $TestDrive -ChildPath ('{0}/preflight.json' -f [guid]::NewGuid().ToString('N'))
    }
    AfterEach { Clear-FakeCredentialEnv; Remove-Item -Path Env:FAKE_STOPPED_SERVICES -ErrorAction SilentlyContinue }

    Context 'with -LocalOnly (dry run)' {
        It 'checks only the Jenkins side and never calls a remote cmdlet' {
            $run = Invoke-Preflight -Extra @{ LocalOnly = $true }
            $run.ExitCode | Should -Be 0 -Because $run.Text
            Should -Invoke -CommandName New-PSSession -Times 0 -Exactly
            Should -Invoke -CommandName Invoke-Command -Times 0 -Exactly
            Should -Invoke -CommandName Test-TcpPort -Times 0 -Exactly
            $report = Get-Report
            $report.local_only | Should -BeTrue
            $report.ok | Should -BeTrue
            $report.computer | Should -Be 'DevTest'
            @($report.checks | ForEach-Object { $_.id }) | Should -Be @('inputs', 'paths', 'tool_pwsh', 'local_disk')
            # Raw text: ConvertFrom-Json on PowerShell 7 turns ISO strings into [datetime].
            $raw = Get-Content -LiteralPath $script:reportPath -Raw
            $raw | Should -Match '"started_at": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"'
            $raw | Should -Match '"finished_at": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"'
            $run.Output | ForEach-Object { $_ | Should -Match '^\[preflight\] ' }
        }

        It 'fails with a hint for a missing tool (the default list asks for dotnet, git, node and py)' {
            $run = Invoke-Preflight -Extra @{ LocalOnly = $true; RequiredTools = @('pwsh', 'surely-not-installed-tool-example') }
            $run.ExitCode | Should -Be 1
            $check = Get-CheckById 'tool_surely-not-installed-tool-example'
            $check.ok | Should -BeFalse
            $check.hint | Should -Match 'Install surely-not-installed-tool-example on the Jenkins server'
            (Get-CheckById 'tool_pwsh').hint | Should -BeNullOrEmpty
            (Get-Report).ok | Should -BeFalse
        }
    }

    Context 'against the server' {
        It 'passes when ports, session, IIS, services, pools and disk are fine' {
            $run = Invoke-Preflight
            $run.ExitCode | Should -Be 0 -Because $run.Text
            Should -Invoke -CommandName Test-TcpPort -Times 1 -Exactly -ParameterFilter { $Port -eq 445 }
            Should -Invoke -CommandName Test-TcpPort -ParameterFilter { $Port -eq 5986 }
            Should -Invoke -CommandName New-PSSession -Times 1 -Exactly -ParameterFilter { $UseSSL -and $Port -eq 5986 }
            Should -Invoke -CommandName Invoke-Command -Times 1 -Exactly
            $ids = @((Get-Report).checks | ForEach-Object { $_.id })
            foreach ($id in @('tcp_smb', 'tcp_winrm', 'winrm_session', 'iis_module', 'service_w3svc', 'service_was', 'pool_UserApi', 'pool_SignerApi')) { $ids | Should -Contain $id }
            @($ids | Where-Object { $_ -like 'disk_*' }).Count | Should -BeGreaterThan 0
            (Get-Report).local_only | Should -BeFalse
        }

        It 'fails the pool check of a pool that does not exist, with a hint' {
            $run = Invoke-Preflight -Extra @{ Pools = 'UserApi,Ghost' }
            $run.ExitCode | Should -Be 1
            $check = Get-CheckById 'pool_Ghost'
            $check.ok | Should -BeFalse
            $check.hint | Should -Match "Create app pool 'Ghost'"
        }

        It 'fails when W3SVC is stopped' {
            $env:FAKE_STOPPED_SERVICES = 'W3SVC'
            $run = Invoke-Preflight
            $run.ExitCode | Should -Be 1
            (Get-CheckById 'service_w3svc').ok | Should -BeFalse
            (Get-CheckById 'service_w3svc').hint | Should -Match 'Start-Service W3SVC'
            (Get-CheckById 'service_was').ok | Should -BeTrue
        }

        It 'fails the disk check when the server needs more than it has' {
            $run = Invoke-Preflight -Extra @{ MinFreeMB = 10485760 }
            $run.ExitCode | Should -Be 1
            $disk = @((Get-Report).checks | Where-Object { $_.id -like 'disk_*' })
            $disk[0].ok | Should -BeFalse
            $disk[0].hint | Should -Match 'Free space'
        }

        It 'reports closed ports and skips the session without trying it' {
            Mock -CommandName Test-TcpPort -MockWith { $false }
            $run = Invoke-Preflight
            $run.ExitCode | Should -Be 1
            (Get-CheckById 'tcp_smb').ok | Should -BeFalse
            (Get-CheckById 'tcp_winrm').hint | Should -Match 'winrm quickconfig -transport:https'
            (Get-CheckById 'winrm_session').detail | Should -Match 'not attempted'
            Should -Invoke -CommandName New-PSSession -Times 0 -Exactly
        }

        It 'turns an authentication failure into a check with the credential hint and never prints the password' {
            Mock -CommandName New-PSSession -MockWith { throw 'Connecting to remote server DevTest failed with the following error message : Access is denied.' }
            $run = Invoke-Preflight
            $run.ExitCode | Should -Be 1
            $check = Get-CheckById 'winrm_session'
            $check.detail | Should -Match 'authentication refused'
            $check.hint | Should -Match "svc-devtest"
            (Get-CheckById 'target_checks').ok | Should -BeFalse
            $run.Text | Should -Not -Match ([regex]::Escape($script:FakeSecret))
            (Get-Content -LiteralPath $script:reportPath -Raw) | Should -Not -Match ([regex]::Escape($script:FakeSecret))
        }

        It 'reports unset credential variables clearly' {
            Clear-FakeCredentialEnv
            $run = Invoke-Preflight
            $run.ExitCode | Should -Be 1
            (Get-CheckById 'winrm_session').detail | Should -Match 'DEVTEST_USER, DEVTEST_PASSWORD'
        }
    }
}
