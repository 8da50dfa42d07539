@{
    RootModule             = 'K3dEtcd.dll'
    ModuleVersion          = '0.1.0'
    CompatiblePSEditions   = @('Core')
    GUID                   = 'a094da1a-bbda-4052-ab46-943c9cc937f8'
    Author                 = 'K3dEtcd contributors'
    CompanyName            = 'K3dEtcd contributors'
    Copyright              = '(c) K3dEtcd contributors. MIT License.'
    Description            = 'Run etcd clusters in Docker and k3d (k3s) clusters that use them as their external datastore: create, inspect and remove etcd clusters, browse and change keys, check members and leader statistics, and wire k3d with TLS. Every command returns pipeline objects.'
    PowerShellVersion      = '7.4'
    FormatsToProcess       = @('K3dEtcd.format.ps1xml')
    CmdletsToExport        = @(
        'New-EtcdCluster'
        'Get-EtcdCluster'
        'Remove-EtcdCluster'
        'Get-K3dEtcdOption'
        'Set-K3dEtcdOption'
        'Get-EtcdKey'
        'Set-EtcdKey'
        'Remove-EtcdKey'
        'Watch-EtcdKey'
        'Get-EtcdMember'
        'Get-EtcdLeaderStats'
        'Get-EtcdHealth'
        'Test-EtcdCluster'
        'Get-EtcdCertificate'
        'Update-EtcdCertificate'
        'New-EtcdClientCertificate'
        'New-K3dCluster'
        'Get-K3dCluster'
        'Remove-K3dCluster'
        'Get-K3dKubeconfig'
        'Test-K3dDatastore'
        'Stop-EtcdMember'
        'Start-EtcdMember'
        'Restart-EtcdMember'
        'Add-EtcdMember'
        'Remove-EtcdMember'
        'Repair-EtcdMember'
        'Repair-EtcdCluster'
        'Measure-EtcdFailover'
        'Measure-EtcdDisk'
        'Save-EtcdSnapshot'
        'Get-EtcdSnapshot'
        'Restore-EtcdSnapshot'
        'Test-EtcdSnapshot'
        'Register-EtcdBackup'
        'Get-EtcdBackup'
        'Unregister-EtcdBackup'
        'Update-EtcdCluster'
        'Get-EtcdAlarm'
        'Clear-EtcdAlarm'
        'Invoke-EtcdCompaction'
        'Invoke-EtcdDefragmentation'
        'Optimize-EtcdCluster'
        'Move-EtcdLeader'
        'Start-EtcdBrowser'
        'Get-EtcdBrowser'
        'Stop-EtcdBrowser'
    )
    FunctionsToExport      = @()
    VariablesToExport      = @()
    AliasesToExport        = @()
    PrivateData            = @{
        PSData = @{
            Tags         = @('etcd', 'k3d', 'k3s', 'kubernetes', 'docker', 'datastore', 'PSEdition_Core', 'Linux', 'Windows', 'MacOS')
            ReleaseNotes = '0.1.0: etcd clusters in Docker (plain or TLS), the etcd data plane (keys, watches, members, leader statistics, health), member drills and failover measurement, k3d clusters on the external etcd.'
        }
    }
}
