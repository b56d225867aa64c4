# winrm_session.ps1 - credential and PSSession helpers for reaching DevTest over WinRM (dot-source it).
#
#   . "$PSScriptRoot\winrm_session.ps1"
#   $credential = Get-DevTestCredential                 # from DEVTEST_USER / DEVTEST_PASSWORD
#   $session    = New-DevTestSession -ComputerName DevTest -Credential $credential
#
# HTTPS (5986) with full certificate checks is the default. HTTP (5985) only with -AllowHttpLab, and
# skipping certificate checks only with -SkipCertificateCheckLab: both are for a lab, never for DevTest
# proper. Each usual failure gets its own message with a fix. The password is never printed.
# Windows PowerShell 5.1 and PowerShell 7 compatible.

. (Join-Path -Path $PSScriptRoot -ChildPath 'common.ps1')

function Get-DevTestCredential {
    <#
      Builds the WinRM/SMB credential from environment variables, which the Jenkinsfile binds with
      withCredentials([usernamePassword(credentialsId: 'svc-devtest', usernameVariable: 'DEVTEST_USER',
      passwordVariable: 'DEVTEST_PASSWORD')]). Registers the password for masking.
    #>
    [CmdletBinding()]
    [OutputType([pscredential])]
    param(
        [ValidatePattern('^[A-Za-z_][A-Za-z0-9_]*$')][string]$UserEnv = 'DEVTEST_USER',
        [ValidatePattern('^[A-Za-z_][A-Za-z0-9_]*$')][string]$PasswordEnv = 'DEVTEST_PASSWORD',
        # Named in the error message: the Jenkins credential that should be bound to these variables.
        [string]$CredentialsId = 'svc-devtest'
    )
    $user = [Environment]::GetEnvironmentVariable($UserEnv)
    $password = [Environment]::GetEnvironmentVariable($PasswordEnv)
    $missing = @()
    if ([string]::IsNullOrEmpty($user)) { $missing += $UserEnv }
    if ([string]::IsNullOrEmpty($password)) { $missing += $PasswordEnv }
    if ($missing.Count -gt 0) {
        throw ("credential environment variable(s) not set: {0}. Fix: in the Jenkinsfile wrap the step in withCredentials([usernamePassword(credentialsId: '{3}', usernameVariable: '{1}', passwordVariable: '{2}')]); locally, set them in the shell (never in a file in the repo)." -f ($missing -join ', '), $UserEnv, $PasswordEnv, $CredentialsId)
    }
    Register-StageSecret -Value $password
    $secure = ConvertTo-SecureString -String $password -AsPlainText -Force
    return (New-Object -TypeName System.Management.Automation.PSCredential -ArgumentList $user, $secure)
}

function Get-WinRmFailureKind {
    <#
      Classifies a New-PSSession error message: 'auth', 'certificate', 'trustedhosts', 'unreachable'
      or 'other'. The texts are those of WinRM/WSMan on Windows (English) and of PowerShell 7.
    #>
    [CmdletBinding()]
    param([AllowEmptyString()][string]$Message)
    $m = $Message.ToLowerInvariant()
    if ($m -match 'trustedhosts') { return 'trustedhosts' }
    if ($m -match 'certificate|ssl|\bcn\b|common name|revocation|schannel') { return 'certificate' }
    if ($m -match 'access is denied|access denied|logon failure|user name or password|authentication|unauthorized|401|credentials') { return 'auth' }
    if ($m -match 'cannot connect|could not connect|unable to connect|cannot complete the operation|accessible over the network|firewall|timed out|timeout|network path|no such host|name or service not known|refused|unreachable|destination') { return 'unreachable' }
    return 'other'
}

function Get-WinRmFailureMessage {
    <# The message a user sees: what failed, on which endpoint, and how to fix it. #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)][ValidateSet('auth', 'certificate', 'trustedhosts', 'unreachable', 'other')][string]$Kind,
        [Parameter(Mandatory = $true)][string]$Endpoint,
        [AllowEmptyString()][string]$Detail
    )
    switch ($Kind) {
        'unreachable' { $text = "WinRM port closed or host unreachable at $Endpoint. Fix: allow TCP 5986 from the Jenkins server to DevTest in the firewall, and on DevTest create an HTTPS listener (winrm quickconfig -transport:https; check with winrm enumerate winrm/config/listener)." }
        'auth' { $text = "WinRM authentication refused at $Endpoint. Fix: check the user name (DOMAIN\user) and password of the Jenkins credential 'svc-devtest', and that the account is in Remote Management Users (or Administrators) on DevTest." }
        'certificate' { $text = "WinRM certificate not trusted at $Endpoint (unknown CA, or its CN/SAN does not match the name used). Fix: import the organisation's CA certificate into the Jenkins server's Trusted Root store and connect with the exact name in the certificate (usually the FQDN). For a lab only: -SkipCertificateCheckLab." }
        'trustedhosts' { $text = "WinRM needs TrustedHosts for $Endpoint (HTTP or NTLM to a host outside the domain). Fix: use HTTPS (the default) with the FQDN, or on the Jenkins server: Set-Item WSMan:\localhost\Client\TrustedHosts -Value DevTest -Concatenate." }
        default { $text = "cannot open a WinRM session to $Endpoint." }
    }
    if ($Detail) { $text = $text + ' WinRM said: ' + $Detail }
    return (Protect-StageText -Text $text)
}

