BeforeDiscovery {
    # Each against $script:name (3 members on 3.4.23); each must change nothing (checked with the docker CLI).
    $script:refused = @(
        @{ Case = 'skipping a minor (3.4 -> 3.6)'; Call = { Update-EtcdCluster -Cluster $script:name -Image 'k3detcd/etcd:3.6.1' -Force }
           ErrorId = 'UpgradeSkipsMinor,K3dEtcd.Commands.Etcd.UpdateEtcdClusterCommand'; Category = 'InvalidArgument'; Names = '3.5' }
        @{ Case = 'a downgrade (3.4.23 -> 3.4.20)'; Call = { Update-EtcdCluster -Cluster $script:name -Version 3.4.20 -Force }
           ErrorId = 'UpgradeIsDowngrade,K3dEtcd.Commands.Etcd.UpdateEtcdClusterCommand'; Category = 'InvalidArgument'; Names = 'downgrade' }
        @{ Case = 'an image tag without a version'; Call = { Update-EtcdCluster -Cluster $script:name -Image 'k3detcd/etcd:latest' -Force }
           ErrorId = 'UpgradeVersionUnknown,K3dEtcd.Commands.Etcd.UpdateEtcdClusterCommand'; Category = 'InvalidArgument'; Names = '-Version' }
        @{ Case = 'a cluster that does not exist'; Call = { Update-EtcdCluster -Cluster 'no-such-cluster-k3detcd' -Version 3.5.16 -Force }
           ErrorId = 'EtcdClusterNotFound,K3dEtcd.Commands.Etcd.UpdateEtcdClusterCommand'; Category = 'ObjectNotFound'; Names = 'no-such-cluster-k3detcd' }
    )
}

BeforeAll {
    . "$PSScriptRoot/TestHelpers.ps1"
    Assert-DockerAvailable
    $ProgressPreference = 'SilentlyContinue'
    # Containers' ids and images: what a refused or -WhatIf upgrade must leave as it was.
    function Get-ContainerIdentity([string] $Cluster) {
        docker ps -a --filter "label=io.k3detcd.cluster=$Cluster" --format '{{.ID}} {{.Image}} {{.Names}}' | Sort-Object
    }
}

Describe 'Update-EtcdCluster' -Tag Docker {
    BeforeAll {
        $script:name = New-TestName 'upd'
        $script:cluster = New-EtcdCluster $script:name
        $script:before = Get-ContainerIdentity $script:name
    }
    AfterAll { Remove-EtcdCluster $script:name -Force -ErrorAction SilentlyContinue }

    It 'with -WhatIf writes the plan (followers first, the leader last) and changes nothing' {
        $plan = Update-EtcdCluster -Cluster $script:name -Version 3.5.16 -WhatIf
        $plan.WhatIf | Should -BeTrue
        $plan.FromVersion | Should -Be '3.4.23'
        $plan.ToVersion | Should -Be '3.5.16'
        $plan.Image | Should -Be 'k3detcd/etcd:3.5.16'
        $plan.Members.Count | Should -Be 3
        $leader = (etcdctl --endpoints ($script:cluster.Endpoints -join ',') endpoint status -w json | ConvertFrom-Json | Where-Object { $_.Status.leader -eq $_.Status.header.member_id }).Endpoint
        $leaderName = ($script:cluster.Members | Where-Object ClientUrl -eq $leader).Name
        $plan.Members[-1].Member | Should -Be $leaderName
        $plan.Members[-1].WasLeader | Should -BeTrue
        Get-ContainerIdentity $script:name | Should -Be $script:before
        ($plan | Format-Table | Out-String) | Should -Match "$($script:name) \(plan\)"
    }

    It 'refuses <Case> with <ErrorId>, changing nothing' -ForEach $script:refused {
        $err = $null
        try { & $Call -ErrorAction Stop } catch { $err = $_ }
        $err | Should -Not -BeNullOrEmpty
        $err.FullyQualifiedErrorId | Should -Be $ErrorId
        $err.CategoryInfo.Category | Should -Be $Category
        $err.Exception.Message | Should -Match ([regex]::Escape($Names))
        $err.Exception.Message | Should -Not -Match '   at '
        Get-ContainerIdentity $script:name | Should -Be $script:before
    }

    It 'upgrades to 3.5.16 with a snapshot in the given directory, and Get-EtcdCluster shows the new image and version' {
        $dir = Join-Path ([IO.Path]::GetTempPath()) (New-TestName 'upd-snap')
        New-Item -ItemType Directory $dir | Out-Null
        try {
            $r = Update-EtcdCluster -Cluster $script:name -Version 3.5.16 -SnapshotPath $dir -Force
            $r.WhatIf | Should -BeFalse
            $r.ClusterVersion | Should -Be '3.5.0'
            $r.SnapshotPath | Should -BeLike "$dir*"
            etcdctl snapshot status $r.SnapshotPath | Out-Null
            $LASTEXITCODE | Should -Be 0
            $after = Get-EtcdCluster $script:name
            $after.Image | Should -Be 'k3detcd/etcd:3.5.16'
            $after.Version | Should -Be '3.5.16'
            foreach ($m in $after.Members) { docker inspect -f '{{.Config.Image}}' $m.ContainerName | Should -Be 'k3detcd/etcd:3.5.16' }
            (curl -s "$($after.Members[0].ClientUrl)/version" | ConvertFrom-Json).etcdcluster | Should -Be '3.5.0'
            # Run again: nothing to do, nothing recreated.
            $ids = Get-ContainerIdentity $script:name
            $again = Update-EtcdCluster -Cluster $script:name -Version 3.5.16 -SkipSnapshot -Force
            @($again.Members | Where-Object Upgraded).Count | Should -Be 0
            Get-ContainerIdentity $script:name | Should -Be $ids
        }
        finally { Remove-Item $dir -Recurse -Force -ErrorAction SilentlyContinue }
    }

    It 'has help with examples and completes cluster names' {
        $help = Get-Help Update-EtcdCluster -Full
        @($help.examples.example).Count | Should -BeGreaterOrEqual 2
        (TabExpansion2 "Update-EtcdCluster -Cluster $($script:name.Substring(0, 6))" -cursorColumn 33).CompletionMatches.CompletionText | Should -Contain $script:name
    }
}
