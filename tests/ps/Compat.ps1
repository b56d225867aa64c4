# Static checks of scripts/ps: the PowerShell parser must accept every file, and nothing may need
# PowerShell 7 (Jenkins' powershell step and Windows Server run Windows PowerShell 5.1).
# Dot-sourced by Invoke-Tests.ps1 and by Compat.Tests.ps1 (which proves each rule can fail).

# Parameters that exist only in PowerShell 6/7 for the named command ('*' = any command).
$script:SevenOnlyParameters = @{
    'ConvertFrom-Json'  = @('AsHashtable', 'Depth', 'NoEnumerate')
    'ConvertTo-Json'    = @('EnumsAsStrings', 'AsArray', 'EscapeHandling')
    'Invoke-WebRequest' = @('SkipHttpErrorCheck', 'SkipCertificateCheck', 'StatusCodeVariable', 'ResponseHeadersVariable', 'Authentication', 'Token', 'SslProtocol', 'MaximumRetryCount', 'RetryIntervalSec', 'Resume', 'NoProxy', 'HttpVersion', 'SkipHeaderValidation', 'PreserveAuthorizationOnRedirect', 'ConnectionTimeoutSeconds', 'OperationTimeoutSeconds', 'AllowInsecureRedirect')
    'Invoke-RestMethod' = @('SkipHttpErrorCheck', 'SkipCertificateCheck', 'StatusCodeVariable', 'ResponseHeadersVariable', 'Authentication', 'Token', 'SslProtocol', 'MaximumRetryCount', 'RetryIntervalSec', 'Resume', 'NoProxy', 'HttpVersion', 'FollowRelLink', 'SkipHeaderValidation', 'ConnectionTimeoutSeconds', 'OperationTimeoutSeconds', 'AllowInsecureRedirect')
    'ForEach-Object'    = @('Parallel', 'ThrottleLimit', 'AsJob', 'UseNewRunspace', 'TimeoutSeconds')
    'Join-Path'         = @('AdditionalChildPath', 'Extension')
    'Get-Date'          = @('AsUTC')
    'Get-Content'       = @('AsByteStream')
    'Set-Content'       = @('AsByteStream')
    'Add-Content'       = @('AsByteStream')
    'Select-String'     = @('Raw', 'NoEmphasis')
    'Split-Path'        = @('LeafBase', 'Extension')
    'Start-Process'     = @('Environment')
    'Test-Connection'   = @('TcpPort', 'TargetName', 'Traceroute', 'MtuSize', 'Repeat')
    'Get-ChildItem'     = @('FollowSymlink')
    'Select-Object'     = @('SkipIndex', 'CaseInsensitive')
    'Sort-Object'       = @('Top', 'Bottom', 'Stable')
    'Import-Module'     = @('UseWindowsPowerShell', 'SkipEditionCheck')
}
$script:SevenOnlyCommands = @('Test-Json', 'Get-Error', 'ConvertFrom-Markdown', 'Show-Markdown', 'Join-String', 'Get-Uptime', 'Remove-Alias', 'Remove-Service', 'Get-PSSubsystem', 'ConvertTo-CliXml', 'ConvertFrom-CliXml', 'Get-SecureRandom')
$script:SevenOnlyVariables = @('IsWindows', 'IsLinux', 'IsMacOS', 'IsCoreCLR', 'PSStyle', 'PSNativeCommandUseErrorActionPreference', 'PSNativeCommandArgumentPassing', 'ErrorView')
$script:SevenOnlyEncodings = @('utf8NoBOM', 'utf8BOM', 'ansi')
# House rule: every cmdlet that changes state says what happens on error (-ErrorAction Stop, or
# SilentlyContinue for best-effort clean-up), so a failure can never pass unnoticed.
$script:StateChangingCommands = @('New-Item', 'Remove-Item', 'Copy-Item', 'Move-Item', 'Rename-Item', 'Set-Content', 'Add-Content', 'Out-File', 'Start-WebAppPool', 'Stop-WebAppPool', 'Restart-WebAppPool', 'Start-Service', 'Stop-Service', 'Set-ItemProperty', 'Expand-Archive', 'Compress-Archive')
$script:SevenOnlyStaticMembers = @('GetRelativePath', 'IsPathFullyQualified', 'Join', 'TrimEndingDirectorySeparator')

