# Issue 17: nothing the user already has is destroyed, no secret reaches a process list, every
# failure has an ErrorId. One Describe per numbered defect; each failed on the code before its fix.
# k3d cannot run here: the fake k3d (tests/FakeK3d) plays the version each test asks for.
BeforeAll {
    . "$PSScriptRoot/TestHelpers.ps1"
    Assert-DockerAvailable
    Enter-FakeK3d

    # Every invocation the fake recorded: argv, and the --config file it read (content, modes, path).
    function Get-FakeK3dRecord([string] $Command, [string] $Sub) {
        if (-not (Test-Path $env:FAKE_K3D_ARGV_LOG)) { return @() }
        foreach ($line in Get-Content $env:FAKE_K3D_ARGV_LOG) {
            $r = $line | ConvertFrom-Json
            if (-not $Command -or ($r.argv[0] -eq $Command -and $r.argv[1] -eq $Sub)) { $r }
        }
    }
    # The fake's view of a cluster (with its token), as `k3d cluster list NAME --token -o json` prints it.
    function Get-FakeCluster([string] $Name) {
        $json = k3d cluster list $Name --token -o json 2>$null
        if ($LASTEXITCODE -ne 0) { return $null }
        ($json | ConvertFrom-Json)[0]
    }
    function Get-FileHashes([string] $Dir) {
        Get-ChildItem $Dir -File | Sort-Object Name | ForEach-Object { "$($_.Name)=$((Get-FileHash $_.FullName).Hash)" }
    }
    # The first error a call reports, terminating or not.
    function Get-Failure([scriptblock] $Call) {
        try { & $Call 2>&1 | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] } | Select-Object -First 1 }
        catch { $_ }
    }
    $script:plainToken = { param($s) ConvertFrom-SecureString -SecureString $s -AsPlainText }
    Use-FakeK3d
    # One TLS and two plain etcd clusters shared by the Describes below.
    $script:tlsEtcd = New-EtcdCluster (New-TestName 'safetls') -Size 1 -Tls -ProgressAction SilentlyContinue
    $script:plainA = New-EtcdCluster (New-TestName 'safea') -Size 1 -ProgressAction SilentlyContinue
    $script:plainB = New-EtcdCluster (New-TestName 'safeb') -Size 1 -ProgressAction SilentlyContinue
}

AfterAll {
    foreach ($c in $tlsEtcd, $plainA, $plainB) { if ($c) { Remove-EtcdCluster $c.Name -Force -ErrorAction Continue } }
    Exit-FakeK3d
}

Describe '1. A refused New-K3dCluster keeps the existing cluster''s k3s certificate' -Tag Docker, K3d {
    It 'refuses the taken name with K3dClusterExists and leaves the k3d/NAME/ folder of the TLS dir byte for byte' {
        Use-FakeK3d
        $name = New-TestName 'keep'
        $null = $tlsEtcd | New-K3dCluster $name -SkipVerify -ProgressAction SilentlyContinue
        $dir = Join-Path $tlsEtcd.Tls.Directory "k3d/$name"
        $before = Get-FileHashes $dir
        $before | Should -HaveCount 4 -Because 'the CA, the k3s certificate and key, and the kept token'
        $err = $null
        $out = $tlsEtcd | New-K3dCluster $name -SkipVerify -ErrorVariable err -ErrorAction SilentlyContinue -ProgressAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -Be 'K3dClusterExists,K3dEtcd.Commands.K3d.NewK3dClusterCommand'
        $err[0].CategoryInfo.Category | Should -Be 'ResourceExists'
        Get-FileHashes $dir | Should -Be $before
        @(Get-FakeK3dRecord cluster create) | Should -HaveCount 1
        @(Get-FakeK3dRecord cluster delete) | Should -HaveCount 0
        Remove-K3dCluster $name -Force
    }
}

