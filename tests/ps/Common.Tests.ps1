BeforeAll {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
    . (Get-ScriptPath 'common.ps1')
    . (Get-ScriptPath 'target_ops.ps1')

    # A stand-in robocopy: a real executable whose exit code the test chooses.
    $script:fakeRobocopy = Join-Path -Path $TestDrive -ChildPath 'robocopy'
    Set-Content -LiteralPath $script:fakeRobocopy -Value "#!/bin/sh`necho `"fake robocopy `$*`"`nexit `${FAKE_ROBOCOPY_EXIT:-0}`n" -NoNewline
    & chmod +x $script:fakeRobocopy
}
AfterAll { Remove-Item -Path Env:FAKE_ROBOCOPY_EXIT -ErrorAction SilentlyContinue }

Describe 'robocopy exit codes (Invoke-Robocopy, Get-RobocopyExitCodeMeaning)' {
    It 'treats exit code <_> as success' -ForEach @(0, 1, 2, 3, 4, 5, 6, 7) {
        $env:FAKE_ROBOCOPY_EXIT = [string]$_
        $lines = Invoke-Robocopy -Source '/src' -Destination '/dst' -File 'WeSign.DevTest.zip' -RobocopyPath $script:fakeRobocopy -Confirm:$false
        ($lines -join "`n") | Should -Match ("robocopy exit code {0}:" -f $_)
        ($lines -join "`n") | Should -Match 'fake robocopy /src /dst WeSign.DevTest.zip'
    }

    It 'throws on exit code <_> with the meaning of each bit' -ForEach @(8, 9, 16, 24) {
        $env:FAKE_ROBOCOPY_EXIT = [string]$_
        { Invoke-Robocopy -Source '/src' -Destination '/dst' -RobocopyPath $script:fakeRobocopy -Confirm:$false } | Should -Throw -ExpectedMessage ("robocopy failed with exit code {0}:*" -f $_)
    }

    It 'names every bit that is set' {
        $m = Get-RobocopyExitCodeMeaning -ExitCode 11
        $m.Success | Should -BeFalse
        ($m.Meanings -join '|') | Should -Match 'files were copied \(1\)'
        ($m.Meanings -join '|') | Should -Match 'extra files or folders .* \(2\)'
        ($m.Meanings -join '|') | Should -Match 'could not be copied .* \(8\)'
        (Get-RobocopyExitCodeMeaning -ExitCode 0).Meanings | Should -Match 'already in sync'
        (Get-RobocopyExitCodeMeaning -ExitCode 7).Success | Should -BeTrue
    }
}

Describe 'zip slip protection' {
    It 'refuses <_> before creating the destination' -ForEach @('..\evil.txt', '../evil.txt', 'a/../../evil.txt', '/etc/evil.txt', '\evil.txt', 'C:\Windows\evil.txt', 'C:evil.txt') {
        $zip = New-TestZip -Path (Join-Path -Path $TestDrive -ChildPath ('slip-{0}.zip' -f [guid]::NewGuid().ToString('N'))) -Entries ([ordered]@{ 'ok.txt' = 'fine'; $_ = 'bad' })
        $destination = Join-Path -Path $TestDrive -ChildPath ('out-{0}' -f [guid]::NewGuid().ToString('N'))
        { Expand-ZipSafely -ZipPath $zip -Destination $destination } | Should -Throw -ExpectedMessage '*zip slip*'
        Test-Path -LiteralPath $destination | Should -BeFalse
    }

    It 'extracts a normal zip, including backslash-separated and nested entries' {
        $zip = New-TestZip -Path (Join-Path -Path $TestDrive -ChildPath 'normal.zip') -Entries ([ordered]@{ 'bin\app.dll' = 'dll'; 'wwwroot/css/site.css' = 'css'; 'web.config' = 'cfg' })
        $destination = Join-Path -Path $TestDrive -ChildPath 'normal-out'
        Expand-ZipSafely -ZipPath $zip -Destination $destination
        Get-TreeText $destination | Should -Be "bin/app.dll=dll`nweb.config=cfg`nwwwroot/css/site.css=css"
    }

    It 'says clearly when the file is not a zip' {
        $bad = Join-Path -Path $TestDrive -ChildPath 'not-a.zip'
        Set-Content -LiteralPath $bad -Value 'plain text'
        { Assert-ZipIsSafe -ZipPath $bad } | Should -Throw -ExpectedMessage '*is not a readable zip file*'
    }
}

