# Clusters whose members run on several Docker engines (issue 21, DESIGN section 12). Three extra
# engines run on this machine for the whole file (each with its own data root, exec root, pid file,
# socket and bridge; the last also on tcp+TLS), and members listen on distinct loopback addresses,
# so peer traffic crosses from one engine's container to another's. The first engine is not used.
BeforeAll {
    . "$PSScriptRoot/TestHelpers.ps1"
    . "$PSScriptRoot/ExtraEngines.ps1"
    Assert-DockerAvailable
    $ProgressPreference = 'SilentlyContinue'

    # The first engine's default bridge before the extra engines start (they must leave it alone).
    $script:bridgeBefore = docker network inspect bridge -f '{{.Id}} {{range .IPAM.Config}}{{.Subnet}}{{end}}'
    # The address only: the link goes UP and DOWN as containers come and go on the default bridge.
    $script:docker0Before = (ip -br -4 addr show docker0 2>$null) -replace '^\S+\s+\S+\s+', ''
    $script:engines = Start-ExtraDockerEngine 3 -TlsEngine -AddressBase (Get-Random -Minimum 20 -Maximum 240)
    $script:hosts = $engines[0].Url, $engines[1].Url, $engines[2].TcpUrl
    $script:ips = @($engines | ForEach-Object Address)
    $script:certPath = $engines[2].CertPath
    # The session's engine is the first extra engine: nothing in this file touches the machine's own engine.
    Set-K3dEtcdOption -DockerHost $engines[0].Url -DockerCertPath $certPath
    $script:name = New-TestName 'me'

    # The labelled containers, volumes and networks of a cluster on one engine (the machine's own
    # engine when $Engine is $null), by the docker CLI (an independent client); a failed docker
    # command throws instead of reading as "nothing there".
    function Get-EngineObject($Engine, [string] $Cluster) {
        $h = if ($Engine) { @('-H', $Engine.Url) } else { @() }
        $found = foreach ($list in @('ps', '-a', '--format', '{{.Names}}'), @('volume', 'ls', '-q'), @('network', 'ls', '--format', '{{.Name}}')) {
            $names = docker @h @list --filter "label=io.k3detcd.cluster=$Cluster"
            if ($LASTEXITCODE -ne 0) { throw "docker $($h + $list -join ' ') failed ($LASTEXITCODE)" }
            $names
        }
        @($found | Where-Object { $_ })
    }
    # etcdctl's own health of each endpoint (-w json: one entry per endpoint, healthy or not).
    function Get-EndpointHealth($Cluster, [string[]] $Endpoints) {
        $tls = if ($Cluster.Tls) { @('--cacert', $Cluster.Tls.CaFile, '--cert', $Cluster.Tls.ClientCertFile, '--key', $Cluster.Tls.ClientKeyFile) } else { @() }
        $json = etcdctl --endpoints ($Endpoints -join ',') @tls endpoint health -w json --dial-timeout 2s --command-timeout 3s 2>$null
        $health = @($json | ConvertFrom-Json)
        if ($health.Count -ne $Endpoints.Count) { throw "etcdctl endpoint health answered for $($health.Count) of $($Endpoints.Count) endpoints: $json" }
        $health
    }
    function Invoke-Etcdctl($Cluster, [string] $Endpoint) {
        $tls = $Cluster.Tls
        $out = etcdctl --endpoints $Endpoint --cacert $tls.CaFile --cert $tls.ClientCertFile --key $tls.ClientKeyFile @args
        if ($LASTEXITCODE -ne 0) { throw "etcdctl $args at $Endpoint failed: $out" }
        $out
    }
    function Get-LeaderId($Cluster, [string] $Endpoint) {
        ([uint64]((Invoke-Etcdctl $Cluster $Endpoint endpoint status -w json | ConvertFrom-Json)[0].Status.leader)).ToString('x')
    }
}

