BeforeAll {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
    . (Get-ScriptPath 'winrm_session.ps1')

    $script:V1 = [ordered]@{ 'index.html' = 'v1'; 'bin/app.dll' = 'v1-dll'; 'bin/new.dll' = 'v1-new'; 'web.config' = '<configuration v1/>' }
    $script:V2 = [ordered]@{ 'index.html' = 'v2'; 'bin/app.dll' = 'v2-dll'; 'web.config' = '<configuration v2/>' }

    function Invoke-Deploy {
        param([object]$Layout, [string]$Zip, [string]$Mode = 'Deploy', [hashtable]$Extra = @{})
        $parameters = @{
            Mode = $Mode; ComputerName = 'DevTest'; ArtifactPath = $Zip; StagingDir = $Layout.StagingDir
            DeployDir = $Layout.DeployDir; BackupRoot = $Layout.BackupRoot; ReportsDir = $Layout.ReportsDir
            Pools = 'UserApi,SignerApi'; RetryAttempts = 2; RetryDelayMilliseconds = 0; Confirm = $false
        }
        foreach ($key in $Extra.Keys) { $parameters[$key] = $Extra[$key] }
        return (Invoke-ScriptCaptured -Name 'deploy_zip.ps1' -Parameters $parameters)
    }

    function Invoke-TransferAndDeploy {
        param([object]$Layout, [string]$Zip, [hashtable]$Extra = @{})
        $transfer = Invoke-Deploy -Layout $Layout -Zip $Zip -Mode Transfer
        $transfer.ExitCode | Should -Be 0 -Because $transfer.Text
        return (Invoke-Deploy -Layout $Layout -Zip $Zip -Mode Deploy -Extra $Extra)
    }

    function Get-BackupIds([object]$Layout) {
        if (-not (Test-Path -LiteralPath $Layout.BackupRoot -PathType Container)) { return , ([string[]]@()) }
        # The comma keeps a one-element result an array (PowerShell unrolls what a function returns).
        return , ([string[]]@(Get-ChildItem -LiteralPath $Layout.BackupRoot -Directory | Where-Object { $_.Name -match '^\d{8}_\d{6}$' } | Sort-Object -Property Name | ForEach-Object { $_.Name }))
    }
}

