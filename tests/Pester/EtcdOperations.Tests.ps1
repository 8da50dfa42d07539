BeforeDiscovery {
    # Each case must fail with its ErrorId and category and create nothing named $script:fresh.
    $script:badInput = @(
        @{ Case = 'reading a snapshot that does not exist'; Call = { Get-EtcdSnapshot (Join-Path $script:dir 'missing.db') }
           ErrorId = 'SnapshotNotFound,K3dEtcd.Commands.Etcd.GetEtcdSnapshotCommand'; Category = 'ObjectNotFound' }
        @{ Case = 'reading a truncated snapshot'; Call = { Get-EtcdSnapshot $script:truncated }
           ErrorId = 'SnapshotTruncated,K3dEtcd.Commands.Etcd.GetEtcdSnapshotCommand'; Category = 'InvalidArgument' }
        @{ Case = 'reading a snapshot with a flipped byte'; Call = { Get-EtcdSnapshot $script:flipped }
           ErrorId = 'SnapshotCorrupted,K3dEtcd.Commands.Etcd.GetEtcdSnapshotCommand'; Category = 'InvalidArgument' }
        @{ Case = 'restoring a truncated snapshot'; Call = { Restore-EtcdSnapshot $script:truncated -Name $script:fresh -Size 1 }
           ErrorId = 'SnapshotTruncated,K3dEtcd.Commands.Etcd.RestoreEtcdSnapshotCommand'; Category = 'InvalidArgument' }
        @{ Case = 'restoring a snapshot with a flipped byte'; Call = { Restore-EtcdSnapshot $script:flipped -Name $script:fresh -Size 1 }
           ErrorId = 'SnapshotCorrupted,K3dEtcd.Commands.Etcd.RestoreEtcdSnapshotCommand'; Category = 'InvalidArgument' }
        @{ Case = 'restoring into a cluster name that is taken'; Call = { Restore-EtcdSnapshot $script:snapshot -Name $script:name -Size 1 }
           ErrorId = 'ClusterExists,K3dEtcd.Commands.Etcd.RestoreEtcdSnapshotCommand'; Category = 'ResourceExists' }
        @{ Case = 'saving over an existing file without -Force'; Call = { Save-EtcdSnapshot -Cluster $script:name -Path $script:snapshot }
           ErrorId = 'SnapshotFileExists,K3dEtcd.Commands.Etcd.SaveEtcdSnapshotCommand'; Category = 'ResourceExists' }
        @{ Case = 'compacting with both -Revision and -KeepRevisions'; Call = { Invoke-EtcdCompaction -Cluster $script:name -Revision 2 -KeepRevisions 1 -Confirm:$false }
           ErrorId = 'CompactionArgumentsConflict,K3dEtcd.Commands.Etcd.InvokeEtcdCompactionCommand'; Category = 'InvalidArgument' }
        @{ Case = 'compacting to a future revision'; Call = { Invoke-EtcdCompaction -Cluster $script:name -Revision 999999999 -Confirm:$false }
           ErrorId = 'CompactionRevisionInFuture,K3dEtcd.Commands.Etcd.InvokeEtcdCompactionCommand'; Category = 'InvalidArgument' }
        @{ Case = 'moving the leader to an unknown member'; Call = { Move-EtcdLeader -Cluster $script:name -To no-such-member -Confirm:$false }
           ErrorId = 'EtcdMemberNotFound,K3dEtcd.Commands.Etcd.MoveEtcdLeaderCommand'; Category = 'ObjectNotFound' }
        @{ Case = 'defragmenting an unknown member'; Call = { Invoke-EtcdDefragmentation -Cluster $script:name -Member no-such-member -Confirm:$false }
           ErrorId = 'EtcdMemberNotFound,K3dEtcd.Commands.Etcd.InvokeEtcdDefragmentationCommand'; Category = 'ObjectNotFound' }
        @{ Case = 'an auto-compaction retention that is not a period'; Call = { New-EtcdCluster $script:fresh -AutoCompactionRetention soon }
           ErrorId = 'InvalidAutoCompactionRetention,K3dEtcd.Commands.Etcd.NewEtcdClusterCommand'; Category = 'InvalidArgument' }
    )
}