Describe '2. k3d v3.0-v3.3: a refused create keeps the user''s cluster' -Tag Docker, K3d {
    It 'finds the existing cluster by its k3d.cluster Docker label, refuses, and deletes nothing' {
        Use-FakeK3d 'v3.0.0'
        $name = New-TestName 'old'
        $null = New-K3dCluster $name -Datastore $plainA.NetworkEndpoints[0] -Network $plainA.Network -Token 'tok-old' -SkipPreflight -SkipVerify -WarningAction SilentlyContinue
        # The fake never touches Docker; real k3d would have made node containers with this label.
        $node = docker create --label "k3d.cluster=$name" --label app=k3d --label k3d.role=server --name "k3d-$name-server-0" $env:K3DETCD_ETCD_IMAGE
        try {
            $err = $null
            $out = New-K3dCluster $name -Datastore $plainA.NetworkEndpoints[0] -Network $plainA.Network -Token 'tok-old' -SkipPreflight -SkipVerify -ErrorVariable err -ErrorAction SilentlyContinue -WarningAction SilentlyContinue
            $out | Should -BeNullOrEmpty
            $err[0].FullyQualifiedErrorId | Should -Be 'K3dClusterExists,K3dEtcd.Commands.K3d.NewK3dClusterCommand'
            $err[0].CategoryInfo.Category | Should -Be 'ResourceExists'
            @(Get-FakeK3dRecord cluster delete) | Should -HaveCount 0
            @(Get-FakeK3dRecord cluster create) | Should -HaveCount 1
            (k3d cluster list --no-headers) -join "`n" | Should -Match ([regex]::Escape($name))
            docker inspect -f '{{.Id}}' $node | Should -Be $node
        }
        finally { docker rm -f $node | Out-Null }
    }
}

Describe '3. The token and the datastore password reach k3d in a private config file, never in argv' -Tag K3d {
    It 'k3d <Version>: config <ApiVersion> (0600 in a 0700 directory, removed after) holds them; argv holds neither' -ForEach @(
        @{ Version = 'v5.0.0'; ApiVersion = 'k3d.io/v1alpha3' }
        @{ Version = 'v5.3.0'; ApiVersion = 'k3d.io/v1alpha4' }
        @{ Version = 'v5.8.3'; ApiVersion = 'k3d.io/v1alpha5' }
    ) {
        Use-FakeK3d $Version
        $name = New-TestName 'sec'
        $token = "tok-$([guid]::NewGuid().ToString('N'))"
        $password = "pw$([guid]::NewGuid().ToString('N').Substring(0, 10))"
        $dsn = "postgres://k3s:$password@db:5432/k3s"
        $k = New-K3dCluster $name -Datastore $dsn -Token $token -SkipPreflight -SkipVerify -WarningAction SilentlyContinue
        $k.Name | Should -Be $name
        foreach ($r in Get-FakeK3dRecord) {
            ($r.argv -join ' ') | Should -Not -Match ([regex]::Escape($token))
            ($r.argv -join ' ') | Should -Not -Match ([regex]::Escape($password))
        }
        $create = @(Get-FakeK3dRecord cluster create)
        $create | Should -HaveCount 1
        $create[0].config | Should -Not -BeNullOrEmpty -Because 'k3d v5 reads the secrets from --config'
        $create[0].config.apiVersion | Should -Be $ApiVersion
        $create[0].config.content | Should -Match ([regex]::Escape($token))
        $create[0].config.content | Should -Match ([regex]::Escape("K3S_DATASTORE_ENDPOINT=$dsn"))
        if (-not $IsWindows) {
            $create[0].config.mode | Should -Be '600'
            $create[0].config.dirMode | Should -Be '700'
        }
        Test-Path $create[0].config.path | Should -BeFalse
        Test-Path (Split-Path $create[0].config.path) | Should -BeFalse
        # What k3d made of it: the token and the endpoint on the servers only.
        $c = Get-FakeCluster $name
        $c.clusterToken | Should -Be $token
        @($c.nodes | Where-Object role -EQ 'server') | Should -Not -BeNullOrEmpty -Because 'a loop over no nodes checks nothing'
        @($c.nodes | Where-Object role -NE 'server') | Should -Not -BeNullOrEmpty -Because 'the load balancer must not get the endpoint'
        foreach ($n in $c.nodes) { ($n.role -eq 'server') | Should -Be (@($n.env) -contains "K3S_DATASTORE_ENDPOINT=$dsn") }
        Remove-K3dCluster $name -Force
    }

    It 'removes the config file when k3d fails, and warns on k3d v4 that argv carries the token' {
        Use-FakeK3d 'v5.8.3'
        $env:FAKE_K3D_FAIL_CREATE = '1'
        try {
            $err = $null
            New-K3dCluster (New-TestName 'secf') -Datastore 'postgres://k3s:x@db:5432/k3s' -SkipPreflight -SkipVerify -ErrorVariable err -ErrorAction SilentlyContinue -WarningAction SilentlyContinue
            $err[0].FullyQualifiedErrorId | Should -Be 'K3dCreateFailed,K3dEtcd.Commands.K3d.NewK3dClusterCommand'
            $path = @(Get-FakeK3dRecord cluster create)[0].config.path
            $path | Should -Not -BeNullOrEmpty
            Test-Path (Split-Path $path) | Should -BeFalse
        }
        finally { $env:FAKE_K3D_FAIL_CREATE = $null }
        Use-FakeK3d 'v4.4.8'
        $w = $null
        New-K3dCluster (New-TestName 'secw') -Datastore 'postgres://k3s:x@db:5432/k3s' -SkipPreflight -SkipVerify -WarningVariable w -WarningAction SilentlyContinue | Out-Null
        ($w -join "`n") | Should -Match 'process list'
    }
}