Describe 'ConvertTo-NameList (pools from Jenkins)' {
    It 'accepts an array, a comma-separated string, or both, trimmed and de-duplicated' {
        $fromArray = ConvertTo-NameList -Value @('UserApi', 'SignerApi')
        $fromArray | Should -Be @('UserApi', 'SignerApi')
        $fromString = ConvertTo-NameList -Value 'UserApi, SignerApi ,ManagementApi'
        $fromString | Should -Be @('UserApi', 'SignerApi', 'ManagementApi')
        $mixed = ConvertTo-NameList -Value @('UserApi,SignerApi', 'userapi', 'DefaultAppPool')
        $mixed | Should -Be @('UserApi', 'SignerApi', 'DefaultAppPool')
        (ConvertTo-NameList -Value 'PdfConvertorService').GetType().Name | Should -Be 'String[]'
    }

    It 'rejects an empty list and a name with metacharacters' {
        { ConvertTo-NameList -Value @(' , ') -What 'app pool' } | Should -Throw -ExpectedMessage 'no app pool given*'
        { ConvertTo-NameList -Value 'a$(whoami)' -What 'app pool' } | Should -Throw -ExpectedMessage "invalid app pool 'a`$(whoami)'*"
    }
}

Describe 'Write-JsonFile' {
    It 'keeps one-element arrays as arrays, nests deeply and writes UTF-8 without BOM' {
        $path = Join-Path -Path $TestDrive -ChildPath 'json/out.json'
        Write-JsonFile -Path $path -InputObject ([ordered]@{ pools = @('UserApi'); deep = @{ a = @{ b = @{ c = @{ d = 'e' } } } } })
        $bytes = [System.IO.File]::ReadAllBytes($path)
        $bytes[0] | Should -Be ([byte][char]'{')
        $text = [System.IO.File]::ReadAllText($path)
        $text | Should -Match '"pools": \[\s*"UserApi"\s*\]'
        (ConvertFrom-Json -InputObject $text).deep.a.b.c.d | Should -Be 'e'
    }
}

Describe 'Write-StageLog' {
    It 'prefixes every line with the stage marker and masks registered secrets' {
        Register-StageSecret -Value 'fake-secret-example-99'
        $lines = Write-StageLog -Stage 'deploy' -Message "first line`nsecond fake-secret-example-99 line"
        $lines | Should -Be @('[deploy] first line', '[deploy] second *** line')
    }
}

Describe 'Sync-FolderMirror' {
    It 'makes the destination equal to the source but leaves kept paths alone' {
        $src = Join-Path -Path $TestDrive -ChildPath 'mirror-src'
        $dst = Join-Path -Path $TestDrive -ChildPath 'mirror-dst'
        foreach ($pair in @(@($src, 'a.txt', 'A'), @($src, 'sub/b.txt', 'B'), @($dst, 'a.txt', 'old'), @($dst, 'gone/c.txt', 'C'), @($dst, 'logs/keep.log', 'L'))) {
            $file = Join-Path -Path $pair[0] -ChildPath $pair[1]
            $null = New-Item -ItemType Directory -Path (Split-Path -Path $file -Parent) -Force
            Set-Content -LiteralPath $file -Value $pair[2] -NoNewline
        }
        $null = Sync-FolderMirror -Source $src -Destination $dst -Keep @('logs') -RetryDelayMilliseconds 0 -Confirm:$false
        Get-TreeText $dst | Should -Be "a.txt=A`nlogs/keep.log=L`nsub/b.txt=B"
        Test-Path -LiteralPath (Join-Path -Path $dst -ChildPath 'gone') | Should -BeFalse
    }
}

Describe 'Assert-DeployPaths' {
    It 'accepts the usual DevTest folders' {
        { Assert-DeployPaths -Paths ([ordered]@{ DeployDir = 'C:\inetpub\WeSign'; BackupRoot = 'C:\backup\WeSign'; StagingDir = 'C:\deploy' }) } | Should -Not -Throw
    }
    It 'refuses <Name>' -ForEach @(
        @{ Name = 'a relative path'; Paths = [ordered]@{ DeployDir = 'inetpub\WeSign' }; Message = '*not a full path*' }
        @{ Name = 'a drive root'; Paths = [ordered]@{ DeployDir = 'D:\' }; Message = '*drive or share root*' }
        @{ Name = 'a share root'; Paths = [ordered]@{ DeployDir = '\\DevTest\c$' }; Message = '*drive or share root*' }
        @{ Name = 'dot-dot'; Paths = [ordered]@{ DeployDir = 'C:\inetpub\..\Windows' }; Message = "*contains '..'*" }
        @{ Name = 'a backup inside the site'; Paths = [ordered]@{ DeployDir = 'C:\inetpub\WeSign'; BackupRoot = 'c:\inetpub\wesign\backup' }; Message = '*overlap*' }
        @{ Name = 'the site inside staging'; Paths = [ordered]@{ DeployDir = 'C:\deploy\site'; StagingDir = 'C:\deploy' }; Message = '*overlap*' }
    ) {
        { Assert-DeployPaths -Paths $Paths } | Should -Throw -ExpectedMessage $Message
    }
}