BeforeAll {
    . "$PSScriptRoot/TestHelpers.ps1"
    Assert-DockerAvailable
    $ProgressPreference = 'SilentlyContinue'
    $env:ETCDCTL_API = '3'

    $script:dir = (New-Item -ItemType Directory -Path (Join-Path ([IO.Path]::GetTempPath()) (New-TestName 'ops'))).FullName
    $script:name = New-TestName 'ops'
    $script:fresh = New-TestName 'opsnew'
    $script:c = New-EtcdCluster $script:name -QuotaBackendBytes 64MB -AutoCompactionRetention 1h
    1..300 | ForEach-Object { [pscustomobject]@{ Key = "/registry/configmaps/default/cm-$_"; Value = "v$_" } } | Set-EtcdKey -Cluster $script:c
    1..50 | ForEach-Object { [pscustomobject]@{ Key = "/registry/configmaps/default/cm-$_"; Value = "w$_" } } | Set-EtcdKey -Cluster $script:c

    $script:snapshot = Join-Path $script:dir 'before.db'
    $script:saved = Save-EtcdSnapshot -Cluster $script:c -Path $script:snapshot
    $bytes = [IO.File]::ReadAllBytes($script:snapshot)
    $script:truncated = Join-Path $script:dir 'truncated.db'
    [IO.File]::WriteAllBytes($script:truncated, $bytes[0..($bytes.Length - 1001)])
    $script:flipped = Join-Path $script:dir 'flipped.db'
    $bytes[[int]($bytes.Length / 2)] = $bytes[[int]($bytes.Length / 2)] -bxor 0x40
    [IO.File]::WriteAllBytes($script:flipped, $bytes)

    # etcdctl's own view, for what the module claims it did (or did not do).
    function Get-EtcdctlAlarm([string[]] $Endpoints) {
        $out = etcdctl --endpoints ($Endpoints -join ',') alarm list
        if ($LASTEXITCODE -ne 0) { throw "etcdctl alarm list failed: $out" }
        @($out | ForEach-Object { $_.Trim() } | Where-Object { $_ })
    }
    # Revision 0 is etcd's "the newest" (etcd refuses a revision at or below the compaction, even the newest one).
    function Get-EtcdctlHashKV([string[]] $Endpoints, [long] $Revision = 0) {
        $json = etcdctl --endpoints ($Endpoints -join ',') endpoint hashkv --rev $Revision -w json 2>&1
        if ($LASTEXITCODE -ne 0) { throw "etcdctl endpoint hashkv failed: $json" }
        foreach ($e in ($json | Where-Object { $_ -is [string] } | ConvertFrom-Json)) {
            [pscustomobject]@{ Endpoint = $e.Endpoint; Hash = [uint32]$e.HashKV.hash; CompactRevision = [long]$e.HashKV.compact_revision; Revision = [long]$e.HashKV.header.revision }
        }
    }
    function Get-EtcdctlStatus([string[]] $Endpoints) {
        $json = etcdctl --endpoints ($Endpoints -join ',') endpoint status -w json
        if ($LASTEXITCODE -ne 0) { throw "etcdctl endpoint status failed: $json" }
        foreach ($e in ($json | ConvertFrom-Json)) {
            [pscustomobject]@{ Endpoint = $e.Endpoint; Leader = ([uint64]$e.Status.leader).ToString('x'); DbSize = [long]$e.Status.dbSize }
        }
    }
}

AfterAll {
    Remove-EtcdCluster $script:name -Force -ErrorAction Ignore
    Remove-EtcdCluster $script:fresh -Force -ErrorAction Ignore
    Remove-Item -Recurse -Force $script:dir -ErrorAction Ignore
}

