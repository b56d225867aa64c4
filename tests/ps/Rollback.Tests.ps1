BeforeAll {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
    . (Get-ScriptPath 'winrm_session.ps1')
    $script:server = Start-SmokeServer
    $script:base = $script:server.BaseUrl

    function Invoke-Release {
        <# Transfer + deploy one version, as the Jenkinsfile does. #>
        param([object]$Layout, [System.Collections.IDictionary]$Entries, [string]$Name, [hashtable]$Extra = @{})
        $zip = New-TestZip -Path (Join-Path -Path $Layout.Root -ChildPath "$Name/WeSign.DevTest.zip") -Entries $Entries
        foreach ($mode in @('Transfer', 'Deploy')) {
            $parameters = @{
                Mode = $mode; ComputerName = 'DevTest'; ArtifactPath = $zip; StagingDir = $Layout.StagingDir
                DeployDir = $Layout.DeployDir; BackupRoot = $Layout.BackupRoot; ReportsDir = $Layout.ReportsDir
                RetryAttempts = 1; RetryDelayMilliseconds = 0; Confirm = $false
            }
            if ($mode -eq 'Deploy') { foreach ($key in $Extra.Keys) { $parameters[$key] = $Extra[$key] } }
            $run = Invoke-ScriptCaptured -Name 'deploy_zip.ps1' -Parameters $parameters
            $run.ExitCode | Should -Be 0 -Because $run.Text
        }
    }

    function Invoke-Rollback([object]$Layout, [hashtable]$Extra = @{}) {
        $parameters = @{
            ComputerName = 'DevTest'; Pools = 'UserApi,SignerApi'; DeployDir = $Layout.DeployDir; BackupRoot = $Layout.BackupRoot
            SmokeUrls = ('{0}/{1}' -f $script:base, (New-UniquePath 'ok')); ReportsDir = $Layout.ReportsDir
            PollMilliseconds = 50; SmokeBackoffSeconds = 0; RetryDelayMilliseconds = 0; Confirm = $false
        }
        foreach ($key in $Extra.Keys) { $parameters[$key] = $Extra[$key] }
        return (Invoke-ScriptCaptured -Name 'rollback.ps1' -Parameters $parameters)
    }
}
AfterAll { Stop-SmokeServer $script:server }

