# A stand-in for IIS's WebAdministration module, for the Pester tests on Linux.
# The app pools live in a JSON file ($env:FAKE_IIS_STATE) so that the scripts under test, the
# in-process "remote" runs and the test itself all see the same state:
#   { "pools": { "<name>": { "state": "Started"|"Stopped", "neverStarts": bool, "neverStops": bool } },
#     "calls": [ "Start-WebAppPool UserApi", ... ] }
# A pool with neverStarts stays Stopped after Start-WebAppPool (a bad identity, a crashing app).

function Read-FakeIisState {
    if (-not $env:FAKE_IIS_STATE) { throw 'FAKE_IIS_STATE is not set (New-FakeIis in TestHelpers.ps1 sets it)' }
    return (Get-Content -LiteralPath $env:FAKE_IIS_STATE -Raw | ConvertFrom-Json)
}

function Save-FakeIisState([object]$State) {
    Set-Content -LiteralPath $env:FAKE_IIS_STATE -Value (ConvertTo-Json -InputObject $State -Depth 10)
}

function Add-FakeIisCall([object]$State, [string]$Call) {
    $State.calls = @($State.calls) + $Call
}

function Get-FakePool([object]$State, [string]$Name) {
    $pool = $State.pools.PSObject.Properties[$Name]
    if ($null -eq $pool) { throw "Cannot find path 'IIS:\AppPools\$Name' because it does not exist." }
    return $pool.Value
}

function Get-WebAppPoolState {
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)][string]$Name)
    $state = Read-FakeIisState
    $pool = Get-FakePool -State $state -Name $Name
    return [pscustomobject]@{ Value = $pool.state }
}

function Start-WebAppPool {
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)][string]$Name)
    $state = Read-FakeIisState
    $pool = Get-FakePool -State $state -Name $Name
    Add-FakeIisCall -State $state -Call "Start-WebAppPool $Name"
    if ($pool.state -eq 'Started') { Save-FakeIisState $state; throw 'The object identifier does not represent a valid object. (Exception from HRESULT: 0x800710D8)' }
    if (-not $pool.neverStarts) { $pool.state = 'Started' }
    Save-FakeIisState $state
}

function Stop-WebAppPool {
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)][string]$Name)
    $state = Read-FakeIisState
    $pool = Get-FakePool -State $state -Name $Name
    Add-FakeIisCall -State $state -Call "Stop-WebAppPool $Name"
    if ($pool.state -eq 'Stopped') { Save-FakeIisState $state; throw 'The object identifier does not represent a valid object. (Exception from HRESULT: 0x800710D8)' }
    if (-not $pool.neverStops) { $pool.state = 'Stopped' }
    Save-FakeIisState $state
}

Export-ModuleMember -Function Get-WebAppPoolState, Start-WebAppPool, Stop-WebAppPool