Describe 'Snapshots: Save-EtcdSnapshot, Get-EtcdSnapshot, Restore-EtcdSnapshot' -Tag Docker, Operations {
    It 'saves a verified, owner-only file that etcdctl snapshot status agrees with' {
        $saved.Path | Should -Be $snapshot
        $saved.Cluster | Should -Be $name
        $saved.EtcdVersion | Should -Be $c.Version
        $saved.Size | Should -Be (Get-Item $snapshot).Length
        $status = (etcdctl snapshot status $snapshot -w json) | Where-Object { $_ -like '{*totalKey*' } | ConvertFrom-Json
        $saved.Hash | Should -Be ([uint32]$status.hash).ToString('x')
        $saved.Revision | Should -Be $status.revision
        $saved.TotalKeys | Should -Be $status.totalKey
        if (-not $IsWindows) { [int](Get-Item $snapshot).UnixFileMode | Should -Be ([int][IO.UnixFileMode]'UserRead, UserWrite') }
        Get-ChildItem -Force $dir -Filter '*.part' | Should -BeNullOrEmpty
    }

    It 'reads the same figures back with Get-EtcdSnapshot, also from Get-ChildItem in the pipeline' {
        $read = Get-ChildItem $snapshot | Get-EtcdSnapshot
        $read.Hash | Should -Be $saved.Hash
        $read.Sha256 | Should -Be $saved.Sha256
        $read.Revision | Should -Be $saved.Revision
        $read.TotalKeys | Should -Be $saved.TotalKeys
        ($read | Format-Table | Out-String) | Should -Match 'Revision\s+TotalKeys\s+SizeMB\s+Hash'
    }

    It 'writes nothing with -WhatIf and replaces an existing file only with -Force' {
        $other = Join-Path $dir 'whatif.db'
        Save-EtcdSnapshot -Cluster $name -Path $other -WhatIf
        Test-Path $other | Should -BeFalse
        $before = (Get-Item $snapshot).LastWriteTimeUtc
        Start-Sleep -Milliseconds 20
        $again = Save-EtcdSnapshot -Cluster $name -Path $snapshot -Force
        (Get-Item $snapshot).LastWriteTimeUtc | Should -BeGreaterThan $before
        $again.Revision | Should -Be $saved.Revision
        $script:saved = $again
    }

    It 'creates nothing for Restore-EtcdSnapshot -WhatIf' {
        Restore-EtcdSnapshot $snapshot -Name $fresh -WhatIf
        Get-LabelledDockerObject $fresh | Should -BeNullOrEmpty
    }

    It 'restores into a new healthy cluster with every key and its revisions' {
        $before = etcdctl --endpoints ($c.Endpoints -join ',') get /registry/ --prefix -w json | ConvertFrom-Json
        $r = Restore-EtcdSnapshot $snapshot -Name $fresh -Size 1
        $r.Name | Should -Be $fresh
        $r.State | Should -Be 'Running'
        Test-EtcdCluster -Cluster $r -Quiet | Should -BeTrue
        $after = etcdctl --endpoints ($r.Endpoints -join ',') get /registry/ --prefix -w json | ConvertFrom-Json
        $after.kvs.Count | Should -Be 300
        ($after.kvs | ConvertTo-Json -Compress) | Should -Be ($before.kvs | ConvertTo-Json -Compress)
        # The whole key space with its history, as etcd hashes it: the source's HashKV at the snapshot's revision.
        $sourceHash = @(Get-EtcdctlHashKV $c.Endpoints $saved.Revision | Select-Object -ExpandProperty Hash -Unique)
        $sourceHash | Should -HaveCount 1
        (Get-EtcdctlHashKV $r.Endpoints $saved.Revision).Hash | Should -Be $sourceHash[0]
        # (restore containers are named after the members: this restore's only, tests beside it share the engine)
        $left = docker ps -aq --filter label=io.k3detcd.probe=restore --filter "name=^$fresh"
        $LASTEXITCODE | Should -Be 0
        $left | Should -BeNullOrEmpty
        Remove-EtcdCluster $fresh -Force
    }
}