Describe '4. Set-EtcdKey -TtlSeconds grants one lease per cluster in one pipeline' -Tag Docker {
    It 'attaches each key to a lease of its own cluster (etcdctl lease list)' {
        $key = "/ttl/$([guid]::NewGuid().ToString('N'))"
        $err = $null
        @([pscustomobject]@{ Cluster = $plainA; Key = $key; Value = 'a' }, [pscustomobject]@{ Cluster = $plainB; Key = $key; Value = 'b' }) |
            Set-EtcdKey -TtlSeconds 300 -ErrorVariable err -ErrorAction SilentlyContinue
        $err | Should -BeNullOrEmpty
        $leases = foreach ($c in $plainA, $plainB) {
            $kv = (etcdctl --endpoints $c.Endpoints[0] get $key -w json | ConvertFrom-Json).kvs
            $LASTEXITCODE | Should -Be 0
            $kv | Should -HaveCount 1
            # etcdctl leaves the lease field out for a key without one (and '{0:x}' -f 0 would match any list).
            $kv[0].lease | Should -Not -BeNullOrEmpty -Because 'a key written with -TtlSeconds carries a lease'
            [long]$kv[0].lease | Should -BeGreaterThan 0
            $lease = '{0:x16}' -f [long]$kv[0].lease   # etcdctl lease list prints 16 hex digits
            $list = @(etcdctl --endpoints $c.Endpoints[0] lease list)
            $LASTEXITCODE | Should -Be 0
            $list | Should -Contain $lease
            # The lease itself, as etcd has it: the TTL asked for, this key attached, not yet expired.
            $ttl = etcdctl --endpoints $c.Endpoints[0] lease timetolive $lease --keys -w json | ConvertFrom-Json
            $LASTEXITCODE | Should -Be 0
            $ttl.'granted-ttl' | Should -Be 300
            $ttl.ttl | Should -BeGreaterThan 0
            @($ttl.keys | ForEach-Object { [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($_)) }) | Should -Be @($key)
            $lease
        }
        $leases | Should -HaveCount 2
    }
}

Describe '5. A cancellation nobody asked for is a timeout with an ErrorId' -Tag Docker {
    It 'an endpoint that accepts and never answers: EtcdTimeout, OperationTimeout, naming the endpoint' {
        $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
        $listener.Start()
        try {
            $url = "http://127.0.0.1:$($listener.LocalEndpoint.Port)"
            foreach ($call in { Get-EtcdKey -Endpoint $url -Key /x -TimeoutSeconds 2 }, { Set-EtcdKey -Endpoint $url -Key /x -Value 1 -TimeoutSeconds 2 }, { Get-EtcdMember -Endpoint $url -TimeoutSeconds 2 }) {
                $sw = [Diagnostics.Stopwatch]::StartNew()
                $e = Get-Failure $call
                $sw.Elapsed.TotalSeconds | Should -BeLessThan 30
                $e | Should -Not -BeNullOrEmpty
                $e.FullyQualifiedErrorId | Should -Match '^EtcdTimeout,'
                $e.CategoryInfo.Category | Should -Be 'OperationTimeout'
                $e.Exception.Message | Should -Match ([regex]::Escape($url))
            }
        }
        finally { $listener.Stop() }
    }
}

