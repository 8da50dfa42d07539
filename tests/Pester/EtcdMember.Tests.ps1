BeforeDiscovery {
    # Run against $script:name (3 running members) and $script:one (1 member, stopped); each case must change nothing.
    $script:badInput = @(
        @{ Case = 'removing a member that does not exist'; Call = { Remove-EtcdMember -Cluster $script:name -Name 'no-such-member' -Confirm:$false }
           ErrorId = 'EtcdMemberNotFound,K3dEtcd.Commands.Etcd.RemoveEtcdMemberCommand'; Category = 'ObjectNotFound' }
        @{ Case = 'stopping every running member without -Force'; Call = { Stop-EtcdMember -Cluster $script:name -All }
           ErrorId = 'QuorumLoss,K3dEtcd.Commands.Etcd.StopEtcdMemberCommand'; Category = 'InvalidOperation' }
        @{ Case = 'stopping two of three members without -Force'; Call = { Stop-EtcdMember -Cluster $script:name -Name "$($script:name)0", "$($script:name)1" }
           ErrorId = 'QuorumLoss,K3dEtcd.Commands.Etcd.StopEtcdMemberCommand'; Category = 'InvalidOperation' }
        @{ Case = 'restarting all members together without -Rolling or -Force'; Call = { Restart-EtcdMember -Cluster $script:name -All }
           ErrorId = 'QuorumLoss,K3dEtcd.Commands.Etcd.RestartEtcdMemberCommand'; Category = 'InvalidOperation' }
        @{ Case = 'stopping a member of a cluster that does not exist'; Call = { Stop-EtcdMember -Cluster 'no-such-cluster-k3detcd' -Name x }
           ErrorId = 'EtcdClusterNotFound,K3dEtcd.Commands.Etcd.StopEtcdMemberCommand'; Category = 'ObjectNotFound' }
        @{ Case = 'adding a member to a stopped cluster'; Call = { Add-EtcdMember -Cluster $script:one }
           ErrorId = 'EtcdClusterNotRunning,K3dEtcd.Commands.Etcd.AddEtcdMemberCommand'; Category = 'ResourceUnavailable' }
        @{ Case = 'removing the last member without -Force'; Call = { Remove-EtcdMember -Cluster $script:one -Name "$($script:one)0" -Confirm:$false }
           ErrorId = 'LastMember,K3dEtcd.Commands.Etcd.RemoveEtcdMemberCommand'; Category = 'InvalidOperation' }
        @{ Case = 'measuring failover on a one-member cluster'; Call = { Measure-EtcdFailover -Cluster $script:one -Iterations 1 }
           ErrorId = 'FailoverNeedsThreeMembers,K3dEtcd.Commands.Etcd.MeasureEtcdFailoverCommand'; Category = 'InvalidOperation' }
    )
}

BeforeAll {
    . "$PSScriptRoot/TestHelpers.ps1"
    Assert-DockerAvailable
    $ProgressPreference = 'SilentlyContinue'

    # Each member's own status from etcdctl (an independent client): leader and revision in one call.
    function Get-EtcdctlStatus([string[]] $Endpoints) {
        $json = etcdctl --endpoints ($Endpoints -join ',') endpoint status -w json
        if ($LASTEXITCODE -ne 0) { throw "etcdctl endpoint status failed: $json" }
        foreach ($e in ($json | ConvertFrom-Json)) {
            [pscustomobject]@{ Endpoint = $e.Endpoint; Leader = ([uint64]$e.Status.leader).ToString('x'); Revision = [long]$e.Status.header.revision }
        }
    }

    # What Docker and etcd hold for a cluster, to prove a refused command changed nothing.
    function Get-ClusterFingerprint([string] $Cluster) {
        $c = Get-EtcdCluster $Cluster
        (@($c.Members | ForEach-Object { "$($_.Name)=$($_.Id)=$($_.State)" }) + @(docker ps -aq --filter "label=io.k3detcd.cluster=$Cluster") +
            @(docker volume ls -q --filter "label=io.k3detcd.cluster=$Cluster")) -join ';'
    }
}

