BeforeAll {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
    . (Get-ScriptPath 'winrm_session.ps1')
}

Describe 'Get-DevTestCredential' {
    AfterEach { Clear-FakeCredentialEnv }

    It 'builds the credential from DEVTEST_USER / DEVTEST_PASSWORD' {
        Set-FakeCredentialEnv
        $credential = Get-DevTestCredential
        $credential | Should -BeOfType [pscredential]
        $credential.UserName | Should -Be 'EXAMPLE\svc-devtest'
        $credential.GetNetworkCredential().Password | Should -Be $script:FakeSecret
    }

    It 'names the missing variables and the withCredentials fix, without any value' {
        $env:DEVTEST_USER = 'EXAMPLE\svc-devtest'
        { Get-DevTestCredential } | Should -Throw -ExpectedMessage "*not set: DEVTEST_PASSWORD*withCredentials*svc-devtest*"
    }

    It 'reads other variables when asked (the DB migration account)' {
        $env:DB_MIGRATION_USER = 'example-db'
        $env:DB_MIGRATION_PASSWORD = $script:FakeDbSecret
        (Get-DevTestCredential -UserEnv DB_MIGRATION_USER -PasswordEnv DB_MIGRATION_PASSWORD).UserName | Should -Be 'example-db'
    }
}

Describe 'New-DevTestSession' {
    BeforeEach {
        Set-FakeCredentialEnv
        Use-FakeRemoting
    }
    AfterEach { Clear-FakeCredentialEnv }

    It 'uses HTTPS on 5986 with certificate checks by default, and returns only the session' {
        $output = @(New-DevTestSession -ComputerName 'DevTest')
        $output.Count | Should -Be 1
        $output[0] | Should -BeOfType [System.Management.Automation.Runspaces.PSSession]
        Should -Invoke -CommandName New-PSSession -Times 1 -Exactly -ParameterFilter {
            $UseSSL -and $Port -eq 5986 -and $ComputerName -eq 'DevTest' -and $Credential.UserName -eq 'EXAMPLE\svc-devtest' -and
            -not $SessionOption.SkipCACheck -and -not $SessionOption.SkipCNCheck
        }
    }

    It 'uses HTTP on 5985 only with -AllowHttpLab' {
        $null = New-DevTestSession -ComputerName 'DevTest' -AllowHttpLab
        Should -Invoke -CommandName New-PSSession -Times 1 -Exactly -ParameterFilter { -not $UseSSL -and $Port -eq 5985 }
    }

    It 'skips certificate checks only with -SkipCertificateCheckLab' {
        $null = New-DevTestSession -ComputerName 'DevTest' -SkipCertificateCheckLab
        Should -Invoke -CommandName New-PSSession -Times 1 -Exactly -ParameterFilter { $UseSSL -and $SessionOption.SkipCACheck -and $SessionOption.SkipCNCheck }
    }

    It 'reports a closed port without trying WinRM' {
        Mock -CommandName Test-TcpPort -MockWith { $false }
        { New-DevTestSession -ComputerName 'DevTest' } | Should -Throw -ExpectedMessage 'WinRM port closed or host unreachable at https://DevTest:5986*Fix:*5986*'
        Should -Invoke -CommandName New-PSSession -Times 0 -Exactly
    }

    It 'gives a distinct message for <Kind>' -ForEach @(
        @{ Kind = 'authentication'; Error = 'Connecting to remote server DevTest failed with the following error message : Access is denied.'; Expected = '*authentication refused*svc-devtest*' }
        @{ Kind = 'an untrusted certificate'; Error = 'The server certificate on the destination computer (DevTest:5986) has the following errors: The SSL certificate is signed by an unknown certificate authority.'; Expected = '*certificate not trusted*Trusted Root*' }
        @{ Kind = 'a CN mismatch'; Error = 'The SSL certificate contains a common name (CN) that does not match the hostname.'; Expected = '*certificate not trusted*CN/SAN*' }
        @{ Kind = 'TrustedHosts'; Error = 'The WinRM client cannot process the request. ... the destination machine must be added to the TrustedHosts configuration setting.'; Expected = '*needs TrustedHosts*Set-Item WSMan:\localhost\Client\TrustedHosts*' }
        @{ Kind = 'an unreachable listener'; Error = 'WinRM cannot complete the operation. Verify that the specified computer name is valid, that the computer is accessible over the network'; Expected = '*port closed or host unreachable*' }
    ) {
        $message = $Error
        Mock -CommandName New-PSSession -MockWith { throw $message }
        { New-DevTestSession -ComputerName 'DevTest' } | Should -Throw -ExpectedMessage $Expected
    }

}

Describe 'Test-TcpPort (real sockets on loopback)' {
    It 'is true for a listening port and false for a free one' {
        $listener = New-Object -TypeName System.Net.Sockets.TcpListener -ArgumentList ([System.Net.IPAddress]::Loopback), 0
        $listener.Start()
        try {
            Test-TcpPort -ComputerName '127.0.0.1' -Port $listener.LocalEndpoint.Port -TimeoutMilliseconds 2000 | Should -BeTrue
        }
        finally { $listener.Stop() }
        Test-TcpPort -ComputerName '127.0.0.1' -Port (Get-FreeTcpPort) -TimeoutMilliseconds 2000 | Should -BeFalse
    }
}
