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

Describe 'Restore-EtcdSnapshot -Replace rebuilds a TLS cluster in place for the k3s servers that use it' -Tag Docker, Recovery {
    BeforeAll {
        Enter-FakeK3d; Use-FakeK3d
        $script:name = New-TestName 'inplace'
        $script:c = New-EtcdCluster $name -Size 3 -Tls
        $script:k3d = New-TestName 'k3s'
        $c | New-K3dCluster $k3d -Servers 1 -SkipPreflight -SkipVerify | Out-Null
        # The k3s servers' datastore files, where New-K3dCluster put them and where it mounts them (k3d -v ...@server:*).
        $script:k3sFiles = Join-Path $c.Tls.Directory "k3d/$k3d"
        $mounts = @{ 'ca.pem' = 'ca.crt'; "k3s-$k3d.pem" = 'client.crt'; "k3s-$k3d-key.pem" = 'client.key' }
        foreach ($f in $mounts.Keys) { Test-Path (Join-Path $k3sFiles $f) | Should -BeTrue -Because "New-K3dCluster wrote $f" }
        # A stand-in for a k3s server: on the cluster network, labelled as New-K3dCluster labels them, those files mounted read-only.
        $script:server = "k3d-$k3d-server-0"
        $v = foreach ($f in $mounts.Keys) { '-v'; "$(Join-Path $k3sFiles $f):/etc/k3detcd/datastore/$($mounts[$f]):ro" }
        # (The etcd image has no shell or sleep: the server container is created, and etcdctl runs beside it with the same mounts.)
        docker create --name $server --network $c.Network --label "io.k3detcd.etcd-cluster=$name" --label "k3d.cluster=$k3d" --label k3d.role=server @v $image | Out-Null
        $LASTEXITCODE | Should -Be 0
        $script:mountArgs = $v
        $script:datastore = ($c.Members | ForEach-Object NetworkClientUrl) -join ','
        function script:Invoke-K3sEtcdctl {
            docker run --rm --network $c.Network -e ETCDCTL_API=3 @mountArgs $image /usr/local/bin/etcdctl --endpoints $datastore --cacert /etc/k3detcd/datastore/ca.crt --cert /etc/k3detcd/datastore/client.crt --key /etc/k3detcd/datastore/client.key --command-timeout 10s @args
        }
        function script:Get-Hashes([string] $Dir) { Get-ChildItem -Recurse -File $Dir | ForEach-Object { "$($_.FullName)=$((Get-FileHash $_.FullName).Hash)" } | Sort-Object }

        foreach ($i in 1..20) { Invoke-K3sEtcdctl put "/before/$i" "v$i" | Out-Null }
        $script:snap = Join-Path $TestDrive 'inplace.db'
        Save-EtcdSnapshot -Cluster $c -Path $snap | Out-Null
        Invoke-K3sEtcdctl put /after/lost x | Out-Null
        $script:tlsBefore = Get-Hashes $c.Tls.Directory
        $script:caBytes = [IO.File]::ReadAllBytes($c.Tls.CaFile)
    }
    AfterAll {
        docker rm -f $server 2>$null | Out-Null
        Remove-EtcdCluster $name -Force -ErrorAction Ignore
        Exit-FakeK3d
    }

    It 'refuses a truncated snapshot before anything changes' {
        $cut = Join-Path $TestDrive 'cut.db'
        $bytes = [IO.File]::ReadAllBytes($snap); [IO.File]::WriteAllBytes($cut, $bytes[0..($bytes.Length / 2)])
        $ids = docker ps -q --filter "label=io.k3detcd.cluster=$name" | Sort-Object
        $vols = docker volume ls -q --filter "label=io.k3detcd.cluster=$name" | Sort-Object
        $err = $null
        try { Restore-EtcdSnapshot $cut -Cluster $name -Replace -Force -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -Be 'SnapshotTruncated,K3dEtcd.Commands.Etcd.RestoreEtcdSnapshotCommand'
        docker ps -q --filter "label=io.k3detcd.cluster=$name" | Sort-Object | Should -Be $ids
        docker volume ls -q --filter "label=io.k3detcd.cluster=$name" | Sort-Object | Should -Be $vols
        Get-Hashes $c.Tls.Directory | Should -Be $tlsBefore
    }

    It 'refuses New-EtcdCluster options with -Replace (ReplaceParametersConflict), and -WhatIf lists the members and changes nothing' {
        $err = $null
        try { Restore-EtcdSnapshot $snap -Cluster $name -Replace -Size 5 -Force -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -Be 'ReplaceParametersConflict,K3dEtcd.Commands.Etcd.RestoreEtcdSnapshotCommand'
        $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
        $ids = docker ps -q --filter "label=io.k3detcd.cluster=$name" | Sort-Object
        $text = Invoke-FreshPwsh "Restore-EtcdSnapshot '$snap' -Cluster $name -Replace -WhatIf" | Out-String
        $text | Should -Match ([regex]::Escape("3 members $($name)0, $($name)1, $($name)2"))
        $text | Should -Match 'kept until the new members are healthy'
        docker ps -q --filter "label=io.k3detcd.cluster=$name" | Sort-Object | Should -Be $ids
    }

    It 'two of three members lost with their volumes: rebuilt with the same names, URLs and CA; the k3s files read every key of the snapshot and write' {
        foreach ($m in $c.Members[1..2]) {
            docker rm -f -v $m.ContainerName | Out-Null; docker volume rm $m.Volume | Out-Null
            $LASTEXITCODE | Should -Be 0
        }
        $r = Restore-EtcdSnapshot $snap -Cluster $name -Replace -Force
        $r.State | Should -Be 'Running'
        $r.Members.Name | Should -Be $c.Members.Name
        $r.Members.ClientUrl | Should -Be $c.Members.ClientUrl -Because 'the host ports are the ones the cluster had'
        $r.Members.NetworkClientUrl | Should -Be $c.Members.NetworkClientUrl
        $r.Members.Id | Should -Be $c.Members.Id -Because 'member IDs follow the peer URLs and the cluster token'
        $keys = Invoke-K3sEtcdctl get /before/ --prefix --keys-only | Where-Object { $_ }
        $LASTEXITCODE | Should -Be 0
        $keys | Should -HaveCount 20
        Invoke-K3sEtcdctl get /after/lost --print-value-only | Should -BeNullOrEmpty -Because 'written after the snapshot'
        Invoke-K3sEtcdctl put /after/restore ok | Should -Be 'OK'
        Get-Hashes $c.Tls.Directory | Should -Be $tlsBefore -Because 'the CA, certificates and k3s client files are untouched'
        # The survivor's old volume went once the new members were healthy; every member is on a volume of its own.
        $vols = docker volume ls -q --filter "label=io.k3detcd.cluster=$name" | Sort-Object
        $vols | Should -HaveCount 3
        $vols | Should -Not -Contain $c.Members[0].Volume
        docker inspect -f '{{range .Mounts}}{{.Name}}{{end}}' $r.Members.ContainerName | Sort-Object | Should -Be $vols
    }

    It 'stopped like Ctrl+C half way: the old containers run again on their untouched volumes; a second run succeeds' {
        # Each running member with what it mounts (volume names and bind sources, sorted: Docker lists them in no fixed order).
        function Get-RunningMembers {
            foreach ($n in docker ps --filter "label=io.k3detcd.cluster=$name" --format '{{.Names}}' | Sort-Object) {
                "$n " + ((docker inspect --format '{{json .Mounts}}' $n | ConvertFrom-Json | ForEach-Object { if ($_.Name) { $_.Name } else { $_.Source } } | Sort-Object) -join ',')
            }
        }
        $before = Get-RunningMembers
        $before | Should -HaveCount 3
        $volsBefore = docker volume ls -q --filter "label=io.k3detcd.cluster=$name" | Sort-Object
        $ps = [powershell]::Create()
        $null = $ps.AddScript("Import-Module '$script:ModulePath'; `$ProgressPreference = 'SilentlyContinue'; Restore-EtcdSnapshot '$snap' -Cluster $name -Replace -Force -Verbose")
        $handle = $ps.BeginInvoke()
        $deadline = [DateTime]::UtcNow.AddSeconds(60)
        while (-not ($ps.Streams.Verbose.Message -match 'volumes and containers created') -and [DateTime]::UtcNow -lt $deadline -and -not $handle.IsCompleted) { Start-Sleep -Milliseconds 50 }
        $ps.Streams.Verbose.Message -match 'volumes and containers created' | Should -Not -BeNullOrEmpty
        $ps.Stop()
        $ps.Dispose()
        Get-RunningMembers | Should -Be $before
        docker volume ls -q --filter "label=io.k3detcd.cluster=$name" | Sort-Object | Should -Be $volsBefore
        Get-Hashes $c.Tls.Directory | Should -Be $tlsBefore
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        do { $value = Invoke-K3sEtcdctl get /after/restore --print-value-only 2>$null } until ($value -eq 'ok' -or [DateTime]::UtcNow -gt $deadline)
        $value | Should -Be 'ok' -Because 'the old members, started again, serve their data'
        $r = Restore-EtcdSnapshot $snap -Cluster $name -Replace -Force -KeepData
        $r.State | Should -Be 'Running'
        Invoke-K3sEtcdctl get /before/ --prefix --keys-only | Where-Object { $_ } | Should -HaveCount 20
        $vols = docker volume ls -q --filter "label=io.k3detcd.cluster=$name" | Sort-Object
        $vols | Should -HaveCount 6 -Because '-KeepData keeps the old volumes beside the new ones'
        foreach ($v in $volsBefore) { $vols | Should -Contain $v }
    }

    It 'total loss, no container and no volume left (Broken): rebuilt with the old CA, read with the old client files (issue 33)' {
        docker rm -f -v ($c.Members.ContainerName) | Out-Null
        docker volume ls -q --filter "label=io.k3detcd.cluster=$name" | ForEach-Object { docker volume rm $_ | Out-Null }
        (Get-EtcdCluster $name).State | Should -Be 'Broken'
        $r = Restore-EtcdSnapshot $snap -Cluster $name -Replace -Force
        $r.State | Should -Be 'Running'
        $r.Members.ClientUrl | Should -Be $c.Members.ClientUrl
        [IO.File]::ReadAllBytes($c.Tls.CaFile) | Should -Be $caBytes
        $keys = etcdctl --endpoints ($c.Endpoints -join ',') --cacert $c.Tls.CaFile --cert $c.Tls.ClientCertFile --key $c.Tls.ClientKeyFile get /before/ --prefix --keys-only | Where-Object { $_ }
        $keys | Should -HaveCount 20
        Invoke-K3sEtcdctl put /after/total ok | Should -Be 'OK'
    }
}

Describe 'Repair-EtcdMember brings a member that lost its volume back at the same URL' -Tag Docker, Recovery {
    BeforeAll {
        $script:name = New-TestName 'repair'
        $script:c = New-EtcdCluster $name -Size 3 -Tls
        $script:ctl = Get-Ctl $c
        $script:work = Join-Path $TestDrive 'writer'; New-Item -ItemType Directory $work | Out-Null
    }
    AfterAll {
        if ($script:writer -and -not $writer.HasExited) { $writer.Kill() }
        Remove-EtcdCluster $name -Force -ErrorAction Ignore
    }

    It 'is refused without a quorum among the others (RepairNeedsQuorum), naming the commands that help; nothing changes' {
        $solo = New-EtcdCluster (New-TestName 'solo') -Size 3
        try {
            docker stop $solo.Members[1].ContainerName $solo.Members[2].ContainerName | Out-Null
            $ids = docker ps -aq --filter "label=io.k3detcd.cluster=$($solo.Name)" | Sort-Object
            $err = $null
            try { Repair-EtcdMember $solo.Name $solo.Members[2].Name -Force -TimeoutSeconds 5 -ErrorAction Stop } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -BeIn @('RepairNeedsQuorum,K3dEtcd.Commands.Etcd.RepairEtcdMemberCommand', 'EtcdClusterDegraded,K3dEtcd.Commands.Etcd.RepairEtcdMemberCommand')
            docker start $solo.Members[1].ContainerName | Out-Null
            docker stop $solo.Members[0].ContainerName | Out-Null
            docker rm -f $solo.Members[0].ContainerName | Out-Null
            docker stop $solo.Members[2].ContainerName | Out-Null
            docker rm -f $solo.Members[2].ContainerName | Out-Null
            $err = $null
            try { Repair-EtcdMember $solo.Name $solo.Members[2].Name -Force -TimeoutSeconds 5 -ErrorAction Stop } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -Be 'RepairNeedsQuorum,K3dEtcd.Commands.Etcd.RepairEtcdMemberCommand'
            $err.CategoryInfo.Category | Should -Be 'ResourceUnavailable'
            $err.Exception.Message | Should -Match ([regex]::Escape("Restore-EtcdSnapshot PATH -Cluster $($solo.Name) -Replace"))
            $err.Exception.Message | Should -Match ([regex]::Escape("Repair-EtcdCluster -Cluster $($solo.Name) -FromMember"))
            docker ps -aq --filter "label=io.k3detcd.cluster=$($solo.Name)" | Should -HaveCount 1
            docker volume ls -q --filter "label=io.k3detcd.cluster=$($solo.Name)" | Should -HaveCount 3 -Because 'nothing was removed'
        }
        finally { Remove-EtcdCluster $solo.Name -Force -ErrorAction Ignore }
    }

    It 'under an etcdctl writer: three voters, no learner, the same client URL, HashKV equal, every acknowledged write present' {
        $lost = $c.Members[1]
        # The writer: one etcdctl put after another, each acknowledged key appended to a file.
        Set-Content "$work/writer.sh" "i=0; while [ ! -e '$work/stop' ]; do if etcdctl $($ctl -join ' ') put /w/`$i `$i >/dev/null 2>>'$work/errors'; then echo `$i >> '$work/acked'; fi; i=`$((i+1)); done"
        $script:writer = Start-Process bash -PassThru -ArgumentList "$work/writer.sh"
        Start-Sleep -Seconds 2
        docker rm -f -v $lost.ContainerName | Out-Null
        docker volume rm $lost.Volume | Out-Null
        $LASTEXITCODE | Should -Be 0
        $m = Repair-EtcdMember -Cluster $c -Name $lost.Name -Force
        Start-Sleep -Seconds 2
        New-Item "$work/stop" | Out-Null
        $writer.WaitForExit(30000) | Should -BeTrue
        $m.Name | Should -Be $lost.Name
        $m.ClientUrl | Should -Be $lost.ClientUrl
        $m.NetworkClientUrl | Should -Be $lost.NetworkClientUrl
        $list = (etcdctl @ctl member list -w json | ConvertFrom-Json).members
        $list | Should -HaveCount 3
        @($list | Where-Object isLearner) | Should -HaveCount 0
        $list.name | Sort-Object | Should -Be ($c.Members.Name | Sort-Object)
        $hash = etcdctl @ctl endpoint hashkv -w json | ConvertFrom-Json
        $hash | Should -HaveCount 3
        @($hash.HashKV.hash | Select-Object -Unique) | Should -HaveCount 1 -Because 'every member holds the same keys'
        $acked = Get-Content "$work/acked"
        $acked.Count | Should -BeGreaterThan 10
        $keys = etcdctl @ctl get /w/ --prefix --keys-only | Where-Object { $_ }
        $missing = $acked | Where-Object { "/w/$_" -notin $keys }
        $missing | Should -BeNullOrEmpty
        docker volume ls -q --filter "label=io.k3detcd.cluster=$name" | Should -HaveCount 3
    }
}

Describe 'Repair-EtcdCluster -FromMember rebuilds a cluster that lost its quorum from a survivor, with no snapshot' -Tag Docker, Recovery {
    BeforeAll {
        $script:name = New-TestName 'fromm'
        $script:c = New-EtcdCluster $name -Size 3 -Tls
        $script:ctl = Get-Ctl $c
        foreach ($i in 1..20) { etcdctl @ctl put "/before/$i" "v$i" | Out-Null }
    }
    AfterAll { Remove-EtcdCluster $name -Force -ErrorAction Ignore }

    It 'is refused while a quorum is up (RepairClusterHasQuorum), nothing changed' {
        $ids = docker ps -q --filter "label=io.k3detcd.cluster=$name" | Sort-Object
        $err = $null
        try { Repair-EtcdCluster $name -FromMember $c.Members[0].Name -Force -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -Be 'RepairClusterHasQuorum,K3dEtcd.Commands.Etcd.RepairEtcdClusterCommand'
        $err.CategoryInfo.Category | Should -Be 'InvalidOperation'
        $err.Exception.Message | Should -Match 'Repair-EtcdMember'
        docker ps -q --filter "label=io.k3detcd.cluster=$name" | Sort-Object | Should -Be $ids
    }

    It 'two of three members lost with their volumes: three voters again at the same URLs, the keys written before the loss present (etcdctl)' {
        foreach ($m in $c.Members[1..2]) {
            docker rm -f -v $m.ContainerName | Out-Null; docker volume rm $m.Volume | Out-Null
            $LASTEXITCODE | Should -Be 0
        }
        $r = Repair-EtcdCluster $name -FromMember $c.Members[0].Name -Force -WarningVariable w -WarningAction SilentlyContinue
        ($w -join ' ') | Should -Match 'writes .* had not received .* are gone'
        $r.State | Should -Be 'Running'
        $r.Members.Name | Should -Be $c.Members.Name
        $r.Members.ClientUrl | Should -Be $c.Members.ClientUrl
        $list = (etcdctl @ctl member list -w json | ConvertFrom-Json).members
        $list | Should -HaveCount 3
        @($list | Where-Object isLearner) | Should -HaveCount 0
        etcdctl @ctl get /before/ --prefix --keys-only | Where-Object { $_ } | Should -HaveCount 20
        etcdctl @ctl put /after/rebuild ok | Should -Be 'OK'
        $hash = etcdctl @ctl endpoint hashkv -w json | ConvertFrom-Json
        $hash | Should -HaveCount 3
        @($hash.HashKV.hash | Select-Object -Unique) | Should -HaveCount 1 -Because 'every member holds the survivor''s keys'
        Get-ChildItem ([IO.Path]::GetTempPath()) -Filter 'k3detcd-rebuild-*' | Should -BeNullOrEmpty -Because 'the copied database holds secrets'
        docker volume ls -q --filter "label=io.k3detcd.cluster=$name" | Should -HaveCount 3
    }
}