Describe 'deploy_zip.ps1' {
    BeforeEach {
        Set-FakeCredentialEnv
        Use-FakeRemoting
        $layout = New-DeployLayout
        $v0Tree = Get-TreeText $layout.DeployDir
        $zip1 = New-TestZip -Path (Join-Path -Path $layout.ArtifactDir -ChildPath 'WeSign.DevTest.zip') -Entries $script:V1
    }
    AfterEach { Clear-FakeCredentialEnv }

    Context 'when a real zip is transferred and deployed' {
        It 'copies it with Copy-Item -ToSession, verifies the checksum and expands a side folder' {
            $run = Invoke-Deploy -Layout $layout -Zip $zip1 -Mode Transfer
            $run.ExitCode | Should -Be 0 -Because $run.Text
            Should -Invoke -CommandName Copy-Item -ParameterFilter { $null -ne $ToSession } -Times 1 -Exactly
            Test-Path -LiteralPath (Join-Path -Path $layout.StagingDir -ChildPath 'WeSign.DevTest.zip') | Should -BeTrue
            $run.Text | Should -Match ('sha256 verified on the server: ' + (Get-FileHash -LiteralPath $zip1 -Algorithm SHA256).Hash.ToLowerInvariant())
            $side = @(Get-ChildItem -LiteralPath $layout.StagingDir -Directory)
            $side.Count | Should -Be 1
            $side[0].Name | Should -Match '^WeSign\.DevTest\.[0-9a-f]{12}$'
            Get-TreeText $side[0].FullName | Should -Be "bin/app.dll=v1-dll`nbin/new.dll=v1-new`nindex.html=v1`nweb.config=<configuration v1/>"
            $run.Output | ForEach-Object { $_ | Should -Match '^\[transfer\] ' }
            Get-TreeText $layout.DeployDir | Should -Be $v0Tree
        }

        It 'backs up DEPLOY_DIR first, swaps in the new files and writes the manifest and log' {
            $run = Invoke-TransferAndDeploy -Layout $layout -Zip $zip1
            $run.ExitCode | Should -Be 0 -Because $run.Text
            $run.Output | ForEach-Object { $_ | Should -Match '^\[deploy\] ' }

            Get-TreeText $layout.DeployDir | Should -Be "bin/app.dll=v1-dll`nbin/new.dll=v1-new`nindex.html=v1`nweb.config=<configuration v1/>"
            Test-Path -LiteralPath (Join-Path -Path $layout.DeployDir -ChildPath 'app_offline.htm') | Should -BeFalse

            $ids = Get-BackupIds $layout
            $ids.Count | Should -Be 1
            Get-TreeText (Join-Path -Path $layout.BackupRoot -ChildPath $ids[0]) | Should -Be $v0Tree

            $manifest = Get-Content -LiteralPath (Join-Path -Path $layout.ReportsDir -ChildPath 'deploy-manifest.json') -Raw | ConvertFrom-Json
            $manifest.backup_id | Should -Be $ids[0]
            $manifest.backup_path | Should -Be (Join-Path -Path $layout.BackupRoot -ChildPath $ids[0])
            $manifest.deploy_dir | Should -Be $layout.DeployDir
            $manifest.artifact_sha256 | Should -Be (Get-FileHash -LiteralPath $zip1 -Algorithm SHA256).Hash.ToLowerInvariant()
            $manifest.pools | Should -Be @('UserApi', 'SignerApi')
            $manifest.migrations_ran | Should -BeFalse
            $manifest.ok | Should -BeTrue
            $raw = Get-Content -LiteralPath (Join-Path -Path $layout.ReportsDir -ChildPath 'deploy-manifest.json') -Raw
            $raw | Should -Match '"started_at": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"'
            $raw | Should -Match '"finished_at": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"'

            $log = Get-Content -LiteralPath (Join-Path -Path $layout.ReportsDir -ChildPath 'deploy.log')
            ($log -join "`n") | Should -Match '\[transfer\] sha256 verified'
            ($log -join "`n") | Should -Match ('\[deploy\] backup {0} verified' -f $ids[0])
            # The backup message comes before the first change to DEPLOY_DIR.
            $backupLine = [array]::FindIndex([string[]]$log, [Predicate[string]] { param($l) $l -match 'backup \d{8}_\d{6} verified' })
            $offlineLine = [array]::FindIndex([string[]]$log, [Predicate[string]] { param($l) $l -match 'app_offline.htm is up' })
            $backupLine | Should -BeLessThan $offlineLine
        }

        It 'works when the server side runs in a fresh runspace (the script block is self-contained)' {
            Use-IsolatedRemoting
            $run = Invoke-TransferAndDeploy -Layout $layout -Zip $zip1
            $run.ExitCode | Should -Be 0 -Because $run.Text
            Get-TreeText $layout.DeployDir | Should -Be "bin/app.dll=v1-dll`nbin/new.dll=v1-new`nindex.html=v1`nweb.config=<configuration v1/>"
            $run.Text | Should -Match '\[deploy\] backup \d{8}_\d{6} verified'
        }

        It 'changes nothing when the same artifact is deployed a second time' {
            (Invoke-TransferAndDeploy -Layout $layout -Zip $zip1).ExitCode | Should -Be 0
            $treeAfterFirst = Get-TreeText $layout.DeployDir
            $timesAfterFirst = Get-ChildItem -LiteralPath $layout.DeployDir -Recurse -File | Sort-Object -Property FullName | ForEach-Object { '{0}|{1}' -f $_.FullName, $_.LastWriteTimeUtc.Ticks }
            $idsAfterFirst = Get-BackupIds $layout

            $second = Invoke-TransferAndDeploy -Layout $layout -Zip $zip1
            $second.ExitCode | Should -Be 0 -Because $second.Text
            $second.Text | Should -Match 'already holds artifact'
            $second.Text | Should -Match 'already expanded'
            Get-TreeText $layout.DeployDir | Should -Be $treeAfterFirst
            (Get-ChildItem -LiteralPath $layout.DeployDir -Recurse -File | Sort-Object -Property FullName | ForEach-Object { '{0}|{1}' -f $_.FullName, $_.LastWriteTimeUtc.Ticks }) | Should -Be $timesAfterFirst
            Get-BackupIds $layout | Should -Be $idsAfterFirst
            $manifest = Get-Content -LiteralPath (Join-Path -Path $layout.ReportsDir -ChildPath 'deploy-manifest.json') -Raw | ConvertFrom-Json
            $manifest.changed | Should -BeFalse
            $manifest.backup_id | Should -Be $idsAfterFirst[0]
        }

        It 'keeps only the newest -KeepBackups backups' {
            (Invoke-TransferAndDeploy -Layout $layout -Zip $zip1 -Extra @{ KeepBackups = 2 }).ExitCode | Should -Be 0
            $zip2 = New-TestZip -Path (Join-Path -Path $layout.Root -ChildPath 'v2/WeSign.DevTest.zip') -Entries $script:V2
            (Invoke-TransferAndDeploy -Layout $layout -Zip $zip2 -Extra @{ KeepBackups = 2 }).ExitCode | Should -Be 0
            $zip3 = New-TestZip -Path (Join-Path -Path $layout.Root -ChildPath 'v3/WeSign.DevTest.zip') -Entries @{ 'index.html' = 'v3' }
            $third = Invoke-TransferAndDeploy -Layout $layout -Zip $zip3 -Extra @{ KeepBackups = 2 }
            $third.ExitCode | Should -Be 0 -Because $third.Text
            $ids = Get-BackupIds $layout
            $ids.Count | Should -Be 2
            # The oldest (the v0 backup) went; the newest two hold v1 and v2.
            Get-TreeText (Join-Path -Path $layout.BackupRoot -ChildPath $ids[1]) | Should -Match 'index.html=v2'
            Get-TreeText (Join-Path -Path $layout.BackupRoot -ChildPath $ids[0]) | Should -Match 'index.html=v1'
            $third.Text | Should -Match 'removed old backup'
            Get-TreeText $layout.DeployDir | Should -Be 'index.html=v3'
        }
    }

    Context 'when the swap fails half-way (a file stays locked)' {
        It 'restores DEPLOY_DIR from the backup, removes app_offline.htm and exits 1' {
            (Invoke-Deploy -Layout $layout -Zip $zip1 -Mode Transfer).ExitCode | Should -Be 0
            $deployDir = $layout.DeployDir
            Mock -CommandName Copy-Item -ParameterFilter { $Destination -like "$deployDir*" -and $Destination -like '*new.dll' } -MockWith {
                throw 'The process cannot access the file because it is being used by another process.'
            }
            $run = Invoke-Deploy -Layout $layout -Zip $zip1
            $run.ExitCode | Should -Be 1
            $run.Text | Should -Match 'copy bin/new.dll failed \(attempt 1/2\)'
            $run.Text | Should -Match '\[deploy\] ERROR: deploy failed: copy bin/new.dll failed after 2 attempt\(s\).*DEPLOY_DIR was restored from backup \d{8}_\d{6}'
            Get-TreeText $layout.DeployDir | Should -Be $v0Tree
            Test-Path -LiteralPath (Join-Path -Path $layout.DeployDir -ChildPath 'app_offline.htm') | Should -BeFalse
            $manifest = Get-Content -LiteralPath (Join-Path -Path $layout.ReportsDir -ChildPath 'deploy-manifest.json') -Raw | ConvertFrom-Json
            $manifest.ok | Should -BeFalse
            $manifest.backup_id | Should -Be (Get-BackupIds $layout)[0]
            $manifest.error | Should -Match 'restored from backup'
        }

        It 'retries a file that is locked once and then deploys' {
            (Invoke-Deploy -Layout $layout -Zip $zip1 -Mode Transfer).ExitCode | Should -Be 0
            $deployDir = $layout.DeployDir
            $script:lockedOnce = $false
            Mock -CommandName Copy-Item -ParameterFilter { $Destination -like "$deployDir*" -and $Destination -like '*app.dll' -and -not $script:lockedOnce } -MockWith {
                $script:lockedOnce = $true
                throw 'The process cannot access the file because it is being used by another process.'
            }
            $run = Invoke-Deploy -Layout $layout -Zip $zip1
            $run.ExitCode | Should -Be 0 -Because $run.Text
            $run.Text | Should -Match 'copy bin/app.dll failed \(attempt 1/2\).*retrying'
            Get-TreeText $layout.DeployDir | Should -Match 'bin/app.dll=v1-dll'
        }
    }

    Context 'when the expand on the server fails' {
        It 'removes the partial side folder and leaves DEPLOY_DIR untouched' {
            # 'a' is a file, so 'a/b.txt' cannot be written: a real extraction failure.
            $broken = New-TestZip -Path (Join-Path -Path $layout.Root -ChildPath 'broken/WeSign.DevTest.zip') -Entries ([ordered]@{ 'a' = 'file'; 'a/b.txt' = 'under a file' })
            $run = Invoke-Deploy -Layout $layout -Zip $broken -Mode Transfer
            $run.ExitCode | Should -Be 1
            $run.Text | Should -Match "\[transfer\] ERROR: expanding .* failed"
            @(Get-ChildItem -LiteralPath $layout.StagingDir -Directory).Count | Should -Be 0
            Get-TreeText $layout.DeployDir | Should -Be $v0Tree
            $deploy = Invoke-Deploy -Layout $layout -Zip $broken
            $deploy.ExitCode | Should -Be 1
            Get-TreeText $layout.DeployDir | Should -Be $v0Tree
            Get-BackupIds $layout | Should -BeNullOrEmpty
        }
    }

    Context 'when the backup cannot be made' {
        It 'does not touch DEPLOY_DIR (no backup, no deploy)' {
            (Invoke-Deploy -Layout $layout -Zip $zip1 -Mode Transfer).ExitCode | Should -Be 0
            # BACKUP_ROOT is a file: creating the backup folder fails for real.
            $null = New-Item -ItemType Directory -Path (Split-Path -Path $layout.BackupRoot -Parent) -Force
            Set-Content -LiteralPath $layout.BackupRoot -Value 'not a folder'
            $before = Get-ChildItem -LiteralPath $layout.DeployDir -Recurse -File | Sort-Object -Property FullName | ForEach-Object { '{0}|{1}' -f $_.FullName, $_.LastWriteTimeUtc.Ticks }
            $run = Invoke-Deploy -Layout $layout -Zip $zip1
            $run.ExitCode | Should -Be 1
            $run.Text | Should -Match '\[deploy\] ERROR: no backup, no deploy: .*DEPLOY_DIR was not changed'
            Get-TreeText $layout.DeployDir | Should -Be $v0Tree
            (Get-ChildItem -LiteralPath $layout.DeployDir -Recurse -File | Sort-Object -Property FullName | ForEach-Object { '{0}|{1}' -f $_.FullName, $_.LastWriteTimeUtc.Ticks }) | Should -Be $before
            $manifest = Get-Content -LiteralPath (Join-Path -Path $layout.ReportsDir -ChildPath 'deploy-manifest.json') -Raw | ConvertFrom-Json
            $manifest.ok | Should -BeFalse
            $manifest.backup_id | Should -BeNullOrEmpty
        }
    }

    Context 'with -TransferMethod Robocopy' {
        BeforeEach {
            # The server-side steps are covered above; here they only answer, so that the SMB path
            # (net use, robocopy, net use /delete) is what is under test, with Windows paths.
            Mock -CommandName Invoke-OnTarget -MockWith {
                '[transfer] (server side: {0})' -f $EntryPoint
                New-StageResult -Property @{ SidePath = 'C:\deploy\WeSign.DevTest.0123456789ab'; StagingDir = 'C:\deploy' }
            }
            Mock -CommandName Invoke-NativeCommand -MockWith { }
            $robocopyParameters = @{ TransferMethod = 'Robocopy'; StagingDir = 'C:\deploy'; DeployDir = 'C:\inetpub\WeSign'; BackupRoot = 'C:\backup\WeSign' }
        }

        It 'maps \\DevTest\C$ with the credential, robocopies into C:\deploy, disconnects and never prints the password' {
            Mock -CommandName Invoke-Robocopy -MockWith { '[transfer] robocopy exit code 1: one or more files were copied (1)' }
            $run = Invoke-Deploy -Layout $layout -Zip $zip1 -Mode Transfer -Extra $robocopyParameters
            $run.ExitCode | Should -Be 0 -Because $run.Text
            Should -Invoke -CommandName Invoke-NativeCommand -Times 1 -Exactly -ParameterFilter {
                $ArgumentList[0] -eq 'use' -and $ArgumentList[1] -eq '\\DevTest\C$' -and $ArgumentList[2] -eq '/user:EXAMPLE\svc-devtest' -and $ArgumentList[3] -eq $script:FakeSecret -and $DisplayArguments -notmatch [regex]::Escape($script:FakeSecret)
            }
            Should -Invoke -CommandName Invoke-Robocopy -Times 1 -Exactly -ParameterFilter { $Destination -eq '\\DevTest\C$\deploy' -and $File -contains 'WeSign.DevTest.zip' -and $Source -eq $layout.ArtifactDir }
            Should -Invoke -CommandName Invoke-NativeCommand -Times 1 -Exactly -ParameterFilter { $ArgumentList -contains '/delete' }
            Should -Invoke -CommandName Invoke-OnTarget -Times 1 -Exactly -ParameterFilter { $EntryPoint -eq 'Expand-ArtifactOnTarget' -and $Parameters.Sha256 -eq (Get-FileHash -LiteralPath $zip1 -Algorithm SHA256).Hash.ToLowerInvariant() }
            Should -Invoke -CommandName Copy-Item -ParameterFilter { $null -ne $ToSession } -Times 0 -Exactly
            $run.Text | Should -Match 'robocopy exit code 1'
            $run.Text | Should -Not -Match ([regex]::Escape($script:FakeSecret))
        }

        It 'disconnects the share even when robocopy fails (exit code 8 or more), and does not expand' {
            Mock -CommandName Invoke-Robocopy -MockWith { throw 'robocopy failed with exit code 8: some files or folders could not be copied (copy errors, retries exhausted) (8)' }
            $run = Invoke-Deploy -Layout $layout -Zip $zip1 -Mode Transfer -Extra $robocopyParameters
            $run.ExitCode | Should -Be 1
            $run.Text | Should -Match '\[transfer\] ERROR: robocopy failed with exit code 8'
            Should -Invoke -CommandName Invoke-NativeCommand -Times 1 -Exactly -ParameterFilter { $ArgumentList -contains '/delete' }
            Should -Invoke -CommandName Invoke-OnTarget -Times 0 -Exactly -ParameterFilter { $EntryPoint -eq 'Expand-ArtifactOnTarget' }
        }

        It 'refuses a StagingDir that is not on a drive' {
            $run = Invoke-Deploy -Layout $layout -Zip $zip1 -Mode Transfer -Extra @{ TransferMethod = 'Robocopy'; StagingDir = '\\DevTest\share\deploy'; DeployDir = 'C:\inetpub\WeSign'; BackupRoot = 'C:\backup\WeSign' }
            $run.ExitCode | Should -Be 1
            $run.Text | Should -Match 'needs a drive path for -StagingDir'
        }
    }

    Context 'when the zip has entries that escape the folder (zip slip)' {
        It 'refuses it before anything is written, locally or on the server' {
            $evil = New-TestZip -Path (Join-Path -Path $layout.Root -ChildPath 'evil/WeSign.DevTest.zip') -Entries ([ordered]@{ 'index.html' = 'ok'; '..\evil.txt' = 'x'; '../../evil2.txt' = 'y' })
            $run = Invoke-Deploy -Layout $layout -Zip $evil -Mode Transfer
            $run.ExitCode | Should -Be 1
            $run.Text | Should -Match "\[transfer\] ERROR: refusing .*zip slip.*\.\.\\evil\.txt"
            Should -Invoke -CommandName Copy-Item -ParameterFilter { $null -ne $ToSession } -Times 0 -Exactly
            Should -Invoke -CommandName New-PSSession -Times 0 -Exactly
            Test-Path -LiteralPath $layout.StagingDir | Should -BeFalse
            @(Get-ChildItem -LiteralPath $TestDrive -Recurse -Filter 'evil*.txt').Count | Should -Be 0
        }
    }

    Context 'when EF migrations are enabled' {
        It 'runs the command in DEPLOY_DIR with the DB account from the environment and records migrations_ran' {
            $env:DB_MIGRATION_USER = 'example-db-user'
            $env:DB_MIGRATION_PASSWORD = $script:FakeDbSecret
            (Invoke-Deploy -Layout $layout -Zip $zip1 -Mode Transfer).ExitCode | Should -Be 0
            $command = 'printf "%s" "$DB_MIGRATION_USER" > migrated-by.txt; echo "connecting with password $DB_MIGRATION_PASSWORD"'
            $run = Invoke-Deploy -Layout $layout -Zip $zip1 -Extra @{ RunMigrations = $true; MigrationCommand = $command; PreservePaths = @('migrated-by.txt') }
            $run.ExitCode | Should -Be 0 -Because $run.Text
            Get-Content -LiteralPath (Join-Path -Path $layout.DeployDir -ChildPath 'migrated-by.txt') -Raw | Should -Be 'example-db-user'
            $run.Text | Should -Match 'migrations: connecting with password \*\*\*'
            $run.Text | Should -Not -Match ([regex]::Escape($script:FakeDbSecret))
            $manifest = Get-Content -LiteralPath (Join-Path -Path $layout.ReportsDir -ChildPath 'deploy-manifest.json') -Raw | ConvertFrom-Json
            $manifest.migrations_ran | Should -BeTrue
            (Get-Content -LiteralPath (Join-Path -Path $layout.ReportsDir -ChildPath 'deploy.log') -Raw) | Should -Not -Match ([regex]::Escape($script:FakeDbSecret))
            $env:DB_MIGRATION_PASSWORD | Should -Be $script:FakeDbSecret
        }

        It 'restores the code when the migration command fails, and says the database may have changed' {
            $env:DB_MIGRATION_USER = 'example-db-user'
            $env:DB_MIGRATION_PASSWORD = $script:FakeDbSecret
            (Invoke-Deploy -Layout $layout -Zip $zip1 -Mode Transfer).ExitCode | Should -Be 0
            $run = Invoke-Deploy -Layout $layout -Zip $zip1 -Extra @{ RunMigrations = $true; MigrationCommand = 'echo "applying 20261201_AddSigners" >&2; exit 3' }
            $run.ExitCode | Should -Be 1
            $run.Text | Should -Match 'migrations: applying 20261201_AddSigners'
            $run.Text | Should -Match 'migration command failed with exit code 3'
            $run.Text | Should -Match 'restored from backup \d{8}_\d{6}\. WARNING: the migration command ran; restoring the code does not undo database changes'
            Get-TreeText $layout.DeployDir | Should -Be $v0Tree
            $manifest = Get-Content -LiteralPath (Join-Path -Path $layout.ReportsDir -ChildPath 'deploy-manifest.json') -Raw | ConvertFrom-Json
            $manifest.migrations_ran | Should -BeTrue
            $manifest.ok | Should -BeFalse
        }

        It 'fails before contacting the server when the DB credential is not bound' {
            (Invoke-Deploy -Layout $layout -Zip $zip1 -Mode Transfer).ExitCode | Should -Be 0
            Remove-Item -Path Env:DB_MIGRATION_USER, Env:DB_MIGRATION_PASSWORD -ErrorAction SilentlyContinue
            $run = Invoke-Deploy -Layout $layout -Zip $zip1 -Extra @{ RunMigrations = $true; MigrationCommand = 'true' }
            $run.ExitCode | Should -Be 1
            $run.Text | Should -Match 'DB_MIGRATION_USER, DB_MIGRATION_PASSWORD'
            Should -Invoke -CommandName Invoke-Command -Times 2 -Exactly
            Get-TreeText $layout.DeployDir | Should -Be $v0Tree
        }
    }

    Context 'when the folders are dangerous' {
        It 'refuses a BACKUP_ROOT inside DEPLOY_DIR' {
            $run = Invoke-Deploy -Layout $layout -Zip $zip1 -Extra @{ BackupRoot = (Join-Path -Path $layout.DeployDir -ChildPath 'backup') }
            $run.ExitCode | Should -Be 1
            $run.Text | Should -Match 'overlap'
            Should -Invoke -CommandName New-PSSession -Times 0 -Exactly
        }

        It 'refuses a drive root as DEPLOY_DIR' {
            $run = Invoke-Deploy -Layout $layout -Zip $zip1 -Extra @{ DeployDir = 'C:\' }
            $run.ExitCode | Should -Be 1
            $run.Text | Should -Match "-DeployDir 'C:\\' is a drive or share root"
        }
    }

    It 'never prints the WinRM password' {
        $transfer = Invoke-Deploy -Layout $layout -Zip $zip1 -Mode Transfer
        $deploy = Invoke-Deploy -Layout $layout -Zip $zip1
        $deploy.ExitCode | Should -Be 0
        ($transfer.Text + $deploy.Text) | Should -Not -Match ([regex]::Escape($script:FakeSecret))
        Get-ChildItem -LiteralPath $layout.ReportsDir -File | ForEach-Object { Get-Content -LiteralPath $_.FullName -Raw | Should -Not -Match ([regex]::Escape($script:FakeSecret)) }
    }
}