Describe 'Member drills: Stop/Start/Restart-EtcdMember, Add/Remove-EtcdMember, Measure-EtcdFailover' -Tag Docker, HaDrills {
    BeforeAll {
        $script:name = New-TestName 'ha'
        $script:c = New-EtcdCluster $script:name
    }
    AfterAll {
        Remove-EtcdCluster $script:name -Force -ErrorAction Ignore
    }

    It 'kills the leader: a new leader in time, data cmdlets keep working through the other endpoints, nothing lost' {
        1..10 | ForEach-Object { [pscustomobject]@{ Key = "/drill/before/$_"; Value = "$_" } } | Set-EtcdKey -Cluster $c
        $oldLeader = (Get-EtcdLeaderStats -Cluster $c).LeaderName
        $sw = [Diagnostics.Stopwatch]::StartNew()
        $stopped = Stop-EtcdMember -Cluster $c -Leader -Kill -PassThru
        $sw.Elapsed.TotalSeconds | Should -BeLessThan 8   # election timeout 1 s, randomised up to 2 s
        $stopped.Name | Should -Be $oldLeader
        $stopped.State | Should -Be 'exited'

        # $c still lists the dead member's endpoint; the connection fails over to the others.
        $stats = Get-EtcdLeaderStats -Cluster $c
        $stats.LeaderName | Should -Not -Be $oldLeader
        $rest = $c.Members | Where-Object Name -ne $oldLeader
        (Get-EtcdctlStatus $rest.ClientUrl).Leader | Select-Object -Unique | Should -Be $stats.LeaderId
        1..10 | ForEach-Object { [pscustomobject]@{ Key = "/drill/after/$_"; Value = "$_" } } | Set-EtcdKey -Cluster $c
        (Get-EtcdKey -Cluster $c -Key /drill/ -Prefix -CountOnly) | Should -Be 20
        foreach ($m in $rest) { @(etcdctl --endpoints $m.ClientUrl get /drill/ --prefix --keys-only | Where-Object { $_ }).Count | Should -Be 20 }

        # A member object from the pipeline starts it again; it rejoins with its data and catches up.
        $back = $stopped | Start-EtcdMember -PassThru
        $back.State | Should -Be 'running'
        $now = Get-EtcdCluster $name
        $now.State | Should -Be 'Running'
        @(Get-EtcdctlStatus $now.Endpoints | Select-Object -ExpandProperty Revision -Unique).Count | Should -Be 1
        @(etcdctl --endpoints $back.ClientUrl get /drill/ --prefix --keys-only --consistency=s | Where-Object { $_ }).Count | Should -Be 20
    }

    It 'stops a follower (piped member object) and starts it by name: it catches up with writes made meanwhile' {
        $leader = (Get-EtcdLeaderStats -Cluster $name).LeaderName
        $follower = (Get-EtcdCluster $name).Members | Where-Object Name -ne $leader | Select-Object -First 1
        $follower | Stop-EtcdMember   # a member object from the pipeline
        (Get-EtcdCluster $name).Members.Where({ $_.Name -eq $follower.Name }).State | Should -Be 'exited'
        1..25 | ForEach-Object { [pscustomobject]@{ Key = "/drill/away/$_"; Value = "$_" } } | Set-EtcdKey -Cluster $name
        Start-EtcdMember -Cluster $name -Name $follower.Name
        $now = Get-EtcdCluster $name
        $status = Get-EtcdctlStatus $now.Endpoints
        @($status.Revision | Select-Object -Unique).Count | Should -Be 1
        $url = ($now.Members | Where-Object Name -eq $follower.Name).ClientUrl
        $url | Should -Be $follower.ClientUrl -Because 'the host port is fixed in the port binding, so it survives a stop and start'
        (docker port $follower.ContainerName 2379/tcp) | Should -Be ($follower.ClientUrl -replace '^http://', '')
        @(etcdctl --endpoints $follower.ClientUrl get /drill/away/ --prefix --keys-only --consistency=s | Where-Object { $_ }).Count | Should -Be 25
    }

    It 'restarts all members one at a time with -Rolling and keeps serving' {
        $before = Get-EtcdCluster $name
        $ids = $before.Members.Id
        $restarted = Restart-EtcdMember -Cluster $name -All -Rolling -PassThru
        $restarted | Should -HaveCount 3
        $restarted.State | Select-Object -Unique | Should -Be 'running'
        $now = Get-EtcdCluster $name
        $now.State | Should -Be 'Running'
        $now.Members.Id | Should -Be $ids
        $now.Endpoints | Should -Be $before.Endpoints
        Test-EtcdCluster -Cluster $name -Quiet | Should -BeTrue
    }

    It 'does nothing with -WhatIf' {
        $before = Get-ClusterFingerprint $name
        Stop-EtcdMember -Cluster $name -Leader -WhatIf
        Restart-EtcdMember -Cluster $name -All -Rolling -WhatIf
        Add-EtcdMember -Cluster $name -WhatIf
        Remove-EtcdMember -Cluster $name -Name "$($name)2" -WhatIf
        Get-ClusterFingerprint $name | Should -Be $before
    }

    It 'adds a member (Size 4, next index, same labels) and removes it again; etcdctl member list agrees at each step' {
        $added = Add-EtcdMember -Cluster $name
        $added.Name | Should -Be "$($name)3"
        $added.State | Should -Be 'running'
        $four = Get-EtcdCluster $name
        $four.Size | Should -Be 4
        $list = (etcdctl --endpoints ($four.Endpoints -join ',') member list -w json | ConvertFrom-Json).members
        ($list | ForEach-Object { "$($_.name)=$(([uint64]$_.ID).ToString('x'))" } | Sort-Object) |
            Should -Be ($four.Members | ForEach-Object { "$($_.Name)=$($_.Id)" } | Sort-Object)
        $list.isLearner | Where-Object { $_ } | Should -BeNullOrEmpty
        $labels = (docker inspect $added.ContainerName | ConvertFrom-Json).Config.Labels
        $labels.'io.k3detcd.cluster' | Should -Be $name
        $labels.'io.k3detcd.member-index' | Should -Be '3'
        Get-EtcdKey -Endpoint $added.ClientUrl -Key /drill/before/1 | Select-Object -ExpandProperty Value | Should -Be '1'

        Get-EtcdCluster $name | Remove-EtcdMember -Name $added.Name -Confirm:$false
        $three = Get-EtcdCluster $name
        $three.Size | Should -Be 3
        $list = (etcdctl --endpoints ($three.Endpoints -join ',') member list -w json | ConvertFrom-Json).members
        $list | Should -HaveCount 3
        $list.name | Should -Not -Contain $added.Name
        docker ps -aq --filter "name=^$($added.ContainerName)$" | Should -BeNullOrEmpty
        docker volume ls -q --filter "name=^$($added.Volume)$" | Should -BeNullOrEmpty
    }

    It 'measures one failover: an iteration and a summary, no acknowledged write lost, tables within 80 columns' {
        $out = Measure-EtcdFailover -Cluster $name -Iterations 1
        $out | Should -HaveCount 2
        $run = $out[0]
        $run.PSObject.TypeNames[0] | Should -Be 'K3dEtcd.Model.EtcdFailoverIteration'
        $run.ElectionMs | Should -BeGreaterThan 0
        $run.ElectionMs | Should -BeLessThan 10000
        $run.UnavailableMs | Should -BeGreaterThan 0
        $run.WritesAcknowledged | Should -BeGreaterThan 0
        $run.WritesLost | Should -Be 0
        $run.MembersChecked | Should -Be 3
        $run.NewLeader | Should -Not -Be $run.OldLeader
        $sum = $out[1]
        $sum.PSObject.TypeNames[0] | Should -Be 'K3dEtcd.Model.EtcdFailoverSummary'
        $sum.WritesLost | Should -Be 0
        $sum.MaxElectionMs | Should -Be $run.ElectionMs
        (Get-EtcdCluster $name).State | Should -Be 'Running'
        Get-EtcdKey -Cluster $name -Key /k3detcd/failover/ -Prefix -CountOnly | Should -Be 0
        # Independent of the module's own counter: the measurement's last change is one prefix delete,
        # so one revision earlier etcd still holds every write it committed. etcdctl counts them on
        # every member (serializable: each member's own copy); no acknowledged write may be missing.
        $members = (Get-EtcdCluster $name).Members
        $rev = [long]((etcdctl --endpoints $members[0].ClientUrl get /k3detcd/failover/ --prefix -w json | ConvertFrom-Json).header.revision)
        foreach ($m in $members) {
            $held = @(etcdctl --endpoints $m.ClientUrl get /k3detcd/failover/ --prefix --keys-only --consistency=s --rev ($rev - 1) | Where-Object { $_ })
            $LASTEXITCODE | Should -Be 0
            $held.Count | Should -BeGreaterOrEqual $run.WritesAcknowledged -Because "$($m.Name) must hold every acknowledged write"
        }
        foreach ($o in $out) {
            $table = $o | Format-Table | Out-String -Width 200
            ($table -split "`n" | Measure-Object -Property Length -Maximum).Maximum | Should -BeLessOrEqual 80
        }
    }

    Context 'Bad input' {
        BeforeAll {
            $script:one = New-TestName 'ha1'
            New-EtcdCluster $script:one -Size 1 | Out-Null
            Stop-EtcdMember -Cluster $script:one -All -Force -WarningAction SilentlyContinue
        }
        AfterAll {
            Remove-EtcdCluster $script:one -Force -ErrorAction Ignore
        }

        It '<Case> is a clear error and changes nothing' -ForEach $badInput {
            $before = (Get-ClusterFingerprint $script:name) + '|' + (Get-ClusterFingerprint $script:one)
            $err = $null
            try { & $Call -ErrorAction Stop } catch { $err = $_ }
            $err | Should -Not -BeNullOrEmpty
            $err.FullyQualifiedErrorId | Should -Be $ErrorId
            $err.CategoryInfo.Category | Should -Be $Category
            $err.Exception.Message | Should -Not -Match '   at '
            (Get-ClusterFingerprint $script:name) + '|' + (Get-ClusterFingerprint $script:one) | Should -Be $before
        }
    }
}