Describe '5b. The etcd image version probe that never ends is a timeout with an ErrorId' -Tag Docker {
    BeforeAll {
        # An image whose /usr/local/bin/etcd never returns (also not for --version), built from the local one: nothing is pulled.
        $script:hangImage = "k3detcd/etcd-hang:$([guid]::NewGuid().ToString('N').Substring(0, 8))"
        $ctx = Join-Path ([IO.Path]::GetTempPath()) "hang-$([guid]::NewGuid().ToString('N'))"
        New-Item -ItemType Directory "$ctx/bin", "$ctx/usr/local/bin" | Out-Null
        Copy-Item /bin/dash "$ctx/bin/sh"; Copy-Item /bin/sleep "$ctx/bin/sleep"
        Set-Content "$ctx/usr/local/bin/etcd" "#!/bin/sh`nexec /bin/sleep 600`n" -NoNewline
        chmod 755 "$ctx/usr/local/bin/etcd"
        Set-Content "$ctx/Dockerfile" "FROM $($env:K3DETCD_ETCD_IMAGE)`nCOPY bin/ /bin/`nCOPY usr/ /usr/`n"
        docker build -q -t $hangImage $ctx | Out-Null
        Remove-Item $ctx -Recurse -Force
        if ($LASTEXITCODE -ne 0) { throw "could not build $hangImage" }
    }
    AfterAll { docker rmi -f $hangImage | Out-Null }

    It 'New-EtcdCluster: ImageVersionProbeTimeout (OperationTimeout) naming the image, nothing left behind' {
        $name = New-TestName 'hang'
        $e = Get-Failure { New-EtcdCluster $name -Size 1 -Image $hangImage -ProgressAction SilentlyContinue }
        $e.FullyQualifiedErrorId | Should -Match '^ImageVersionProbeTimeout,'
        $e.CategoryInfo.Category | Should -Be 'OperationTimeout'
        $e.Exception.Message | Should -Match ([regex]::Escape($hangImage))
        Get-LabelledDockerObject $name | Should -BeNullOrEmpty
        $hung = docker ps -aq --filter "ancestor=$hangImage"
        $LASTEXITCODE | Should -Be 0
        $hung | Should -BeNullOrEmpty
    }
}

Describe '6. Remove-K3dCluster removes the k3s client key it made' -Tag Docker, K3d {
    It 'removes the k3s certificate and key of the k3d/NAME/ folder with the cluster and keeps only the token; -KeepClientCertificate keeps them' {
        Use-FakeK3d
        $gone = New-TestName 'rmkey'
        $kept = New-TestName 'rmkeep'
        $null = $tlsEtcd | New-K3dCluster $gone -SkipVerify -ProgressAction SilentlyContinue
        $null = $tlsEtcd | New-K3dCluster $kept -SkipVerify -ProgressAction SilentlyContinue
        $goneDir = Join-Path $tlsEtcd.Tls.Directory "k3d/$gone"
        $keptDir = Join-Path $tlsEtcd.Tls.Directory "k3d/$kept"
        Get-ChildItem $goneDir | Should -HaveCount 4 -Because 'the CA, the k3s certificate and key, and the kept token'
        Remove-K3dCluster $gone -Force
        # The token stays: a datastore restored later needs it (Get-K3dCluster -IncludeToken, K3dToken.Tests).
        (Get-ChildItem $goneDir).Name | Should -Be @('token')
        $before = Get-FileHashes $keptDir
        Remove-K3dCluster $kept -Force -KeepClientCertificate
        Get-FileHashes $keptDir | Should -Be $before
        Remove-Item $keptDir -Recurse -Force
        # The etcd cluster's own material stays.
        Test-Path $tlsEtcd.Tls.CaFile | Should -BeTrue
    }
}