AfterAll {
    try {
        foreach ($c in $script:name, "$($script:name)-rr", "$($script:name)-fail") {
            if (Get-EtcdCluster $c -ErrorAction SilentlyContinue) { Remove-EtcdCluster $c -Force -ErrorAction Continue }
        }
    }
    finally {
        Set-K3dEtcdOption -DockerHost '' -DockerCertPath ''
        Stop-ExtraDockerEngine $script:engines
    }
}

Describe 'An etcd cluster on several Docker engines' -Tag Docker {
    It 'places one member on each engine (unix sockets and tcp+TLS), healthy, with the same data on every member' {
        $c = New-EtcdCluster $name -Size 3 -DockerHost $hosts -AdvertiseAddress $ips[0], $ips[1] -Tls
        $c.State | Should -Be 'Running'
        $c.Engines | Should -Be $hosts
        $c.Members.Engine | Should -Be $hosts
        $c.Members.HostAddress | Should -Be $ips
        $script:tlsRoot = Split-Path $c.Tls.Directory
        $c.Members.ClientUrl | Should -Be ($ips | ForEach-Object { "https://${_}:2379" })
        $c.Members.PeerUrl | Should -Be ($ips | ForEach-Object { "https://${_}:2380" })
        for ($i = 0; $i -lt 3; $i++) {
            # The docker CLI sees exactly this member (and its volume) on its engine, on the host's network.
            Get-EngineObject $engines[$i] $name | Sort-Object | Should -Be @("$name$i", "$name$i-data")
            docker -H $engines[$i].Url inspect -f '{{.HostConfig.NetworkMode}}' "$name$i" | Should -Be 'host'
        }
        Set-EtcdKey -Cluster $c -Key /multi/k -Value across | Out-Null
        foreach ($m in $c.Members) {
            # A serializable read answers from the member's own copy: the write reached every engine.
            Invoke-Etcdctl $c $m.ClientUrl get /multi/k --print-value-only --consistency=s | Should -Be 'across'
        }
        $leaders = $c.Members | ForEach-Object { Get-LeaderId $c $_.ClientUrl } | Select-Object -Unique
        @($leaders).Count | Should -Be 1
        $c.Members.Id | Should -Contain $leaders
    }

    It 'is rebuilt whole from a session on another engine only' {
        $out = Invoke-FreshPwsh "Set-K3dEtcdOption -DockerHost '$($engines[1].Url)' -DockerCertPath '$certPath'; `$c = Get-EtcdCluster $name; (`$c.Members | ForEach-Object { `$_.Name + '@' + `$_.Engine + '@' + `$_.State }) -join ';'; ((TabExpansion2 'Stop-EtcdMember -Cluster $name -Name ').CompletionMatches.CompletionText) -join ','"
        $out[0] | Should -Be ((0..2 | ForEach-Object { "$name$_@$($hosts[$_])@running" }) -join ';')
        $out[1] | Should -Be ((0..2 | ForEach-Object { "$name$_" }) -join ',') -Because 'member names complete from the other engines too'
    }

    It 'left the first engine and its default bridge as they were' {
        docker network inspect bridge -f '{{.Id}} {{range .IPAM.Config}}{{.Subnet}}{{end}}' | Should -Be $bridgeBefore
        (ip -br -4 addr show docker0 2>$null) -replace '^\S+\s+\S+\s+', '' | Should -Be $docker0Before
        Get-EngineObject $null $name | Should -BeNullOrEmpty -Because 'no member, volume or network is on the first engine'
    }

    It 'kills the leader on its own engine, elects a leader on another, and counts the quorum across engines' {
        $c = Get-EtcdCluster $name
        $old = Stop-EtcdMember -Cluster $name -Leader -Kill -PassThru
        $old.State | Should -Be 'exited'
        $i = [array]::IndexOf($c.Members.Name, $old.Name)
        docker -H $engines[$i].Url inspect -f '{{.State.Running}}' $old.Name | Should -Be 'false'
        $rest = $c.Members | Where-Object Name -ne $old.Name
        $newLeader = Get-LeaderId $c $rest[0].ClientUrl
        $newLeader | Should -Not -Be $old.Id
        ($rest | Where-Object Id -eq $newLeader).Engine | Should -Not -Be $old.Engine
        { Stop-EtcdMember -Cluster $name -Name $rest[0].Name -ErrorAction Stop } | Should -Throw -ErrorId 'QuorumLoss,K3dEtcd.Commands.Etcd.StopEtcdMemberCommand'
        (Start-EtcdMember -Cluster $name -Name $old.Name -PassThru).State | Should -Be 'running'
        $run = Measure-EtcdFailover -Cluster $name -Iterations 1 | Where-Object Iteration -eq 1
        $run.NewLeader | Should -Not -Be $run.OldLeader
        $run.WritesLost | Should -Be 0
        (Get-EtcdCluster $name).State | Should -Be 'Running'
    }

    It 'adds a member on the next engine round-robin (a second port pair on its address) and removes it from that engine' {
        $added = Add-EtcdMember -Cluster $name -Confirm:$false
        $added.Name | Should -Be "${name}3"
        $added.Engine | Should -Be $hosts[0]
        $added.ClientUrl | Should -Be "https://$($ips[0]):2381"
        $added.PeerUrl | Should -Be "https://$($ips[0]):2382"
        Get-EngineObject $engines[0] $name | Sort-Object | Should -Be @("${name}0", "${name}0-data", "${name}3", "${name}3-data")
        $c = Get-EtcdCluster $name
        Invoke-Etcdctl $c $added.ClientUrl get /multi/k --print-value-only --consistency=s | Should -Be 'across'
        (Invoke-Etcdctl $c $c.Members[1].ClientUrl member list -w json | ConvertFrom-Json).members | Should -HaveCount 4
        Remove-EtcdMember -Cluster $name -Name $added.Name -Confirm:$false
        Get-EngineObject $engines[0] $name | Sort-Object | Should -Be @("${name}0", "${name}0-data")
        (Get-EtcdCluster $name).Members.Name | Should -Be @("${name}0", "${name}1", "${name}2")
    }

    It 'shows the members of an engine that stops answering as unreachable; with that member frozen too, reads and writes go on through the others' {
        $c = Get-EtcdCluster $name
        $gone = $c.Members | Where-Object Engine -eq $hosts[1]
        $live = @($c.Members | Where-Object Engine -ne $hosts[1])
        # The member itself stops serving (its container paused: the cgroup freezer), then its engine stops answering.
        docker -H $engines[1].Url pause $gone.ContainerName | Out-Null
        $LASTEXITCODE | Should -Be 0
        kill -STOP $engines[1].Pid
        try {
            # etcdctl (not the module) sees the member down and the two others healthy, each endpoint on its own.
            $health = Get-EndpointHealth $c $c.Members.ClientUrl
            ($health | Where-Object endpoint -EQ $gone.ClientUrl).health | Should -BeFalse -Because 'the frozen member must not answer'
            @($health | Where-Object endpoint -In $live.ClientUrl | ForEach-Object health) | Should -Be @($true, $true)

            $now = Get-EtcdCluster $name
            $now.Members.Count | Should -Be 3
            $now.State | Should -Be 'Degraded'
            $down = $now.Members | Where-Object Engine -eq $hosts[1]
            $down.State | Should -Be 'unreachable'
            $down.StateReason | Should -Match 'does not answer'
            ($now.Members | Where-Object Engine -ne $hosts[1]).State | Should -Be @('running', 'running')

            # Writes and reads while a member does not answer, through the cluster object that still lists it first-class.
            1..20 | ForEach-Object { [pscustomobject]@{ Key = "/multi/during/$_"; Value = "v$_" } } | Set-EtcdKey -Cluster $c
            @(Get-EtcdKey -Cluster $c -Key /multi/during/ -Prefix).Count | Should -Be 20
            (Get-EtcdKey -Cluster $c -Key /multi/during/7).Value | Should -Be 'v7'
            foreach ($m in $live) {
                @(Invoke-Etcdctl $c $m.ClientUrl get /multi/during/ --prefix --keys-only --consistency=s | Where-Object { $_ }).Count | Should -Be 20
            }
            { Stop-EtcdMember -Cluster $name -Name $down.Name -ErrorAction Stop } | Should -Throw -ErrorId 'DockerEngineUnreachable,K3dEtcd.Commands.Etcd.StopEtcdMemberCommand'
        }
        finally {
            kill -CONT $engines[1].Pid
            docker -H $engines[1].Url unpause $gone.ContainerName | Out-Null
        }
        # Back: the frozen member catches up with the writes made while it was down (its own copy, by etcdctl).
        $count = 0
        for ($i = 0; $i -lt 60 -and $count -ne 20; $i++) {
            $count = @(etcdctl --endpoints $gone.ClientUrl --cacert $c.Tls.CaFile --cert $c.Tls.ClientCertFile --key $c.Tls.ClientKeyFile get /multi/during/ --prefix --keys-only --consistency=s 2>$null | Where-Object { $_ }).Count
            if ($count -ne 20) { Start-Sleep -Milliseconds 500 }
        }
        $count | Should -Be 20 -Because "$($gone.Name) must catch up once it runs again"
        (Get-EtcdCluster $name).State | Should -Be 'Running'
    }

    It 'gives k3d the host addresses of the members and no Docker network; Test-K3dDatastore reaches them (host network here)' {
        Enter-FakeK3d
        try {
            Use-FakeK3d 'v5.8.3'
            $c = Get-EtcdCluster $name
            $k3dName = New-TestName 'topgun'
            $k = $c | New-K3dCluster $k3dName -Servers 3 -SkipPreflight -SkipVerify -ProgressAction SilentlyContinue
            $k.Datastore.Name | Should -Be $name
            $create = foreach ($line in Get-Content $env:FAKE_K3D_ARGV_LOG) { $r = $line | ConvertFrom-Json; if ($r.argv[1] -eq 'create') { $r } }
            @($create).Count | Should -Be 1
            $create.argv | Should -Not -Contain '--network'
            ($create.config.content | ConvertFrom-Json).env.envVar | Should -Contain "K3S_DATASTORE_ENDPOINT=$(($ips | ForEach-Object { "https://${_}:2379" }) -join ',')"
            Remove-K3dCluster $k3dName -Force
            # On one machine a bridge network cannot reach 127.0.0.x, so the probe runs on the host's network.
            $checks = Test-K3dDatastore -Datastore $c -Network host
            $checks.Name | Should -Be @('Health', 'Write', 'ReadBack', 'Bootstrap', 'Certificates')
            $checks | ForEach-Object { $_.Passed | Should -BeTrue -Because $_.Detail }
            $checks[0].Detail | Should -Match '^3/3 endpoints healthy'
        }
        finally { Exit-FakeK3d }
    }

    It 'saves a snapshot and defragments every member, each at its own address' {
        $file = Join-Path ([IO.Path]::GetTempPath()) "$(New-TestName 'me-snap').db"
        try {
            $snap = Save-EtcdSnapshot -Cluster $name -Path $file
            Test-Path $file | Should -BeTrue
            $snap | Should -Not -BeNullOrEmpty
            $defrag = @(Invoke-EtcdDefragmentation -Cluster $name -Force)
            $defrag | Should -HaveCount 3
        }
        finally { Remove-Item $file -Force -ErrorAction SilentlyContinue }
    }

    It 'renews every member''s certificates, rotates the CA and upgrades member by member across the engines (issues 27, 28)' {
        $c = Get-EtcdCluster $name
        $c.Image | Should -BeLike '*:3.4.*' -Because 'the upgrade goes from the 3.4 test image to 3.5.16'
        $target = ($c.Image -replace ':[^:]+$', ':3.5.16')
        docker image inspect $target -f '{{.Id}}' | Out-Null
        $LASTEXITCODE | Should -Be 0 -Because "$target is built by tests/prepare-docker.sh"
        # Each extra engine has its own image store: the target image is loaded into each, as a user would.
        $tar = Join-Path ([IO.Path]::GetTempPath()) "$(New-TestName 'me-img').tar"
        try {
            docker save -o $tar $target; $LASTEXITCODE | Should -Be 0
            foreach ($e in $engines) { docker -H $e.Url load -q -i $tar | Out-Null; $LASTEXITCODE | Should -Be 0 }
        }
        finally { Remove-Item $tar -Force -ErrorAction SilentlyContinue }
        Invoke-Etcdctl $c $c.Endpoints[0] put /me/upgrade kept | Out-Null
        # Served certificates by openssl (an independent client), and each member container's id and image by the docker CLI.
        function Get-Served($Member) {
            $hostPort = ([Uri]$Member.ClientUrl).Authority
            $pem = $null | openssl s_client -connect $hostPort -CAfile $c.Tls.CaFile -cert $c.Tls.ClientCertFile -key $c.Tls.ClientKeyFile 2>$null
            ($pem | openssl x509 -noout -serial 2>$null) -replace '^serial=', ''
        }
        function Get-Container($Member) {
            $engine = $engines | Where-Object { $Member.Engine -in $_.Url, $_.TcpUrl } | Select-Object -First 1
            $engine | Should -Not -BeNullOrEmpty -Because "member $($Member.Name) runs on $($Member.Engine)"
            docker -H $engine.Url inspect $Member.ContainerName -f '{{.Id}} {{.Config.Image}} {{.State.Running}}'
        }
        $servedBefore = @($c.Members | ForEach-Object { Get-Served $_ })
        $servedBefore | Where-Object { $_ } | Should -HaveCount 3
        Update-EtcdCertificate -Cluster $name -Force | Out-Null
        $servedAfter = @($c.Members | ForEach-Object { Get-Served $_ })
        for ($i = 0; $i -lt 3; $i++) { $servedAfter[$i] | Should -Not -BeNullOrEmpty; $servedAfter[$i] | Should -Not -Be $servedBefore[$i] -Because "$($c.Members[$i].Name) serves its renewed certificate" }
        # A new CA across the engines (the members on other engines get their files copied in and are recreated):
        # afterwards each member serves a certificate the old CA does not verify, and the client files work in place.
        $oldCa = Join-Path ([IO.Path]::GetTempPath()) "$(New-TestName 'me-oldca').pem"
        Copy-Item $c.Tls.CaFile $oldCa
        try {
            Update-EtcdCertificate -Cluster $name -Authority -Force | Out-Null
            foreach ($m in $c.Members) {
                $hostPort = ([Uri]$m.ClientUrl).Authority
                $served = Join-Path ([IO.Path]::GetTempPath()) "$(New-TestName 'me-served').pem"
                $null | openssl s_client -connect $hostPort -CAfile $c.Tls.CaFile -cert $c.Tls.ClientCertFile -key $c.Tls.ClientKeyFile 2>$null | openssl x509 -out $served 2>$null
                try {
                    openssl verify -CAfile $c.Tls.CaFile $served 2>&1 | Out-Null
                    $LASTEXITCODE | Should -Be 0 -Because "$($m.Name) serves a certificate of the new CA"
                    openssl verify -CAfile $oldCa $served 2>&1 | Out-Null
                    $LASTEXITCODE | Should -Not -Be 0 -Because "the old CA verifies nothing $($m.Name) serves"
                }
                finally { Remove-Item $served -Force -ErrorAction SilentlyContinue }
            }
        }
        finally { Remove-Item $oldCa -Force -ErrorAction SilentlyContinue }

        $containersBefore = @($c.Members | ForEach-Object { Get-Container $_ })
        $r = Update-EtcdCluster -Cluster $name -Version 3.5.16 -SkipSnapshot -Force
        $r | Should -Not -BeNullOrEmpty
        $containersAfter = @($c.Members | ForEach-Object { Get-Container $_ })
        for ($i = 0; $i -lt 3; $i++) {
            $id0, $image0, $null = $containersBefore[$i] -split ' '
            $id1, $image1, $running = $containersAfter[$i] -split ' '
            $image0 | Should -Be $c.Image
            $image1 | Should -Be $target -Because "$($c.Members[$i].Name) was recreated on the new image on its own engine"
            $id1 | Should -Not -Be $id0
            $running | Should -Be 'true'
        }
        foreach ($ep in $c.Endpoints) {
            $status = Invoke-Etcdctl $c $ep endpoint status -w json | ConvertFrom-Json
            $status[0].Status.version | Should -Be '3.5.16'
            Invoke-Etcdctl $c $ep get /me/upgrade --print-value-only | Should -Be 'kept'
        }
        $rev = (Invoke-Etcdctl $c $c.Endpoints[0] endpoint status -w json | ConvertFrom-Json)[0].Status.header.revision
        $hashes = foreach ($ep in $c.Endpoints) { (Invoke-Etcdctl $c $ep endpoint hashkv --rev $rev -w json | ConvertFrom-Json)[0].HashKV.hash }
        @($hashes | Select-Object -Unique) | Should -HaveCount 1
    }

    It 'is still found through the volume left on the session''s engine when its member container there is gone (issue 33)' {
        docker -H $engines[0].Url rm -f "${name}0" | Out-Null
        $LASTEXITCODE | Should -Be 0
        Get-EngineObject $engines[0] $name | Should -Be @("${name}0-data")
        $c = Get-EtcdCluster $name
        $c.State | Should -Not -Be 'Broken' -Because 'its members on the other engines run'
        ($c.Members | Where-Object State -eq running).Name | Sort-Object | Should -Be @("${name}1", "${name}2")
        $c.Members.Engine | Should -Contain $hosts[1]
    }

    It 'removes the cluster from every engine' {
        $tlsDir = (Get-EtcdCluster $name).Tls.Directory
        foreach ($e in $engines) { Get-EngineObject $e $name | Should -Not -BeNullOrEmpty -Because 'the check must see what is there before the removal' }
        Remove-EtcdCluster $name -Force
        # Containers, volumes and networks: none on any extra engine, none on the machine's own engine,
        # whose default bridge is still the one from before.
        foreach ($e in $engines) { Get-EngineObject $e $name | Should -BeNullOrEmpty }
        Get-EngineObject $null $name | Should -BeNullOrEmpty
        docker network inspect bridge -f '{{.Id}} {{range .IPAM.Config}}{{.Subnet}}{{end}}' | Should -Be $bridgeBefore
        Test-Path $tlsDir | Should -BeFalse
        Get-EtcdCluster $name -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'places more members than engines round-robin, with distinct ports on a shared address' {
        $rr = "$name-rr"
        $c = New-EtcdCluster $rr -Size 3 -DockerHost $engines[0].Url, $engines[1].Url -AdvertiseAddress $ips[0], $ips[1] -ClientPort 22379
        try {
            $c.Members.Engine | Should -Be @($engines[0].Url, $engines[1].Url, $engines[0].Url)
            $c.Members.ClientUrl | Should -Be @("http://$($ips[0]):22379", "http://$($ips[1]):22379", "http://$($ips[0]):22381")
            $c.Members.PeerUrl | Should -Be @("http://$($ips[0]):22380", "http://$($ips[1]):22380", "http://$($ips[0]):22382")
            # Every endpoint on its own (etcdctl -w json: one entry each), not one healthy line among several.
            $health = Get-EndpointHealth $c $c.Endpoints
            $health.endpoint | Sort-Object | Should -Be ($c.Endpoints | Sort-Object)
            $health | ForEach-Object { $_.health | Should -BeTrue -Because "$($_.endpoint): $($_.error)" }
            @(Get-EngineObject $engines[0] $rr | Where-Object { $_ -notlike '*-data' }).Count | Should -Be 2
        }
        finally { Remove-EtcdCluster $rr -Force }
        foreach ($e in $engines) { Get-EngineObject $e $rr | Should -BeNullOrEmpty }
        Get-EngineObject $null $rr | Should -BeNullOrEmpty
    }

    It 'rolls a failed create back on every engine' {
        $fail = "$name-fail"
        # The third member's client port is taken on its address: that member exits, after the others were created and started.
        $listener = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Parse($ips[2]), 2379)
        $listener.Start()
        try {
            $err = $null
            New-EtcdCluster $fail -Size 3 -DockerHost $hosts -AdvertiseAddress $ips[0], $ips[1] -Tls -TimeoutSeconds 30 -ErrorVariable err -ErrorAction SilentlyContinue
            $err[0].FullyQualifiedErrorId | Should -Match '^(MemberExited|ClusterStartTimeout),'
            $err[0].Exception.Message | Should -Match 'address already in use'
        }
        finally { $listener.Stop() }
        foreach ($e in $engines) { Get-EngineObject $e $fail | Should -BeNullOrEmpty }
        Get-EngineObject $null $fail | Should -BeNullOrEmpty
        Test-Path (Join-Path $script:tlsRoot $fail) | Should -BeFalse
    }
}