Describe 'Restore-EtcdSnapshot takes the cluster parameters of New-EtcdCluster' -Tag Docker, Operations {
    BeforeAll {
        $script:restored = New-TestName 'opsrst'
        # Two adjacent free host ports for the two members (member i gets ClientPort+i).
        $script:port = 0
        foreach ($candidate in (Get-Random -Minimum 20000 -Maximum 29000 -Count 40)) {
            $listeners = @()
            try {
                foreach ($p in $candidate, ($candidate + 1)) {
                    $l = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, $p); $l.Start(); $listeners += $l
                }
                $script:port = $candidate
                break
            } catch { } finally { foreach ($l in $listeners) { $l.Stop() } }
        }
        $script:port | Should -BeGreaterThan 0
    }
    AfterAll { Remove-EtcdCluster $script:restored -Force -ErrorAction Ignore }

    It 'publishes the members on -ClientPort and passes -ExtraArgument and -AutoCompaction* to etcd' {
        $r = Restore-EtcdSnapshot $snapshot -Name $restored -Size 2 -ClientPort $port -ExtraArgument '--heartbeat-interval=150', '--election-timeout=1500' `
            -AutoCompactionMode revision -AutoCompactionRetention 1000 -WarningAction SilentlyContinue
        $r.State | Should -Be 'Running'
        $r.Endpoints | Sort-Object | Should -Be @("http://127.0.0.1:$port", "http://127.0.0.1:$($port + 1)")
        $published = foreach ($m in $r.Members) { docker port $m.ContainerName 2379/tcp }
        $published | Sort-Object | Should -Be @("127.0.0.1:$port", "127.0.0.1:$($port + 1)")
        foreach ($m in $r.Members) {
            $container = $m.ContainerName
            $cmd = (docker inspect -f '{{json .Config.Cmd}}' $container) | ConvertFrom-Json
            $cmd | Should -Contain '--heartbeat-interval=150'
            $cmd | Should -Contain '--election-timeout=1500'
            $cmd | Should -Contain '--auto-compaction-mode=revision'
            $cmd | Should -Contain '--auto-compaction-retention=1000'
        }
        $after = etcdctl --endpoints ($r.Endpoints -join ',') get /registry/ --prefix --keys-only -w json | ConvertFrom-Json
        $after.kvs.Count | Should -Be 300
    }

    It 'refuses -CertificateValidityDays without -Tls before anything is created, as New-EtcdCluster does' {
        $other = New-TestName 'opsrst'
        $err = $null
        try { Restore-EtcdSnapshot $snapshot -Name $other -Size 1 -CertificateValidityDays 30 -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -Be 'CertificateValidityWithoutTls,K3dEtcd.Commands.Etcd.RestoreEtcdSnapshotCommand'
        $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
        Get-LabelledDockerObject $other | Should -BeNullOrEmpty
    }

    It 'gives a -Tls restore certificates valid for -CertificateValidityDays' {
        $tls = New-TestName 'opsrst'
        try {
            $r = Restore-EtcdSnapshot $snapshot -Name $tls -Size 1 -Tls -CertificateValidityDays 30
            $r.Tls.NotAfter | Should -BeLessThan ([datetime]::UtcNow.AddDays(31))
            $r.Tls.NotAfter | Should -BeGreaterThan ([datetime]::UtcNow.AddDays(29))
            (Get-EtcdKey -Cluster $r -Key /registry/ -Prefix -CountOnly) | Should -Be 300
        } finally { Remove-EtcdCluster $tls -Force -ErrorAction Ignore }
    }
}

Describe 'Maintenance: members, alarms, compaction, defragmentation, optimization, leader, consistency' -Tag Docker, Operations {
    It 'passes -QuotaBackendBytes and -AutoCompactionRetention to every member' {
        foreach ($m in $c.Members) {
            $cmd = docker inspect $m.ContainerName --format '{{json .Config.Cmd}}' | ConvertFrom-Json
            $cmd | Should -Contain '--quota-backend-bytes=67108864'
            $cmd | Should -Contain '--auto-compaction-retention=1h'
        }
    }

    It 'shows DbSizeInUse, RaftAppliedIndex and Alarms in Get-EtcdMember' {
        $members = Get-EtcdMember -Cluster $name
        $members.Count | Should -Be 3
        foreach ($m in $members) {
            $m.DbSizeInUse | Should -BeGreaterThan 0
            $m.DbSizeInUse | Should -Not -BeGreaterThan $m.DbSize
            $m.RaftAppliedIndex | Should -BeGreaterThan 0
            @($m.Alarms).Count | Should -Be 0
        }
    }

    It 'lists no alarm on a healthy cluster and clears none' {
        Get-EtcdctlAlarm $c.Endpoints | Should -BeNullOrEmpty
        Get-EtcdAlarm -Cluster $name | Should -BeNullOrEmpty
        Clear-EtcdAlarm -Cluster $name -Confirm:$false -PassThru | Should -BeNullOrEmpty
    }

    It 'compacts with -KeepRevisions so that older revisions are unreadable for etcdctl' {
        # Piped keys go in transactions of 128, so the history so far is a handful of revisions: add some.
        1..15 | ForEach-Object { Set-EtcdKey -Cluster $name -Key /history -Value "h$_" }
        $rev = (etcdctl --endpoints $c.Endpoints[0] get /registry/configmaps/default/cm-1 -w json | ConvertFrom-Json).header.revision
        $r = Invoke-EtcdCompaction -Cluster $name -KeepRevisions 10 -Confirm:$false
        $r.Compacted | Should -BeTrue
        $r.Revision | Should -Be ($rev - 10)
        $out = etcdctl --endpoints $c.Endpoints[0] get /registry/configmaps/default/cm-1 --rev 2 2>&1
        $LASTEXITCODE | Should -Not -Be 0
        "$out" | Should -Match 'required revision has been compacted'
    }

    It 'defragments every member, the leader last' {
        $leader = (Get-EtcdMember -Cluster $name | Where-Object IsLeader).Name
        $d = Invoke-EtcdDefragmentation -Cluster $name -Confirm:$false
        $d.Count | Should -Be 3
        $d[-1].Member | Should -Be $leader
        $d | ForEach-Object { $_.DbSizeAfter | Should -BeGreaterThan 0 }
        ($d | Format-Table | Out-String) | Should -Match 'DbSizeBefore\s+DbSizeAfter'
    }

    It 'optimizes: compaction, a defragmentation per member, etcdctl sees the sizes it reports' {
        $o = Optimize-EtcdCluster -Cluster $name -Confirm:$false
        $o.Compaction | Should -Not -BeNullOrEmpty
        $o.Defragmentations.Count | Should -Be 3
        $sizes = Get-EtcdctlStatus $c.Endpoints | Measure-Object DbSize -Sum
        $sizes.Sum | Should -Be $o.DbSizeAfter
    }

    It 'moves the leader to the member named by -To, as etcdctl sees it' {
        $target = (Get-EtcdMember -Cluster $name | Where-Object { -not $_.IsLeader } | Select-Object -First 1)
        $led = Move-EtcdLeader -Cluster $name -To $target.Name -Confirm:$false
        $led.Name | Should -Be $target.Name
        $led.IsLeader | Should -BeTrue
        (Get-EtcdctlStatus $c.Endpoints).Leader | Sort-Object -Unique | Should -Be $target.Id
    }

    It 'completes member names for Move-EtcdLeader -To' {
        $line = "Move-EtcdLeader -Cluster $name -To "
        $r = TabExpansion2 -inputScript $line -cursorColumn $line.Length
        $r.CompletionMatches.CompletionText | Should -Be @("${name}0", "${name}1", "${name}2")
    }

    It 'tests consistency: one HashKV per member at one revision, all equal, as etcdctl hashes them' {
        $h = Test-EtcdCluster -Cluster $name -Consistency
        $h.Count | Should -Be 3
        $h | ForEach-Object { $_.Consistent | Should -BeTrue }
        @($h.Hash | Sort-Object -Unique).Count | Should -Be 1
        @($h.Revision | Sort-Object -Unique).Count | Should -Be 1
        # etcdctl, member by member at the newest revision (nothing writes meanwhile): the same revision, hash and compact revision.
        $ctl = @(Get-EtcdctlHashKV $c.Endpoints)
        $ctl | Should -HaveCount 3
        foreach ($m in $h) {
            $e = @($ctl | Where-Object Endpoint -EQ $m.Endpoint)
            $e | Should -HaveCount 1
            $e.Revision | Should -Be $m.Revision
            $e.Hash | Should -Be $m.Hash
            $e.CompactRevision | Should -Be $m.CompactRevision
        }
        Test-EtcdCluster -Cluster $name -Consistency -Quiet | Should -BeTrue
    }

    It 'changes nothing with -WhatIf (etcdctl: an old revision still readable, every dbSize and the leader unchanged)' {
        # Fresh history after the compactions above, and garbage for a defragmentation to reclaim.
        $first = (etcdctl --endpoints $c.Endpoints[0] put /whatif v1 -w json | ConvertFrom-Json).header.revision
        $LASTEXITCODE | Should -Be 0
        2..20 | ForEach-Object { etcdctl --endpoints $c.Endpoints[0] put /whatif "v$_" | Out-Null }
        $sizes = @{}; Get-EtcdctlStatus $c.Endpoints | ForEach-Object { $sizes[$_.Endpoint] = $_.DbSize }
        $leader = (Get-EtcdctlStatus $c.Endpoints).Leader | Sort-Object -Unique
        $other = (Get-EtcdMember -Cluster $name | Where-Object { -not $_.IsLeader } | Select-Object -First 1).Name
        Move-EtcdLeader -Cluster $name -To $other -WhatIf
        Invoke-EtcdCompaction -Cluster $name -WhatIf | Should -BeNullOrEmpty
        Invoke-EtcdCompaction -Cluster $name -KeepRevisions 1 -WhatIf | Should -BeNullOrEmpty
        Invoke-EtcdDefragmentation -Cluster $name -WhatIf | Should -BeNullOrEmpty
        Optimize-EtcdCluster -Cluster $name -KeepRevisions 1 -WhatIf | Should -BeNullOrEmpty
        # No compaction ran: the first of those revisions is still readable.
        etcdctl --endpoints $c.Endpoints[0] get /whatif --rev $first --print-value-only | Should -Be 'v1'
        $LASTEXITCODE | Should -Be 0
        # No defragmentation ran: etcd's own figure for each member's file is what it was.
        foreach ($s in Get-EtcdctlStatus $c.Endpoints) { $s.DbSize | Should -Be $sizes[$s.Endpoint] -Because "$($s.Endpoint) was not defragmented" }
        (Get-EtcdctlStatus $c.Endpoints).Leader | Sort-Object -Unique | Should -Be $leader
    }
}

Describe 'Bad input to the operations cmdlets' -Tag Docker, Operations {
    It 'refuses <Case> with <ErrorId> and creates nothing' -ForEach $badInput {
        $err = $null
        try { $ErrorActionPreference = 'Stop'; & $Call | Out-Null } catch { $err = $_ }
        $ErrorActionPreference = 'Continue'
        $err | Should -Not -BeNullOrEmpty
        $err.FullyQualifiedErrorId | Should -Be $ErrorId
        $err.CategoryInfo.Category | Should -Be $Category
        $err.Exception.Message | Should -Not -Match '   at '
        Get-LabelledDockerObject $fresh | Should -BeNullOrEmpty
        (Get-EtcdCluster $name).State | Should -Be 'Running'
    }
}

Describe 'NOSPACE: a full cluster says how to recover, and Optimize-EtcdCluster recovers it' -Tag Docker, Operations {
    BeforeAll {
        $script:small = New-TestName 'nospace'
        $script:s = New-EtcdCluster $script:small -Size 1 -QuotaBackendBytes 3MB
    }
    AfterAll { Remove-EtcdCluster $script:small -Force -ErrorAction Ignore }

    It 'fails Set-EtcdKey with EtcdNoSpace naming Optimize-EtcdCluster, then writes again after it' {
        $big = 'x' * 65536
        $acknowledged = @{}
        $err = $null
        for ($i = 0; $i -lt 2000 -and -not $err; $i++) {
            $key = "/fill/$($i % 8)"
            try { Set-EtcdKey -Cluster $small -Key $key -Value "$i$big" -ErrorAction Stop; $acknowledged[$key] = "$i$big" } catch { $err = $_ }
        }
        $err | Should -Not -BeNullOrEmpty
        $err.FullyQualifiedErrorId | Should -Be 'EtcdNoSpace,K3dEtcd.Commands.Etcd.SetEtcdKeyCommand'
        $err.CategoryInfo.Category | Should -Be 'QuotaExceeded'
        # One member: its defragmentation pauses the cluster, which -Force accepts; the message names the command that works.
        $err.Exception.Message | Should -BeLike "*'Optimize-EtcdCluster -Cluster $small -Force'*"
        (Get-EtcdAlarm -Cluster $small).Alarm | Should -Be 'NOSPACE'
        $ctlAlarms = @(Get-EtcdctlAlarm $s.Endpoints)
        $ctlAlarms | Should -HaveCount 1
        $ctlAlarms[0] | Should -Match '^memberID:\d+ alarm:NOSPACE$'
        # The refused put: etcd checks the quota again when it applies, so it may have applied that one anyway.
        $refusedKey = "/fill/$(($i - 1) % 8)"; $refusedValue = "$($i - 1)$big"

        $command = [regex]::Match($err.Exception.Message, "'(Optimize-EtcdCluster [^']+)'").Groups[1].Value
        $o = Invoke-Expression $command
        $o.AlarmsCleared.Alarm | Should -Be 'NOSPACE'
        $o.DbSizeAfter | Should -BeLessThan $o.DbSizeBefore
        Get-EtcdAlarm -Cluster $small | Should -BeNullOrEmpty
        Get-EtcdctlAlarm $s.Endpoints | Should -BeNullOrEmpty
        Set-EtcdKey -Cluster $small -Key /after -Value ok
        etcdctl --endpoints $s.Endpoints[0] get /after --print-value-only | Should -Be 'ok'
        # Every acknowledged write survived, read with etcdctl.
        $acknowledged.Count | Should -BeGreaterThan 0
        foreach ($k in $acknowledged.Keys) {
            $v = etcdctl --endpoints $s.Endpoints[0] get $k --print-value-only
            $LASTEXITCODE | Should -Be 0
            if ($k -eq $refusedKey) { $v | Should -BeIn @($acknowledged[$k], $refusedValue) } else { $v | Should -Be $acknowledged[$k] }
        }
    }

    It 'refuses to defragment a one-member cluster without -Force' {
        $err = $null
        try { Invoke-EtcdDefragmentation -Cluster $small -Confirm:$false -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -Be 'DefragmentationWouldBreakQuorum,K3dEtcd.Commands.Etcd.InvokeEtcdDefragmentationCommand'
        $err.CategoryInfo.Category | Should -Be 'InvalidOperation'
    }
}