Describe 'rollback.ps1' {
    BeforeEach {
        Set-FakeCredentialEnv
        Use-FakeRemoting
        $null = New-FakeIis -Pools ([ordered]@{ UserApi = 'Started'; SignerApi = 'Started' })
        $layout = New-DeployLayout
        Invoke-Release -Layout $layout -Entries ([ordered]@{ 'index.html' = 'v1'; 'bin/app.dll' = 'v1-dll' }) -Name 'v1'
        Invoke-Release -Layout $layout -Entries ([ordered]@{ 'index.html' = 'v2'; 'bin/app.dll' = 'v2-dll'; 'bin/extra.dll' = 'v2-only' }) -Name 'v2'
        Get-TreeText $layout.DeployDir | Should -Be "bin/app.dll=v2-dll`nbin/extra.dll=v2-only`nindex.html=v2"
        $backups = @(Get-ChildItem -LiteralPath $layout.BackupRoot -Directory | Sort-Object -Property Name)
    }
    AfterEach { Clear-FakeCredentialEnv }

    It 'restores the newest backup, starts the pools, re-smokes and writes rollback.json' {
        $run = Invoke-Rollback -Layout $layout
        $run.ExitCode | Should -Be 0 -Because $run.Text
        $run.Output | ForEach-Object { $_ | Should -Match '^\[rollback\] ' }
        # The newest backup was taken just before v2 went in: it holds v1.
        Get-TreeText $layout.DeployDir | Should -Be "bin/app.dll=v1-dll`nindex.html=v1"
        Test-Path -LiteralPath (Join-Path -Path $layout.DeployDir -ChildPath 'app_offline.htm') | Should -BeFalse
        Get-FakePoolState 'UserApi' | Should -Be 'Started'
        (Get-FakeIisState).calls | Should -Be @('Stop-WebAppPool UserApi', 'Stop-WebAppPool SignerApi', 'Start-WebAppPool UserApi', 'Start-WebAppPool SignerApi')
        $json = Get-Content -LiteralPath (Join-Path -Path $layout.ReportsDir -ChildPath 'rollback.json') -Raw | ConvertFrom-Json
        $json.backup_id | Should -Be $backups[-1].Name
        $json.smoke_ok | Should -BeTrue
        $json.ok | Should -BeTrue
        $json.pools | Should -Be @('UserApi', 'SignerApi')
        $json.migrations_warning | Should -BeNullOrEmpty
        (Get-Content -LiteralPath (Join-Path -Path $layout.ReportsDir -ChildPath 'rollback.json') -Raw) | Should -Match '"restored_at": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"'
        Test-Path -LiteralPath (Join-Path -Path $layout.ReportsDir -ChildPath 'smoke_rollback.json') | Should -BeTrue
    }

    It 'restores a named backup with -BackupId' {
        $run = Invoke-Rollback -Layout $layout -Extra @{ BackupId = $backups[-1].Name }
        $run.ExitCode | Should -Be 0 -Because $run.Text
        (Get-Content -LiteralPath (Join-Path -Path $layout.ReportsDir -ChildPath 'rollback.json') -Raw | ConvertFrom-Json).backup_id | Should -Be $backups[-1].Name
    }

    It 'refuses the empty backup taken before the very first deployment' {
        $layout2 = New-DeployLayout -Initial @{}
        Invoke-Release -Layout $layout2 -Entries ([ordered]@{ 'index.html' = 'first' }) -Name 'first'
        $run = Invoke-Rollback -Layout $layout2
        $run.ExitCode | Should -Be 1
        $run.Text | Should -Match 'is empty \(it was taken before the first deployment\)'
        Get-TreeText $layout2.DeployDir | Should -Be 'index.html=first'
    }

    It 'fails with the list of backups for an unknown -BackupId and changes nothing' {
        $run = Invoke-Rollback -Layout $layout -Extra @{ BackupId = '19990101_000000' }
        $run.ExitCode | Should -Be 1
        $run.Text | Should -Match "backup '19990101_000000' not found .*Available: $($backups[-1].Name)"
        Get-TreeText $layout.DeployDir | Should -Match 'index.html=v2'
        (Get-Content -LiteralPath (Join-Path -Path $layout.ReportsDir -ChildPath 'rollback.json') -Raw | ConvertFrom-Json).ok | Should -BeFalse
    }

    It 'exits 1 with smoke_ok false when the re-smoke still fails' {
        $run = Invoke-Rollback -Layout $layout -Extra @{ SmokeUrls = ('{0}/{1}' -f $script:base, (New-UniquePath 'down')); SmokeRetries = 1 }
        $run.ExitCode | Should -Be 1
        $run.Text | Should -Match 'rollback_failed'
        $json = Get-Content -LiteralPath (Join-Path -Path $layout.ReportsDir -ChildPath 'rollback.json') -Raw | ConvertFrom-Json
        $json.smoke_ok | Should -BeFalse
        $json.backup_id | Should -Be $backups[-1].Name
    }

    It 'warns loudly when the deployment being undone ran EF migrations' {
        $env:DB_MIGRATION_USER = 'example-db-user'
        $env:DB_MIGRATION_PASSWORD = $script:FakeDbSecret
        Invoke-Release -Layout $layout -Entries ([ordered]@{ 'index.html' = 'v3' }) -Name 'v3' -Extra @{ RunMigrations = $true; MigrationCommand = 'true' }
        $run = Invoke-Rollback -Layout $layout
        $run.ExitCode | Should -Be 0 -Because $run.Text
        $run.Text | Should -Match 'WARNING: DATABASE NOT ROLLED BACK: .*ran EF database migrations: restoring the code does NOT undo the database'
        $json = Get-Content -LiteralPath (Join-Path -Path $layout.ReportsDir -ChildPath 'rollback.json') -Raw | ConvertFrom-Json
        $json.migrations_warning | Should -Match 'does NOT undo the database'
        Get-TreeText $layout.DeployDir | Should -Match 'index.html=v2'
    }

    It 'lets the same artifact be deployed again after a rollback (not skipped as already deployed)' {
        (Invoke-Rollback -Layout $layout).ExitCode | Should -Be 0
        Invoke-Release -Layout $layout -Entries ([ordered]@{ 'index.html' = 'v2'; 'bin/app.dll' = 'v2-dll'; 'bin/extra.dll' = 'v2-only' }) -Name 'v2'
        Get-TreeText $layout.DeployDir | Should -Be "bin/app.dll=v2-dll`nbin/extra.dll=v2-only`nindex.html=v2"
    }
}