function New-DevTestSession {
    <#
      Opens a PSSession to ComputerName: HTTPS on 5986 with certificate checks by default.
      Probes the TCP port first so that a closed port gets its own clear error.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)][ValidatePattern('^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$')][string]$ComputerName,
        [pscredential]$Credential,
        [ValidateRange(1, 65535)][int]$Port,
        [switch]$AllowHttpLab,
        [switch]$SkipCertificateCheckLab,
        [ValidateSet('Default', 'Negotiate', 'Kerberos', 'Basic')][string]$Authentication = 'Negotiate',
        [ValidateRange(1, 600)][int]$OpenTimeoutSeconds = 30
    )
    if (-not $PSBoundParameters.ContainsKey('Port')) {
        if ($AllowHttpLab) { $Port = 5985 } else { $Port = 5986 }
    }
    if ($null -eq $Credential) { $Credential = Get-DevTestCredential }
    $useSsl = -not $AllowHttpLab
    $scheme = 'https'
    if (-not $useSsl) { $scheme = 'http' }
    $endpoint = '{0}://{1}:{2}' -f $scheme, $ComputerName, $Port
    # Only Write-Verbose here: the function's output is the session alone (Open-TargetSession logs).
    if ($AllowHttpLab) { Write-Verbose -Message ("WinRM over HTTP ({0}) because -AllowHttpLab was given: lab use only" -f $endpoint) }

    if (-not (Test-TcpPort -ComputerName $ComputerName -Port $Port -TimeoutMilliseconds 5000)) {
        throw (Get-WinRmFailureMessage -Kind unreachable -Endpoint $endpoint -Detail ('TCP connect to port {0} failed' -f $Port))
    }

    $optionArgs = @{ OpenTimeout = $OpenTimeoutSeconds * 1000 }
    if ($SkipCertificateCheckLab) {
        Write-Verbose -Message 'certificate checks are off (-SkipCertificateCheckLab): lab use only'
        $optionArgs['SkipCACheck'] = $true
        $optionArgs['SkipCNCheck'] = $true
        $optionArgs['SkipRevocationCheck'] = $true
    }
    # Windows has all of these options; PowerShell on Linux/macOS only the CA/CN ones: pass what exists.
    $supported = (Get-Command -Name New-PSSessionOption).Parameters.Keys
    foreach ($name in @($optionArgs.Keys)) { if ($supported -notcontains $name) { $optionArgs.Remove($name) } }
    $sessionArgs = @{
        ComputerName  = $ComputerName
        Port          = $Port
        Credential    = $Credential
        Authentication = $Authentication
        SessionOption = (New-PSSessionOption @optionArgs)
        ErrorAction   = 'Stop'
    }
    if ($useSsl) { $sessionArgs['UseSSL'] = $true }
    try {
        $session = New-PSSession @sessionArgs
    }
    catch {
        $detail = $_.Exception.Message
        $kind = Get-WinRmFailureKind -Message $detail
        throw (Get-WinRmFailureMessage -Kind $kind -Endpoint $endpoint -Detail $detail)
    }
    Write-Verbose -Message ("WinRM session open to {0} as {1}" -f $endpoint, $Credential.UserName)
    return $session
}

function Open-TargetSession {
    <#
      What the deploy scripts use: New-DevTestSession with the log lines around it. Emits log lines and
      one StageResult { Session }, so call it as
        $opened = $null; Open-TargetSession ... | Receive-StageOutput -Result ([ref]$opened)
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)][string]$ComputerName,
        [pscredential]$Credential,
        [int]$Port,
        [switch]$AllowHttpLab,
        [switch]$SkipCertificateCheckLab
    )
    $sessionArgs = @{ ComputerName = $ComputerName; AllowHttpLab = $AllowHttpLab; SkipCertificateCheckLab = $SkipCertificateCheckLab }
    if ($Credential) { $sessionArgs['Credential'] = $Credential }
    if ($Port -gt 0) { $sessionArgs['Port'] = $Port }
    $scheme = 'HTTPS'
    if ($AllowHttpLab) {
        $scheme = 'HTTP'
        Write-StageLog -Message 'WARNING: WinRM over HTTP because -AllowHttpLab was given: lab use only, never for DevTest proper'
    }
    if ($SkipCertificateCheckLab) { Write-StageLog -Message 'WARNING: WinRM certificate checks are off (-SkipCertificateCheckLab): lab use only' }
    Write-StageLog -Message ("opening a WinRM session to {0} over {1}" -f $ComputerName, $scheme)
    $session = New-DevTestSession @sessionArgs
    Write-StageLog -Message ("WinRM session open to {0}" -f $ComputerName)
    New-StageResult -Property @{ Session = $session }
}

function Close-DevTestSession {
    <# Removes the session; never throws (used in finally blocks). #>
    [CmdletBinding()]
    param([AllowNull()][object]$Session)
    if ($null -eq $Session) { return }
    try { Remove-PSSession -Session $Session -ErrorAction Stop } catch { Write-Verbose -Message ('Remove-PSSession: ' + $_.Exception.Message) }
}
