BeforeDiscovery {
    $script:dataBadInput = @(
        @{ Case = 'an empty key for Get-EtcdKey'; Call = { Get-EtcdKey -Cluster $cluster -Key '' }; ErrorId = 'EtcdKeyEmpty,K3dEtcd.Commands.Etcd.GetEtcdKeyCommand'; Category = 'InvalidArgument' }
        @{ Case = 'an empty key for Set-EtcdKey'; Call = { Set-EtcdKey -Cluster $cluster -Key '' -Value x }; ErrorId = 'EtcdKeyEmpty,K3dEtcd.Commands.Etcd.SetEtcdKeyCommand'; Category = 'InvalidArgument' }
        @{ Case = 'an empty key for Remove-EtcdKey'; Call = { Remove-EtcdKey -Cluster $cluster -Key '' -Confirm:$false }; ErrorId = 'EtcdKeyEmpty,K3dEtcd.Commands.Etcd.RemoveEtcdKeyCommand'; Category = 'InvalidArgument' }
        @{ Case = 'a piped object without Key for Set-EtcdKey'; Call = { [pscustomobject]@{ Name = '/x'; Value = 'y' } | Set-EtcdKey -Cluster $cluster }; ErrorId = 'InputObjectMissingMandatory,K3dEtcd.Commands.Etcd.SetEtcdKeyCommand'; Category = 'InvalidArgument' }
        @{ Case = 'a piped object with neither Key nor Value for Set-EtcdKey'; Call = { [pscustomobject]@{ Name = '/x' } | Set-EtcdKey -Cluster $cluster }; ErrorId = 'InputObjectNotBound,K3dEtcd.Commands.Etcd.SetEtcdKeyCommand'; Category = 'InvalidArgument' }
        @{ Case = 'a piped object without Key for Remove-EtcdKey'; Call = { [pscustomobject]@{ Name = '/x' } | Remove-EtcdKey -Cluster $cluster -Confirm:$false }; ErrorId = 'InputObjectNotBound,K3dEtcd.Commands.Etcd.RemoveEtcdKeyCommand'; Category = 'InvalidArgument' }
        @{ Case = 'a negative limit'; Call = { Get-EtcdKey -Cluster $cluster -Key / -Prefix -Limit -1 }; ErrorId = 'ParameterArgumentValidationError,K3dEtcd.Commands.Etcd.GetEtcdKeyCommand'; Category = 'InvalidData' }
        @{ Case = 'an endpoint that is not a URL'; Call = { Get-EtcdKey -Endpoint 'not a url' -Key /x }; ErrorId = 'EtcdEndpointInvalid,K3dEtcd.Commands.Etcd.GetEtcdKeyCommand'; Category = 'InvalidArgument' }
        @{ Case = 'an endpoint without a scheme'; Call = { Get-EtcdMember -Endpoint '127.0.0.1:2379' }; ErrorId = 'EtcdEndpointInvalid,K3dEtcd.Commands.Etcd.GetEtcdMemberCommand'; Category = 'InvalidArgument' }
        @{ Case = 'a CA file that does not exist'; Call = { Get-EtcdKey -Endpoint $cluster.Endpoints[0] -CaFile '/nonexistent/k3detcd/ca.pem' -Key /x }; ErrorId = 'EtcdTlsFileNotFound,K3dEtcd.Commands.Etcd.GetEtcdKeyCommand'; Category = 'ObjectNotFound' }
        @{ Case = 'a CA file that is not a certificate'; Call = { Test-EtcdCluster -Endpoint $cluster.Endpoints[0] -CaFile $notPem }; ErrorId = 'EtcdCaFileInvalid,K3dEtcd.Commands.Etcd.TestEtcdClusterCommand'; Category = 'InvalidArgument' }
        @{ Case = 'a certificate without its key'; Call = { Get-EtcdLeaderStats -Endpoint $cluster.Endpoints[0] -CertFile $notPem }; ErrorId = 'EtcdClientCertificateIncomplete,K3dEtcd.Commands.Etcd.GetEtcdLeaderStatsCommand'; Category = 'InvalidArgument' }
        @{ Case = 'an unknown cluster name'; Call = { Get-EtcdKey -Cluster 'no-such-cluster-k3detcd' -Key /x }; ErrorId = 'EtcdClusterNotFound,K3dEtcd.Commands.Etcd.GetEtcdKeyCommand'; Category = 'ObjectNotFound' }
        @{ Case = '-Lease with -TtlSeconds'; Call = { Set-EtcdKey -Cluster $cluster -Key /x -Value y -Lease 5 -TtlSeconds 5 }; ErrorId = 'EtcdLeaseConflict,K3dEtcd.Commands.Etcd.SetEtcdKeyCommand'; Category = 'InvalidArgument' }
        @{ Case = 'a missing key'; Call = { Get-EtcdKey -Cluster $cluster -Key '/no/such/key' }; ErrorId = 'EtcdKeyNotFound,K3dEtcd.Commands.Etcd.GetEtcdKeyCommand'; Category = 'ObjectNotFound' }
    )
}