Describe '7. Clear errors at etcd''s limits' -Tag Docker {
    It 'a value over the request limit: EtcdRequestTooLarge (LimitsExceeded) naming 1.5 MiB and --max-request-bytes' {
        $key = "/big/$([guid]::NewGuid().ToString('N'))"
        $err = @(Get-Failure { Set-EtcdKey -Cluster $plainA -Key $key -Value ([byte[]]::new(2MB)) })
        $err[0].FullyQualifiedErrorId | Should -Be 'EtcdRequestTooLarge,K3dEtcd.Commands.Etcd.SetEtcdKeyCommand'
        $err[0].CategoryInfo.Category | Should -Be 'LimitsExceeded'
        $err[0].Exception.Message | Should -Match '1\.5 MiB'
        $err[0].Exception.Message | Should -Match 'max-request-bytes'
        $left = etcdctl --endpoints $plainA.Endpoints[0] get $key --keys-only
        $LASTEXITCODE | Should -Be 0 -Because 'an etcdctl that failed prints nothing either'
        $left | Should -BeNullOrEmpty
    }

    It 'a TLS cluster reached without a client certificate: EtcdClientCertificateRequired naming -CertFile/-KeyFile, quickly' {
        $sw = [Diagnostics.Stopwatch]::StartNew()
        $e = Get-Failure { Get-EtcdKey -Endpoint $tlsEtcd.Endpoints[0] -CaFile $tlsEtcd.Tls.CaFile -Key /x }
        $sw.Elapsed.TotalSeconds | Should -BeLessThan 15
        $e.FullyQualifiedErrorId | Should -Be 'EtcdClientCertificateRequired,K3dEtcd.Commands.Etcd.GetEtcdKeyCommand'
        $e.CategoryInfo.Category | Should -Be 'SecurityError'
        $e.Exception.Message | Should -Match '-CertFile'
        $e.Exception.Message | Should -Match '-KeyFile'
    }
}

Describe '8. The token round-trips as a SecureString' -Tag K3d {
    It 'New-K3dCluster b -Token $a.Token gives b the same token; a plain string still works' {
        Use-FakeK3d
        $a = New-K3dCluster (New-TestName 'rta') -Datastore 'http://etcd0:2379' -SkipPreflight -SkipVerify
        $b = New-K3dCluster (New-TestName 'rtb') -Datastore 'http://etcd0:2379' -Token $a.Token -SkipPreflight -SkipVerify
        $plain = & $plainToken $a.Token
        $plain | Should -Not -Be 'System.Security.SecureString'
        (Get-FakeCluster $b.Name).clusterToken | Should -Be $plain
        & $plainToken $b.Token | Should -Be $plain
        $c = New-K3dCluster (New-TestName 'rtc') -Datastore 'http://etcd0:2379' -Token 'plain-text-token' -SkipPreflight -SkipVerify
        (Get-FakeCluster $c.Name).clusterToken | Should -Be 'plain-text-token'
        foreach ($r in Get-FakeK3dRecord) { ($r.argv -join ' ') | Should -Not -Match 'System\.Security\.SecureString' }
        foreach ($k in $a, $b, $c) { Remove-K3dCluster $k.Name -Force }
    }

    It 'Test-K3dDatastore -Token takes the SecureString and compares the real token' {
        # k3s keeps its bootstrap data under /bootstrap/<first 12 hex of sha256(token)>.
        $hash = ([Convert]::ToHexString([Security.Cryptography.SHA256]::HashData([Text.Encoding]::UTF8.GetBytes('probe-token')))).ToLowerInvariant().Substring(0, 12)
        etcdctl --endpoints $plainA.Endpoints[0] put "/bootstrap/$hash" (New-K3sBootstrapValue 'probe-token' '{"k3s":"bootstrap"}') | Out-Null
        try {
            $s = ConvertTo-SecureString 'probe-token' -AsPlainText -Force
            $checks = Test-K3dDatastore -Datastore $plainA -Token $s -ProgressAction SilentlyContinue
            $boot = $checks | Where-Object Name -EQ 'Bootstrap'
            $boot.Passed | Should -BeTrue -Because $boot.Detail
        }
        finally { etcdctl --endpoints $plainA.Endpoints[0] del "/bootstrap/$hash" | Out-Null }
    }
}
