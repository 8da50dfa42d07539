# Recovery in place (issue 29): one TLS cluster, used by ordered steps (Pester runs the Its of a
# Describe in order), cross-checked with etcdctl and the docker CLI.
BeforeAll {
    . "$PSScriptRoot/TestHelpers.ps1"
    Assert-DockerAvailable
    $ProgressPreference = 'SilentlyContinue'
    $env:ETCDCTL_API = '3'
    $script:image = $env:K3DETCD_ETCD_IMAGE

    # Everything a removal could take, by the docker CLI and the file system.
    function Get-ClusterFootprint([object] $Cluster) {
        $f = "label=io.k3detcd.cluster=$($Cluster.Name)"
        $containers = docker ps -a --filter $f --format '{{.Names}}'; if ($LASTEXITCODE) { throw 'docker ps failed' }
        $volumes = docker volume ls --filter $f --format '{{.Name}}'; if ($LASTEXITCODE) { throw 'docker volume ls failed' }
        $networks = docker network ls --filter $f --format '{{.Name}}'; if ($LASTEXITCODE) { throw 'docker network ls failed' }
        $files = if ($Cluster.Tls) { Get-ChildItem -Recurse -File $Cluster.Tls.Directory | ForEach-Object { "$($_.FullName)=$((Get-FileHash $_.FullName).Hash)" } }
        [pscustomobject]@{
            Containers = @($containers | Sort-Object); Volumes = @($volumes | Sort-Object); Networks = @($networks | Sort-Object); Files = @($files | Sort-Object)
        }
    }
    function Get-Ctl([object] $Cluster) {
        $tls = $Cluster.Tls
        @('--endpoints', ($Cluster.Endpoints -join ','), '--cacert', $tls.CaFile, '--cert', $tls.ClientCertFile, '--key', $tls.ClientKeyFile, '--command-timeout', '10s')
    }
}

Describe 'Remove-EtcdCluster refuses a datastore a k3d cluster still uses' -Tag Docker, Recovery {
    BeforeAll {
        $script:c = New-EtcdCluster (New-TestName 'rec') -Size 1 -Tls
        $script:k3dName = New-TestName 'user'
        # A container on the cluster's network labelled as New-K3dCluster labels the k3s servers it makes (k3d's own label too).
        $script:server = "k3d-$k3dName-server-0"
        docker create --name $server --network $c.Network --label "io.k3detcd.etcd-cluster=$($c.Name)" --label "k3d.cluster=$k3dName" --label k3d.role=server $image | Out-Null
        $LASTEXITCODE | Should -Be 0
    }
    AfterAll {
        docker rm -f $server 2>$null | Out-Null
        Remove-EtcdCluster $c.Name -Force -ErrorAction Ignore
    }

    It 'is refused with DatastoreInUse naming the k3d cluster and the way out; nothing is removed' {
        $before = Get-ClusterFootprint $c
        $before.Containers | Should -HaveCount 1
        $before.Volumes | Should -HaveCount 1
        $before.Networks | Should -HaveCount 1
        $before.Files.Count | Should -BeGreaterThan 3
        $err = $null
        try { Remove-EtcdCluster $c.Name -Confirm:$false -ErrorAction Stop } catch { $err = $_ }
        $err | Should -Not -BeNullOrEmpty
        $err.FullyQualifiedErrorId | Should -Be 'DatastoreInUse,K3dEtcd.Commands.Etcd.RemoveEtcdClusterCommand'
        $err.CategoryInfo.Category | Should -Be 'ResourceUnavailable'
        $err.Exception.Message | Should -Match ([regex]::Escape("k3d cluster '$k3dName'"))
        $err.Exception.Message | Should -Match ([regex]::Escape("Remove-K3dCluster $k3dName -IncludeDatastore"))
        $err.Exception.Message | Should -Match 'nothing was removed'
        $after = Get-ClusterFootprint $c
        $after.Containers | Should -Be $before.Containers
        $after.Volumes | Should -Be $before.Volumes
        $after.Networks | Should -Be $before.Networks
        $after.Files | Should -Be $before.Files
        (docker inspect -f '{{.State.Running}}' $before.Containers[0]) | Should -Be 'true'
    }

    It 'removes everything once the k3d cluster''s containers are gone' {
        docker rm -f $server | Out-Null
        Remove-EtcdCluster $c.Name -Confirm:$false -ErrorAction Stop
        Get-LabelledDockerObject $c.Name | Should -BeNullOrEmpty
        Test-Path $c.Tls.Directory | Should -BeFalse
    }
}