Describe 'Engine lists that cannot work' -Tag Docker {
    It 'refuses <Case> with <ErrorId> and creates nothing' -ForEach @(
        @{ Case = 'an ssh:// engine'; Hosts = { 'ssh://user@hostb' }; Ips = { }; ErrorId = 'UnsupportedDockerScheme' }
        @{ Case = 'two sockets without addresses'; Hosts = { $engines[0].Url, $engines[1].Url }; Ips = { }; ErrorId = 'EngineAddressRequired' }
        @{ Case = 'an engine named twice'; Hosts = { $engines[0].Url, $engines[0].Url }; Ips = { '127.0.0.2', '127.0.0.3' }; ErrorId = 'InvalidEnginePlacement' }
        @{ Case = 'more addresses than engines'; Hosts = { $engines[0].Url }; Ips = { '127.0.0.2', '127.0.0.3' }; ErrorId = 'InvalidEnginePlacement' }
        @{ Case = 'an engine that does not answer'; Hosts = { $engines[0].Url, 'unix:///tmp/k3detcd-no-such-engine.sock' }; Ips = { $script:ips[0], '127.0.0.4' }; ErrorId = 'DockerEngineUnreachable' }
    ) {
        $bad = New-TestName 'mebad'
        $err = $null
        $place = @{ DockerHost = @(& $Hosts) }
        if (@(& $Ips).Count -gt 0) { $place.AdvertiseAddress = @(& $Ips) }
        New-EtcdCluster $bad -Size 3 @place -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -Be "$ErrorId,K3dEtcd.Commands.Etcd.NewEtcdClusterCommand"
        foreach ($e in $engines) { Get-EngineObject $e $bad | Should -BeNullOrEmpty }
    }

    It 'refuses an ssh:// endpoint in Set-K3dEtcdOption and keeps the option' {
        { Set-K3dEtcdOption -DockerHost $engines[0].Url, 'ssh://user@hostb' } | Should -Throw -ErrorId 'UnsupportedDockerScheme,K3dEtcd.Commands.Module.SetK3dEtcdOptionCommand'
        (Get-K3dEtcdOption).DockerHost | Should -Be $engines[0].Url
    }

    It 'needs ca.pem, cert.pem and key.pem for a tcp+TLS engine' {
        $empty = Join-Path ([IO.Path]::GetTempPath()) (New-TestName 'nocerts')
        New-Item -ItemType Directory $empty | Out-Null
        try {
            $out = Invoke-FreshPwsh "Set-K3dEtcdOption -DockerHost '$($engines[0].Url)' -DockerCertPath '$empty'; New-EtcdCluster x$(Get-Random) -Size 1 -DockerHost '$($hosts[2])' -ErrorVariable e -ErrorAction SilentlyContinue; `$e[0].FullyQualifiedErrorId"
            $out | Should -Be 'DockerTlsMaterialMissing,K3dEtcd.Commands.Etcd.NewEtcdClusterCommand'
        }
        finally { Remove-Item $empty -Recurse -Force }
    }
}