BeforeAll {
    . "$PSScriptRoot/TestHelpers.ps1"
    Assert-DockerAvailable

    # etcdctl get -w json of one key.
    function Get-CtlKey([string] $Endpoint, [string] $Key) {
        $r = etcdctl --endpoints $Endpoint get $Key -w json | ConvertFrom-Json
        $r.kvs | Select-Object -First 1
    }
    function ConvertFrom-B64([string] $s) { [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($s)) }

    # Runs a command in its own runspace with the module, so a test can stop it like Ctrl+C does.
    function Start-InRunspace([string] $Script) {
        $ps = [powershell]::Create()
        $null = $ps.AddScript("Import-Module '$script:ModulePath'; $Script")
        [pscustomobject]@{ PowerShell = $ps; Handle = $ps.BeginInvoke() }
    }

    # A follower's latency from the module (seconds) against etcd's own v2 JSON (milliseconds: etcd's
    # FollowerStats.Succ stores float64(d) / 1000000.0 of a time.Duration), read with curl just before
    # and just after the module. etcd's minimum only falls and its maximum only rises, so the module's
    # value x 1000 lies between the two reads; the current and average values lie within [minimum,
    # maximum] of the later read; k new samples move an average of n by at most k*(max-min)/n; with no
    # new sample every figure is exactly curl's.
    function Assert-V2LatencyInSeconds($Follower, $Before, $After) {
        $b = $Before.followers.($Follower.Id); $a = $After.followers.($Follower.Id)
        $b | Should -Not -BeNullOrEmpty; $a | Should -Not -BeNullOrEmpty
        $a.counts.success | Should -BeGreaterThan 0 -Because 'a follower with no sample has no latency to compare'
        $l = $Follower.Latency; $eps = 1e-9
        ($l.Minimum * 1000) | Should -BeGreaterOrEqual ($a.latency.minimum - $eps)
        ($l.Minimum * 1000) | Should -BeLessOrEqual ($b.latency.minimum + $eps)
        ($l.Maximum * 1000) | Should -BeGreaterOrEqual ($b.latency.maximum - $eps)
        ($l.Maximum * 1000) | Should -BeLessOrEqual ($a.latency.maximum + $eps)
        foreach ($v in $l.Current, $l.Average) {
            ($v * 1000) | Should -BeGreaterOrEqual ($a.latency.minimum - $eps)
            ($v * 1000) | Should -BeLessOrEqual ($a.latency.maximum + $eps)
        }
        $k = $a.counts.success - $b.counts.success
        if ($b.counts.success -gt 0) {
            $drift = $k * ($a.latency.maximum - $a.latency.minimum) / $b.counts.success + $eps
            [math]::Abs($l.Average * 1000 - $b.latency.average) | Should -BeLessOrEqual $drift
        }
        if ($k -eq 0) {
            ($l.Current * 1000) | Should -BeGreaterOrEqual ($b.latency.current - $eps)
            ($l.Current * 1000) | Should -BeLessOrEqual ($b.latency.current + $eps)
            [math]::Abs($l.StandardDeviation * 1000 - $b.latency.standardDeviation) | Should -BeLessOrEqual $eps
        }
    }

    # The leader's round-trip histogram to one peer, read with curl: sum (seconds) and count.
    function Get-PeerRoundTrip([string] $Endpoint, [string] $To) {
        $sum = 0.0; $count = 0.0
        foreach ($line in (curl -s @script:curlTls "$Endpoint/metrics")) {
            if ($line -match "^etcd_network_peer_round_trip_time_seconds_(sum|count)\{[^}]*To=`"$To`"[^}]*\} (\S+)") {
                if ($Matches[1] -eq 'sum') { $sum += [double]$Matches[2] } else { $count += [double]$Matches[2] }
            }
        }
        [pscustomobject]@{ Sum = $sum; Count = $count }
    }

    # The member that holds a watch, from etcd's own watcher gauge (curl, with the client certificate on a TLS cluster).
    function Wait-Watcher([string[]] $Endpoints) {
        for ($i = 0; $i -lt 100; $i++) {
            foreach ($e in $Endpoints) {
                $line = (curl -s @script:curlTls "$e/metrics") | Where-Object { $_ -like 'etcd_debugging_mvcc_watcher_total *' }
                if ($line -and [double]($line -split ' ')[1] -gt 0) { return $e }
            }
            Start-Sleep -Milliseconds 100
        }
        throw 'no member reports a watcher'
    }
}

# The same tests against a plain and a TLS cluster: a TLS cluster object (or name) must work with
# no extra parameters, -Endpoint with -CaFile/-CertFile/-KeyFile; etcdctl and curl get the client
# certificate too (etcdctl through its ETCDCTL_CACERT/CERT/KEY variables).
Describe 'etcd data plane cmdlets (<Mode>)' -Tag Docker, DataPlane -ForEach @(@{ Mode = 'http'; Tls = $false }, @{ Mode = 'TLS'; Tls = $true }) {
    BeforeAll {
        $script:name = New-TestName $(if ($Tls) { 'pdtls' } else { 'pdata' })
        $script:cluster = New-EtcdCluster $script:name -Tls:$Tls -ProgressAction SilentlyContinue
        $script:ctl = $script:cluster.Endpoints -join ','
        $script:tlsFiles = @{}
        $script:tlsText = ''
        $script:curlTls = @()
        if ($Tls) {
            $t = $script:cluster.Tls
            $script:tlsFiles = @{ CaFile = $t.CaFile; CertFile = $t.ClientCertFile; KeyFile = $t.ClientKeyFile }
            $script:tlsText = "-CaFile '$($t.CaFile)' -CertFile '$($t.ClientCertFile)' -KeyFile '$($t.ClientKeyFile)'"
            $script:curlTls = @('--cacert', $t.CaFile, '--cert', $t.ClientCertFile, '--key', $t.ClientKeyFile)
            $env:ETCDCTL_CACERT = $t.CaFile; $env:ETCDCTL_CERT = $t.ClientCertFile; $env:ETCDCTL_KEY = $t.ClientKeyFile
        }
        $script:notPem = Join-Path ([IO.Path]::GetTempPath()) "k3detcd-notpem-$([guid]::NewGuid().ToString('N')).pem"
        Set-Content -Path $script:notPem -Value 'not a certificate'
    }
    AfterAll {
        Remove-Item $script:notPem -ErrorAction Ignore
        Remove-Item Env:ETCDCTL_CACERT, Env:ETCDCTL_CERT, Env:ETCDCTL_KEY -ErrorAction Ignore
        Get-EtcdCluster $script:name -ErrorAction Ignore | Remove-EtcdCluster -Force -ErrorAction Ignore
    }

    It 'writes a key that every member returns, with the revisions etcdctl sees' {
        $set = Set-EtcdKey -Cluster $cluster -Key /foo -Value bar -PassThru
        $set.PSObject.TypeNames[0] | Should -Be 'K3dEtcd.Model.EtcdKeyValue'
        $reads = $cluster.Members | ForEach-Object { Get-EtcdKey -Endpoint $_.ClientUrl -Key /foo @tlsFiles }
        $reads | Should -HaveCount 3
        $reads.Value | Should -Be @('bar', 'bar', 'bar')
        $ctlKv = Get-CtlKey $ctl /foo
        ConvertFrom-B64 $ctlKv.value | Should -Be 'bar'
        $reads.ModRevision | Should -Be (@($ctlKv.mod_revision) * 3)
        $set.ModRevision | Should -Be $ctlKv.mod_revision
    }

    It 'takes the cluster as an object, a name, from the pipeline, or endpoints' {
        etcdctl --endpoints $ctl put /by/ctl 'from etcdctl' | Out-Null
        (Get-EtcdKey -Cluster $name -Key /by/ctl).Value | Should -Be 'from etcdctl'
        ($cluster | Get-EtcdKey -Key /by/ctl).Value | Should -Be 'from etcdctl'
        ($name | Get-EtcdKey -Key /by/ctl).Value | Should -Be 'from etcdctl'
        (Get-EtcdKey -Endpoint ($cluster.Endpoints -join ',') -Key /by/ctl @tlsFiles).Value | Should -Be 'from etcdctl'
        (Get-EtcdKey -Endpoint $cluster.Endpoints -Key /by/ctl @tlsFiles).ModRevision | Should -Be (Get-CtlKey $ctl /by/ctl).mod_revision
    }

    It 'shows Kubernetes objects under /registry/ and binary values safely' {
        # A value as kube-apiserver writes it: "k8s\0" + runtime.Unknown{ typeMeta{ apiVersion "v1", kind "Pod" }, raw }.
        $typeMeta = [byte[]](0x0A, 2) + [Text.Encoding]::ASCII.GetBytes('v1') + [byte[]](0x12, 3) + [Text.Encoding]::ASCII.GetBytes('Pod')
        $unknown = [byte[]](0x0A, $typeMeta.Length) + $typeMeta + [byte[]](0x12, 3, 1, 2, 27)
        [byte[]] $value = [Text.Encoding]::ASCII.GetBytes("k8s`0") + $unknown
        Set-EtcdKey -Cluster $cluster -Key /registry/pods/default/web-0 -Value $value
        etcdctl --endpoints $ctl put /registry/configmaps/kube-system/cfg '{"kind":"ConfigMap","apiVersion":"v1","data":{}}' | Out-Null

        $pod = Get-EtcdKey -Cluster $cluster -Key /registry/pods/default/web-0 -AsByteArray
        $pod.Resource, $pod.Namespace, $pod.Name, $pod.Kind, $pod.ApiVersion | Should -Be @('pods', 'default', 'web-0', 'Pod', 'v1')
        $pod.IsBinary | Should -BeTrue
        $pod.Value | Should -Not -Match '[\x00-\x08\x1b]'
        $pod.ByteLength | Should -Be $value.Length
        [Convert]::ToBase64String($pod.Bytes) | Should -Be (Get-CtlKey $ctl /registry/pods/default/web-0).value

        $cm = Get-EtcdKey -Cluster $cluster -Key /registry/ -Prefix | Where-Object Resource -EQ 'configmaps'
        $cm.Kind, $cm.ApiVersion, $cm.Namespace, $cm.Name | Should -Be @('ConfigMap', 'v1', 'kube-system', 'cfg')
    }

    It 'pipes objects into transactions of 128, in order' {
        $objects = 1..1000 | ForEach-Object { [pscustomobject]@{ Key = "/bulk/$_"; Value = "$_" } }
        # The same key twice in one stream: the later value must win.
        $objects += [pscustomobject]@{ Key = '/bulk/1'; Value = 'last' }
        $verbose = $objects | Set-EtcdKey -Cluster $cluster -PassThru -Verbose 4>&1
        $written = $verbose | Where-Object { $_ -is [K3dEtcd.Model.EtcdKeyValue] }
        $written | Should -HaveCount 1001
        ($written.Key -join ',') | Should -Be ($objects.Key -join ',')
        $revs = $written.ModRevision
        # Transactions are in flight side by side, so etcd may apply them in any order, except for a key written twice.
        $revs[-1] | Should -BeGreaterThan $revs[0]
        @($revs | Select-Object -Unique) | Should -HaveCount 8   # ceil(1001 / 128) transactions
        ($verbose | Where-Object { $_ -is [Management.Automation.VerboseRecord] -and $_.Message -like '*transaction of 128 puts*' }) | Should -HaveCount 7
        (etcdctl --endpoints $ctl get /bulk/ --prefix --keys-only -w json | ConvertFrom-Json).count | Should -Be 1000
        ConvertFrom-B64 (Get-CtlKey $ctl /bulk/1).value | Should -Be 'last'
        (Get-EtcdKey -Cluster $cluster -Key /bulk/1).Version | Should -Be 2
    }

    It 'keeps the last piped value of every key with several transactions in flight (etcdctl agrees)' {
        # 60 keys written over and over, interleaved with keys written once: a key comes back while its
        # last transaction may still be in flight, and twice within one transaction's 128 puts.
        $objects = for ($i = 0; $i -lt 3600; $i++) {
            [pscustomobject]@{ Key = "/lww/same/$($i % 60)"; Value = "$i" }
            if ($i % 3 -eq 0) { [pscustomobject]@{ Key = "/lww/once/$i"; Value = "$i" } }
        }
        $objects | Set-EtcdKey -Cluster $cluster
        $ctlKvs = (etcdctl --endpoints $ctl get /lww/same/ --prefix -w json | ConvertFrom-Json).kvs
        $ctlKvs | Should -HaveCount 60
        foreach ($kv in $ctlKvs) {
            $k = [int](ConvertFrom-B64 $kv.key).Split('/')[-1]
            ConvertFrom-B64 $kv.value | Should -Be "$(3540 + $k)" -Because "the last of the values piped to /lww/same/$k"
            $kv.version | Should -Be 60   # every one of its values was written, none lost or doubled
        }
        (etcdctl --endpoints $ctl get /lww/once/ --prefix --keys-only -w json | ConvertFrom-Json).count | Should -Be 1200
        etcdctl --endpoints $ctl del /lww/ --prefix | Out-Null
    }

    It 'keeps per-item errors per item while transactions are in flight' {
        $objects = 1..300 | ForEach-Object { [pscustomobject]@{ Key = $(if ($_ % 100 -eq 0) { '' } else { "/items/$_" }); Value = "$_" } }
        $errors = $null
        $objects | Set-EtcdKey -Cluster $cluster -ErrorVariable errors -ErrorAction SilentlyContinue
        $errors | Should -HaveCount 3
        $errors.FullyQualifiedErrorId | Select-Object -Unique | Should -Be 'EtcdKeyEmpty,K3dEtcd.Commands.Etcd.SetEtcdKeyCommand'
        (etcdctl --endpoints $ctl get /items/ --prefix --keys-only -w json | ConvertFrom-Json).count | Should -Be 297
        etcdctl --endpoints $ctl del /items/ --prefix | Out-Null
    }

    It 'shows the phases of a read with their times in -Verbose' {
        $verbose = Get-EtcdKey -Cluster $cluster -Key /bulk/ -Prefix -Verbose 4>&1 | Where-Object { $_ -is [Management.Automation.VerboseRecord] }
        $phases = $verbose.Message | Where-Object { $_ -match '^\[ *\d+ ms\] ' }
        $names = @($phases -replace '^\[ *\d+ ms\] ')
        $names | Should -HaveCount 3 -Because ($verbose.Message -join "`n")
        $names[0] | Should -Be "connection ready ($name)"
        $names[1] | Should -BeLike 'first page: 1000 keys at revision *'
        $names[2] | Should -Be '1000 objects written'
        $ms = $phases | ForEach-Object { [int]($_ -replace '^\[ *(\d+) ms\].*', '$1') }
        $ms[1] | Should -BeGreaterOrEqual $ms[0]
        $ms[2] | Should -BeGreaterOrEqual $ms[1]
    }

    It 'reads with -KeysOnly, -CountOnly, -Limit, -FromKey and -Revision' {
        Get-EtcdKey -Cluster $cluster -Key /bulk/ -Prefix -CountOnly | Should -Be 1000
        $keysOnly = Get-EtcdKey -Cluster $cluster -Key /bulk/ -Prefix -KeysOnly -Limit 5
        $keysOnly | Should -HaveCount 5
        $keysOnly.Key | Should -Be @('/bulk/1', '/bulk/10', '/bulk/100', '/bulk/1000', '/bulk/101')
        $keysOnly.Value | Where-Object { $null -ne $_ } | Should -BeNullOrEmpty
        (Get-EtcdKey -Cluster $cluster -Key /bulk/998 -FromKey -Limit 3).Key | Should -Be @('/bulk/998', '/bulk/999', '/by/ctl')
        $before = Get-EtcdKey -Cluster $cluster -Key /foo
        Set-EtcdKey -Cluster $cluster -Key /foo -Value changed
        (Get-EtcdKey -Cluster $cluster -Key /foo -Revision $before.ModRevision).Value | Should -Be 'bar'
        (Get-EtcdKey -Cluster $cluster -Key /foo).Value | Should -Be 'changed'
    }

    It 'removes piped keys, prefixes, and nothing with -WhatIf' {
        Get-EtcdKey -Cluster $cluster -Key /bulk/99 -Prefix | Remove-EtcdKey -Cluster $cluster -WhatIf
        Remove-EtcdKey -Cluster $cluster -Key /bulk/ -Prefix -WhatIf
        Get-EtcdKey -Cluster $cluster -Key /bulk/ -Prefix -CountOnly | Should -Be 1000
        $removed = Get-EtcdKey -Cluster $cluster -Key /bulk/9 -Prefix | Remove-EtcdKey -Cluster $cluster -Confirm:$false -PassThru
        $removed | Should -HaveCount 111
        (etcdctl --endpoints $ctl get /bulk/9 --prefix --keys-only -w json | ConvertFrom-Json).kvs | Should -BeNullOrEmpty
        $rest = Remove-EtcdKey -Cluster $cluster -Key /bulk/ -Prefix -Confirm:$false -PassThru
        $rest | Should -HaveCount 889
        (etcdctl --endpoints $ctl get /bulk/ --prefix --keys-only -w json | ConvertFrom-Json).kvs | Should -BeNullOrEmpty
    }

    It 'attaches keys to a lease with -TtlSeconds (etcdctl sees the lease)' {
        $kv = Set-EtcdKey -Cluster $cluster -Key /ttl/a -Value 1 -TtlSeconds 120 -PassThru
        $kv.Lease | Should -Not -Be 0
        (Get-CtlKey $ctl /ttl/a).lease | Should -Be $kv.Lease
        $ttl = etcdctl --endpoints $ctl lease timetolive ('{0:x}' -f $kv.Lease)
        $ttl | Should -Match 'granted with TTL\(120s\)'
    }

    It 'lists members like etcdctl member list, and the leader like etcdctl endpoint status' {
        $members = Get-EtcdMember -Cluster $cluster
        $members | Should -HaveCount 3
        $list = (etcdctl --endpoints $ctl member list -w json | ConvertFrom-Json).members
        ($members.Id | Sort-Object) | Should -Be ($list | ForEach-Object { ([uint64]$_.ID).ToString('x') } | Sort-Object)
        $status = etcdctl --endpoints $ctl endpoint status -w json | ConvertFrom-Json
        ($members | Where-Object IsLeader).Id | Should -Be ([uint64]$status[0].Status.leader).ToString('x')
        $members.Healthy | Should -Not -Contain $false
        $members | ForEach-Object { $_.RaftTerm | Should -BeGreaterThan 0; $_.Version | Should -Be '3.4.23' }
    }

    It 'tests the cluster per member and with -Quiet' {
        $health = Test-EtcdCluster -Cluster $cluster
        $health | Should -HaveCount 3
        $health.Healthy | Should -Be @($true, $true, $true)
        @($health | Where-Object IsLeader) | Should -HaveCount 1
        Test-EtcdCluster -Cluster $name -Quiet | Should -BeExactly $true
    }

    It 'gets leader stats from metrics when v2 is off, latency in seconds as the histogram has it' {
        $first = Get-EtcdLeaderStats -Cluster $cluster
        # The prober measures every few seconds: wait for a sample to every follower.
        for ($i = 0; $i -lt 60 -and @($first.Followers | Where-Object { (Get-PeerRoundTrip $first.Endpoint $_.Id).Count -eq 0 }).Count; $i++) { Start-Sleep -Milliseconds 500 }
        $before = @{}; $first.Followers | ForEach-Object { $before[$_.Id] = Get-PeerRoundTrip $first.Endpoint $_.Id }
        $stats = Get-EtcdLeaderStats -Cluster $cluster
        $after = @{}; $stats.Followers | ForEach-Object { $after[$_.Id] = Get-PeerRoundTrip $stats.Endpoint $_.Id }
        $stats.Source | Should -Be 'metrics'
        $stats.Endpoint | Should -Be $first.Endpoint
        $stats.LeaderId | Should -Be (Get-EtcdMember -Cluster $cluster | Where-Object IsLeader).Id
        $stats.Followers | Should -HaveCount 2
        $stats.Followers.Counts.Success | Where-Object { $null -ne $_ } | Should -BeNullOrEmpty
        foreach ($f in $stats.Followers) {
            # Counts and sums only grow: the module's count and its Average x count (the histogram's sum, in seconds) lie between curl's two reads.
            $before[$f.Id].Count | Should -BeGreaterThan 0
            $f.Latency.Samples | Should -BeGreaterOrEqual $before[$f.Id].Count
            $f.Latency.Samples | Should -BeLessOrEqual $after[$f.Id].Count
            ($f.Latency.Average * $f.Latency.Samples) | Should -BeGreaterOrEqual ($before[$f.Id].Sum - 1e-9)
            ($f.Latency.Average * $f.Latency.Samples) | Should -BeLessOrEqual ($after[$f.Id].Sum + 1e-9)
        }
        curl -s -o /dev/null -w '%{http_code}' @curlTls "$($stats.Endpoint)/v2/stats/leader" | Should -Be 404
    }

    It 'watches puts and deletes in order until -Count' {
        $job = Start-InRunspace "Watch-EtcdKey -Endpoint '$($cluster.Endpoints -join ',')' $tlsText -Key /w/ -Prefix -Count 4 -TimeoutSeconds 60"
        try {
            Wait-Watcher $cluster.Endpoints | Out-Null
            etcdctl --endpoints $ctl put /w/a 1 | Out-Null
            Set-EtcdKey -Cluster $cluster -Key /w/a -Value 2
            etcdctl --endpoints $ctl put /w/b 3 | Out-Null
            Remove-EtcdKey -Cluster $cluster -Key /w/a -Confirm:$false
            $events = $job.PowerShell.EndInvoke($job.Handle)
            $job.PowerShell.Streams.Error | Should -BeNullOrEmpty
            $events | Should -HaveCount 4
            ($events | ForEach-Object { "$($_.Type) $($_.Key) $($_.Value) $($_.PreviousValue)" }) |
                Should -Be @('Put /w/a 1 ', 'Put /w/a 2 1', 'Put /w/b 3 ', 'Delete /w/a  2')
            for ($i = 1; $i -lt 4; $i++) { $events[$i].ModRevision | Should -Be ($events[$i - 1].ModRevision + 1) }
        } finally { $job.PowerShell.Dispose() }
    }

    It 'stops a watch promptly like Ctrl+C, and -TimeoutSeconds ends one quietly' {
        $job = Start-InRunspace "Watch-EtcdKey -Cluster '$name' -Key /never/"
        try {
            Wait-Watcher $cluster.Endpoints | Out-Null
            $sw = [Diagnostics.Stopwatch]::StartNew()
            $job.PowerShell.Stop()
            $sw.Elapsed.TotalSeconds | Should -BeLessThan 5
            $job.PowerShell.InvocationStateInfo.State | Should -Be 'Stopped'
        } finally { $job.PowerShell.Dispose() }

        $sw = [Diagnostics.Stopwatch]::StartNew()
        $none = Watch-EtcdKey -Cluster $cluster -Key /never/ -TimeoutSeconds 2 -ErrorAction Stop
        $none | Should -BeNullOrEmpty
        $sw.Elapsed.TotalSeconds | Should -BeLessThan 10
    }

    It 'stops a long Get-EtcdKey promptly' {
        1..3000 | ForEach-Object { [pscustomobject]@{ Key = "/stop/$_"; Value = 'x' * 100 } } | Set-EtcdKey -Cluster $cluster
        $job = Start-InRunspace "Get-EtcdKey -Endpoint '$($cluster.Endpoints[0])' $tlsText -Key /stop/ -Prefix | ForEach-Object { Start-Sleep -Milliseconds 5; `$_ }"
        try {
            Start-Sleep -Seconds 2
            $sw = [Diagnostics.Stopwatch]::StartNew()
            $job.PowerShell.Stop()
            $sw.Elapsed.TotalSeconds | Should -BeLessThan 3
            $job.PowerShell.InvocationStateInfo.State | Should -Be 'Stopped'
        } finally { $job.PowerShell.Dispose() }
        Remove-EtcdKey -Cluster $cluster -Key /stop/ -Prefix -Force
    }

    It 'fits the default tables in 80 columns' {
        $out = @(
            Get-EtcdKey -Cluster $cluster -Key / -Prefix
            Get-EtcdMember -Cluster $cluster
            Test-EtcdCluster -Cluster $cluster
            Get-EtcdLeaderStats -Cluster $cluster
            (Get-EtcdLeaderStats -Cluster $cluster).Followers
        ) | ForEach-Object { $_ | Format-Table | Out-String -Width 200 -Stream }
        $out | Where-Object { $_.TrimEnd().Length -gt 80 } | Should -BeNullOrEmpty
        ($out -join "`n") | Should -Match 'ModRevision'
    }

    It 'reports an unreachable endpoint within the timeout' {
        $l = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0); $l.Start(); $port = $l.LocalEndpoint.Port; $l.Stop()
        $sw = [Diagnostics.Stopwatch]::StartNew()
        $err = $null
        try { Get-EtcdKey -Endpoint "http://127.0.0.1:$port" -Key /x -TimeoutSeconds 2 -ErrorAction Stop } catch { $err = $_ }
        $sw.Elapsed.TotalSeconds | Should -BeLessThan 8
        # Nothing listens there: the connection is refused, which is "unreachable", not a timeout.
        $err.FullyQualifiedErrorId | Should -Be 'EtcdUnreachable,K3dEtcd.Commands.Etcd.GetEtcdKeyCommand'
        $err.CategoryInfo.Category | Should -Be 'ConnectionError'
        $err.Exception.Message | Should -Match "127\.0\.0\.1:$port"
        $err.Exception.Message | Should -Match 'refused'
        Test-EtcdCluster -Endpoint "http://127.0.0.1:$port" -TimeoutSeconds 2 -Quiet | Should -BeExactly $false
    }

    It '<Case> is a clear error' -ForEach $dataBadInput {
        $err = $null
        try { $ErrorActionPreference = 'Stop'; & $Call } catch { $err = $_ }
        $err | Should -Not -BeNullOrEmpty
        $err.FullyQualifiedErrorId | Should -Be $ErrorId
        $err.CategoryInfo.Category | Should -Be $Category
        $err.Exception.Message | Should -Not -Match '   at '
    }
}

Describe 'Leader statistics with -EnableV2 and a stopped follower' -Tag Docker, DataPlane {
    BeforeAll {
        $script:v2name = New-TestName 'pv2'
        $script:v2 = New-EtcdCluster $script:v2name -EnableV2 -ProgressAction SilentlyContinue
    }
    AfterAll {
        Get-EtcdCluster $script:v2name -ErrorAction Ignore | Remove-EtcdCluster -Force -ErrorAction Ignore
    }

    It 'matches curl $leader/v2/stats/leader, then shows a stopped follower honestly' {
        # Counters only grow: curl before <= the module's value <= curl after (a module that reported 0 or nothing fails).
        $leaderUrl = ($v2.Members | Where-Object { (curl -s -o /dev/null -w '%{http_code}' "$($_.ClientUrl)/v2/stats/leader") -eq '200' } | Select-Object -First 1).ClientUrl
        $curlBefore = curl -s "$leaderUrl/v2/stats/leader" | ConvertFrom-Json
        $stats = Get-EtcdLeaderStats -Cluster $v2
        $curl = curl -s "$($stats.Endpoint)/v2/stats/leader" | ConvertFrom-Json
        $stats.Endpoint | Should -Be $leaderUrl
        $stats.Source | Should -Be 'v2'
        $stats.LeaderId | Should -Be $curl.leader
        ($stats.Followers.Id | Sort-Object) | Should -Be (@($curl.followers.PSObject.Properties.Name) | Sort-Object)
        foreach ($f in $stats.Followers) {
            $f.Name | Should -Match "^$v2name\d$"
            $f.Counts.Success | Should -BeGreaterThan 0
            $f.Counts.Success | Should -BeGreaterOrEqual $curlBefore.followers.($f.Id).counts.success
            $f.Counts.Success | Should -BeLessOrEqual $curl.followers.($f.Id).counts.success
            $f.Latency.Average | Should -BeGreaterThan 0
            Assert-V2LatencyInSeconds $f $curlBefore $curl
        }
        # The table shows the seconds as milliseconds: curl's average, give or take the drift above.
        $row = $stats.Followers | Sort-Object Name | Select-Object -First 1
        $shown = ($row | Format-Table | Out-String -Stream | Where-Object { $_ -match "^$([regex]::Escape($row.Name))\s" }) -split '\s+'
        $shown[2] | Should -Be ('{0:0.000}' -f ($row.Latency.Average * 1000))

        $victim = $v2.Members | Where-Object { $_.ClientUrl -ne $stats.Endpoint } | Select-Object -First 1
        docker stop -t 1 $victim.ContainerName | Out-Null
        $members = Get-EtcdMember -Cluster $v2name
        $members | Should -HaveCount 3
        $down = $members | Where-Object Name -EQ $victim.Name
        $down.Healthy | Should -BeFalse
        $down.Error | Should -Match 'not running'
        Test-EtcdCluster -Cluster $v2name -Quiet | Should -BeExactly $true
        (Test-EtcdCluster -Cluster $v2name | Where-Object Name -EQ $victim.Name).Healthy | Should -BeFalse

        $curlBefore = curl -s "$leaderUrl/v2/stats/leader" | ConvertFrom-Json
        $after = Get-EtcdLeaderStats -Cluster $v2name
        $curlAfter = curl -s "$($after.Endpoint)/v2/stats/leader" | ConvertFrom-Json
        $after.Followers | Should -HaveCount 2
        $stopped = $after.Followers | Where-Object Name -EQ $victim.Name
        $stopped.Reachable | Should -BeFalse
        $stopped.Counts.Fail | Should -Not -BeNullOrEmpty
        $stopped.Counts.Fail | Should -BeGreaterOrEqual $curlBefore.followers.($stopped.Id).counts.fail
        $stopped.Counts.Fail | Should -BeLessOrEqual $curlAfter.followers.($stopped.Id).counts.fail
        $stopped.Counts.Success | Should -BeGreaterOrEqual $curlBefore.followers.($stopped.Id).counts.success
        $stopped.Counts.Success | Should -BeLessOrEqual $curlAfter.followers.($stopped.Id).counts.success
        ($after.Followers | Where-Object Name -NE $victim.Name).Reachable | Should -BeTrue

        # Every member stopped: still listed, each with the reason; the quiet test says $false.
        $v2.Members | ForEach-Object { docker stop -t 1 $_.ContainerName } | Out-Null
        $none = Get-EtcdMember -Cluster $v2name -WarningVariable warned -WarningAction SilentlyContinue
        $none | Should -HaveCount 3
        $none.Healthy | Should -Not -Contain $true
        $none.Error | ForEach-Object { $_ | Should -Match 'exited' }
        $warned | Should -Not -BeNullOrEmpty
        Test-EtcdCluster -Cluster $v2name -Quiet | Should -BeExactly $false
    }
}

Describe 'etcd user/password authentication' -Tag Docker, DataPlane {
    BeforeAll {
        $script:authName = New-TestName 'pauth'
        $script:auth = New-EtcdCluster $script:authName -Size 1 -ProgressAction SilentlyContinue
        $script:authEp = $script:auth.Endpoints[0]
        $script:secret = "pw-$([guid]::NewGuid().ToString('N').Substring(0, 10))"
        etcdctl --endpoints $authEp user add "root:$secret" | Out-Null
        etcdctl --endpoints $authEp auth enable | Out-Null
        $script:cred = [pscredential]::new('root', (ConvertTo-SecureString $secret -AsPlainText -Force))
    }
    AfterAll {
        Get-EtcdCluster $script:authName -ErrorAction Ignore | Remove-EtcdCluster -Force -ErrorAction Ignore
    }

    It 'reads and writes with -Credential and never shows the password' {
        $all = Set-EtcdKey -Cluster $auth -Credential $cred -Key /auth/a -Value 1 -PassThru -Verbose 4>&1
        ($all | Where-Object { $_ -is [K3dEtcd.Model.EtcdKeyValue] }).Key | Should -Be '/auth/a'
        ($all | Out-String) | Should -Not -Match $secret
        (Get-EtcdKey -Endpoint $authEp -Credential $cred -Key /auth/a).Value | Should -Be '1'
        etcdctl --endpoints $authEp --user "root:$secret" get /auth/a --print-value-only | Should -Be '1'
    }

    It 'is a security error without credentials or with a wrong password' {
        $err = $null
        try { Get-EtcdKey -Cluster $auth -Key /auth/a -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -Be 'EtcdAccessDenied,K3dEtcd.Commands.Etcd.GetEtcdKeyCommand'
        $err.CategoryInfo.Category | Should -Be 'SecurityError'
        $bad = [pscredential]::new('root', (ConvertTo-SecureString 'wrong' -AsPlainText -Force))
        $err = $null
        try { Get-EtcdKey -Cluster $auth -Credential $bad -Key /auth/a -ErrorAction Stop } catch { $err = $_ }
        $err.CategoryInfo.Category | Should -Be 'SecurityError'
        $err.Exception.Message | Should -Not -Match 'wrong'
    }
}
