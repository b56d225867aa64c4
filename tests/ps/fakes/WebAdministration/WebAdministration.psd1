@{
    RootModule        = 'WebAdministration.psm1'
    ModuleVersion     = '1.0.0'
    GUID              = '5c1b7e0e-6f3a-4a53-9a55-7c0b3f2f0a11'
    Description       = 'Test stand-in for IIS WebAdministration (app pool state kept in a JSON file).'
    FunctionsToExport = @('Get-WebAppPoolState', 'Start-WebAppPool', 'Stop-WebAppPool')
}