function Get-CompatibilityProblem {
    <#
      Returns one string per problem ('<file>:<line>: <what>') for a script file or text:
      parse errors, 7-only syntax (??, ??=, ?:, ?., ?[], && / ||, clean {}), 7-only commands,
      parameters, variables and .NET Core-only methods, aliases, Write-Host, and state-changing cmdlets
      without -ErrorAction.
    #>
    [CmdletBinding()]
    param([string]$Path, [string]$Text, [string]$Name = 'text')
    $tokens = $null
    $errors = $null
    if ($Path) {
        $Name = Split-Path -Path $Path -Leaf
        $ast = [System.Management.Automation.Language.Parser]::ParseFile($Path, [ref]$tokens, [ref]$errors)
    }
    else {
        $ast = [System.Management.Automation.Language.Parser]::ParseInput($Text, [ref]$tokens, [ref]$errors)
    }
    $problems = New-Object -TypeName System.Collections.Generic.List[string]
    foreach ($e in @($errors)) { $problems.Add(('{0}:{1}: parse error: {2}' -f $Name, $e.Extent.StartLineNumber, $e.Message)) }

    $aliases = @{}
    foreach ($a in (Get-Alias)) { $aliases[$a.Name] = $a.Definition }
    # Aliases PowerShell 7 dropped on Linux are aliases on Windows all the same.
    foreach ($a in @('ls', 'cp', 'mv', 'rm', 'cat', 'sort', 'tee', 'echo', 'ps', 'kill', 'diff', 'sleep', 'curl', 'wget', 'man', 'mount', 'rmdir', 'cpp', 'compare', 'start', 'write', 'type', 'pwd', 'cd', 'dir', 'del', 'copy', 'move', 'md', 'rd', 'cls')) { $aliases[$a] = 'built-in alias' }

    $nodes = $ast.FindAll({ param($node) $true }, $true)
    foreach ($node in $nodes) {
        $line = $node.Extent.StartLineNumber
        $typeName = $node.GetType().Name
        $where = '{0}:{1}' -f $Name, $line
        switch ($typeName) {
            'TernaryExpressionAst' { $problems.Add("${where}: ternary operator ?: is PowerShell 7 only; use if/else") }
            'PipelineChainAst' { $problems.Add("${where}: pipeline chain && / || is PowerShell 7 only; use if (`$?) or try/catch") }
            'BinaryExpressionAst' {
                if ([string]$node.Operator -eq 'QuestionQuestion') { $problems.Add("${where}: ?? is PowerShell 7 only; use if (`$null -eq ...)") }
            }
            'AssignmentStatementAst' {
                if ([string]$node.Operator -eq 'QuestionQuestionEquals') { $problems.Add("${where}: ??= is PowerShell 7 only") }
            }
            'ScriptBlockAst' {
                if ($node.PSObject.Properties['CleanBlock'] -and $null -ne $node.CleanBlock) { $problems.Add("${where}: clean {} block is PowerShell 7.3+ only") }
            }
            'VariableExpressionAst' {
                if ($script:SevenOnlyVariables -contains $node.VariablePath.UserPath) { $problems.Add("${where}: `$$($node.VariablePath.UserPath) does not exist in Windows PowerShell 5.1") }
            }
            'CommandAst' {
                $command = $node.GetCommandName()
                if ($command) {
                    if ($aliases.ContainsKey($command)) { $problems.Add("${where}: alias '$command' (write the full command name)") }
                    if ($script:SevenOnlyCommands -contains $command) { $problems.Add("${where}: $command is PowerShell 7 only") }
                    if ($script:StateChangingCommands -contains $command) {
                        $hasErrorAction = @($node.CommandElements | Where-Object { $_ -is [System.Management.Automation.Language.CommandParameterAst] -and ($_.ParameterName -ieq 'ErrorAction' -or $_.ParameterName -ieq 'EA') }).Count -gt 0
                        if (-not $hasErrorAction) { $problems.Add("${where}: $command without -ErrorAction (state-changing cmdlets say -ErrorAction Stop)") }
                    }
                    if ($command -eq 'Write-Host') { $problems.Add("${where}: Write-Host (use Write-StageLog / Write-Output / Write-Verbose)") }
                    $sevenParams = @()
                    if ($script:SevenOnlyParameters.ContainsKey($command)) { $sevenParams = $script:SevenOnlyParameters[$command] }
                    $elements = $node.CommandElements
                    for ($i = 0; $i -lt $elements.Count; $i++) {
                        $element = $elements[$i]
                        if ($element -isnot [System.Management.Automation.Language.CommandParameterAst]) { continue }
                        foreach ($p in $sevenParams) {
                            if ($p -ieq $element.ParameterName) { $problems.Add("${where}: $command -$($element.ParameterName) is PowerShell 7 only") }
                        }
                        if ($element.ParameterName -ieq 'Encoding') {
                            $value = $element.Argument
                            if ($null -eq $value -and $i + 1 -lt $elements.Count) { $value = $elements[$i + 1] }
                            if ($null -ne $value -and $script:SevenOnlyEncodings -contains $value.Extent.Text.Trim("'", '"')) { $problems.Add("${where}: -Encoding $($value.Extent.Text) is PowerShell 7 only (5.1 has no BOM-less UTF-8 encoding name)") }
                        }
                    }
                }
            }
        }
        if ($node.PSObject.Properties['NullConditional'] -and $node.NullConditional) { $problems.Add("${where}: null-conditional ?. / ?[] is PowerShell 7 only") }
        if ($typeName -eq 'InvokeMemberExpressionAst' -and $node.Static -and $node.Member -is [System.Management.Automation.Language.StringConstantExpressionAst]) {
            $member = $node.Member.Value
            $type = $node.Expression.Extent.Text
            if ($script:SevenOnlyStaticMembers -contains $member -and $type -match 'IO\.Path\]$') { $problems.Add("${where}: [$type]::$member is .NET Core only (not in Windows PowerShell 5.1)") }
        }
    }
    return , $problems.ToArray()
}
