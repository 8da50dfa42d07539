# The k3d cmdlets as a user runs them. k3d cannot run here: tests/FakeK3d (built to out/fake-k3d/k3d)
# is put first on PATH and plays the k3d version each test asks for; the datastore side (etcd
# clusters, TLS files, probes) is real. -SkipVerify is passed where a create must succeed, because
# the fake runs no k3s that could write under /registry/ (the verification itself is tested in xunit).
BeforeDiscovery {
    $script:badInput = @(
        @{ Case = "the bare word 'etcd'"; Call = { New-K3dCluster (New-TestName 'bad') -Datastore 'etcd' -SkipPreflight -SkipVerify }; ErrorId = 'InvalidDatastore,K3dEtcd.Commands.K3d.NewK3dClusterCommand'; Category = 'InvalidArgument'; Message = 'SQLite' }
        @{ Case = 'a MySQL DSN without tcp()'; Call = { New-K3dCluster (New-TestName 'bad') -Datastore 'mysql://k3s:secret@db:3306/k3s' -SkipPreflight -SkipVerify }; ErrorId = 'InvalidDatastore,K3dEtcd.Commands.K3d.NewK3dClusterCommand'; Category = 'InvalidArgument'; Message = 'tcp\(' }
        @{ Case = 'an unknown scheme'; Call = { New-K3dCluster (New-TestName 'bad') -Datastore 'ftp://db/k3s' -SkipPreflight -SkipVerify }; ErrorId = 'InvalidDatastore,K3dEtcd.Commands.K3d.NewK3dClusterCommand'; Category = 'InvalidArgument'; Message = 'ftp' }
        @{ Case = 'an invalid k3d name'; Call = { New-K3dCluster 'Bad_Name' -Datastore 'http://etcd0:2379' -SkipPreflight -SkipVerify }; ErrorId = 'InvalidK3dClusterName,K3dEtcd.Commands.K3d.NewK3dClusterCommand'; Category = 'InvalidArgument'; Message = '32' }
        @{ Case = '-Servers 0'; Call = { New-K3dCluster (New-TestName 'bad') -Datastore 'http://etcd0:2379' -Servers 0 }; ErrorId = 'ParameterArgumentValidationError,K3dEtcd.Commands.K3d.NewK3dClusterCommand'; Category = 'InvalidData'; Message = '' }
        @{ Case = 'a missing -K3dPath'; Call = { New-K3dCluster (New-TestName 'bad') -Datastore 'http://etcd0:2379' -K3dPath '/no/such/k3d' }; ErrorId = 'K3dNotFound,K3dEtcd.Commands.K3d.NewK3dClusterCommand'; Category = 'ObjectNotFound'; Message = 'not found' }
        @{ Case = 'an unknown cluster for Get'; Call = { Get-K3dCluster 'no-such-k3d-cluster' }; ErrorId = 'K3dClusterNotFound,K3dEtcd.Commands.K3d.GetK3dClusterCommand'; Category = 'ObjectNotFound'; Message = 'no-such' }
        @{ Case = 'an unknown cluster for Remove'; Call = { Remove-K3dCluster 'no-such-k3d-cluster' -Force }; ErrorId = 'K3dClusterNotFound,K3dEtcd.Commands.K3d.RemoveK3dClusterCommand'; Category = 'ObjectNotFound'; Message = 'nothing was removed' }
        @{ Case = 'an unknown cluster for Get-K3dKubeconfig'; Call = { Get-K3dKubeconfig 'no-such-k3d-cluster' }; ErrorId = 'K3dCommandFailed,K3dEtcd.Commands.K3d.GetK3dKubeconfigCommand'; Category = 'InvalidResult'; Message = 'No nodes found for given cluster' }
        @{ Case = 'probing a PostgreSQL datastore'; Call = { Test-K3dDatastore 'postgres://k3s:secret@db:5432/k3s' }; ErrorId = 'DatastoreProbeNotSupported,K3dEtcd.Commands.K3d.TestK3dDatastoreCommand'; Category = 'NotImplemented'; Message = 'etcd' }
    )
}

BeforeAll {
    . "$PSScriptRoot/TestHelpers.ps1"
    Assert-DockerAvailable
    Enter-FakeK3d

    # Every argv the fake was called with (optionally only `k3d <Command> <Sub>`).
    function Get-FakeK3dCall([string] $Command, [string] $Sub) {
        if (-not (Test-Path $env:FAKE_K3D_ARGV_LOG)) { return @() }
        foreach ($line in Get-Content $env:FAKE_K3D_ARGV_LOG) {
            $argv = @(($line | ConvertFrom-Json).argv)
            if (-not $Command -or ($argv[0] -eq $Command -and $argv[1] -eq $Sub)) { , $argv }
        }
    }
    # The --config file each `k3d cluster create` read (k3d v5 gets the token and K3S_DATASTORE_* there), as an object.
    function Get-FakeK3dConfig {
        if (-not (Test-Path $env:FAKE_K3D_ARGV_LOG)) { return @() }
        foreach ($line in Get-Content $env:FAKE_K3D_ARGV_LOG) {
            $r = $line | ConvertFrom-Json
            if ($r.argv[0] -eq 'cluster' -and $r.argv[1] -eq 'create' -and $r.config) { $r.config.content | ConvertFrom-Json }
        }
    }
    # The value after a flag, for every occurrence.
    function Get-FlagValue([string[]] $Argv, [string] $Flag) {
        for ($i = 0; $i -lt $Argv.Count - 1; $i++) { if ($Argv[$i] -eq $Flag) { $Argv[$i + 1] } }
    }
    Use-FakeK3d
}

AfterAll {
    Exit-FakeK3d
}

Describe 'The seed flow on a TLS etcd cluster (fake k3d v5)' -Tag Docker, K3d {
    BeforeAll {
        Use-FakeK3d 'v5.8.3'
        $script:etcd = New-EtcdCluster (New-TestName 'k3detcd') -Tls -ProgressAction SilentlyContinue
        $script:k3dName = New-TestName 'topgun'
        $script:k = $etcd | New-K3dCluster $k3dName -Servers 3 -Agents 5 -TlsSan 192.0.2.10, k3s.example.test -SkipVerify -ProgressAction SilentlyContinue
        $script:create = @(Get-FakeK3dCall cluster create)
    }
    AfterAll {
        Remove-K3dCluster $k3dName -Force -ErrorAction Ignore
        Remove-EtcdCluster $etcd.Name -Force -ErrorAction Ignore
    }

    It 'returns a K3dCluster with counts, the EtcdCluster as datastore, network, API endpoint, kubeconfig and token' {
        $k.PSObject.TypeNames[0] | Should -Be 'K3dEtcd.Model.K3dCluster'
        $k.Name | Should -Be $k3dName
        $k.Servers, $k.Agents, $k.ServersRunning, $k.AgentsRunning | Should -Be @(3, 5, 3, 5)
        $k.Datastore | Should -BeOfType ([K3dEtcd.Model.EtcdCluster])
        $k.Datastore.Name | Should -Be $etcd.Name
        $k.Network | Should -Be $etcd.Network
        $k.ApiEndpoint | Should -Match '^https://0\.0\.0\.0:\d+$'
        $k.KubeconfigPath | Should -Be $env:KUBECONFIG
        $k.K3dVersion | Should -Be 'v5.8.3'
        $k.Token | Should -BeOfType ([securestring])
        ($k | Out-String) | Should -Not -Match ([regex]::Escape(($k.Token | ConvertFrom-SecureString -AsPlainText)))
    }

    It 'ran k3d once with the datastore as filtered environment variables, read-only mounts and filtered k3s args' {
        $create | Should -HaveCount 1
        $argv = $create[0]
        $argv[0..2] | Should -Be @('cluster', 'create', $k3dName)
        Get-FlagValue $argv '--servers' | Should -Be '3'
        Get-FlagValue $argv '--agents' | Should -Be '5'
        Get-FlagValue $argv '--network' | Should -Be $etcd.Network
        # The token and the K3S_DATASTORE_* variables are in the private config file, not in argv.
        $argv | Should -Not -Contain '--token'
        $argv | Should -Not -Contain '-e'
        $config = @(Get-FakeK3dConfig)[0]
        $config.apiVersion | Should -Be 'k3d.io/v1alpha5'
        $config.token | Should -Be ($k.Token | ConvertFrom-SecureString -AsPlainText)
        $config.env.envVar | Should -Be @(
            "K3S_DATASTORE_ENDPOINT=$($etcd.NetworkEndpoints -join ',')"
            'K3S_DATASTORE_CAFILE=/etc/k3detcd/datastore/ca.crt'
            'K3S_DATASTORE_CERTFILE=/etc/k3detcd/datastore/client.crt'
            'K3S_DATASTORE_KEYFILE=/etc/k3detcd/datastore/client.key')
        $config.env | ForEach-Object { $_.nodeFilters | Should -Be @('server:*') }
        $etcd.NetworkEndpoints | ForEach-Object { $_ | Should -Match '^https://' }
        @(Get-FlagValue $argv '--k3s-arg') | Should -Be @('--tls-san=192.0.2.10@server:*', '--tls-san=k3s.example.test@server:*')
        $argv | Should -Not -Contain '--datastore-endpoint'
        $mounts = @(Get-FlagValue $argv '-v')
        $mounts | Should -HaveCount 3
        foreach ($m in $mounts) { $m | Should -Match '^/.+:/etc/k3detcd/datastore/(ca\.crt|client\.crt|client\.key):ro@server:\*$' }
    }

    It 'mounts a client certificate made for k3s by the cluster CA, which etcd accepts from inside the network' {
        $files = foreach ($m in Get-FlagValue $create[0] '-v') { $m.Substring(0, $m.IndexOf(':/etc/k3detcd')) }
        foreach ($f in $files) { Test-Path $f | Should -BeTrue }
        $ca, $cert, $key = $files
        openssl x509 -in $cert -noout -subject | Should -Match "CN\s*=\s*k3s-$k3dName"
        openssl verify -CAfile $ca $cert | Should -Match ': OK'
        # The same files at the same paths, from the same network: what the k3s servers get.
        $checks = Test-K3dDatastore ($etcd.NetworkEndpoints -join ',') -Network $etcd.Network -CaFile $ca -CertFile $cert -KeyFile $key -Image $etcd.Image -ProgressAction SilentlyContinue
        $checks.Name | Should -Be @('Health', 'Write', 'ReadBack', 'Bootstrap', 'Certificates')
        $checks | ForEach-Object { $_.Passed | Should -BeTrue -Because "$($_.Name): $($_.Detail)" }
    }

    It 'Test-K3dDatastore on the cluster object passes every check and leaves no key behind (etcdctl)' {
        $tls = $etcd.Tls
        $ctl = @('--endpoints', $etcd.Endpoints[0], '--cacert', $tls.CaFile, '--cert', $tls.ClientCertFile, '--key', $tls.ClientKeyFile)
        $revBefore = [long]((etcdctl @ctl get /k3detcd/ -w json | ConvertFrom-Json).header.revision)
        $LASTEXITCODE | Should -Be 0
        $checks = Test-K3dDatastore -Datastore $etcd -ProgressAction SilentlyContinue
        $checks.Name | Should -Be @('Health', 'Write', 'ReadBack', 'Bootstrap', 'Certificates')
        $checks | ForEach-Object { $_.Passed | Should -BeTrue -Because "$($_.Name): $($_.Detail)" }
        # The probe wrote and deleted its scratch key (the revision moved by both), and no key is left.
        $left = etcdctl @ctl get /k3detcd/ --prefix --keys-only
        $LASTEXITCODE | Should -Be 0 -Because 'an etcdctl that failed says nothing about the keys'
        $left | Should -BeNullOrEmpty
        $revAfter = [long]((etcdctl @ctl get /k3detcd/ -w json | ConvertFrom-Json).header.revision)
        $revAfter | Should -BeGreaterOrEqual ($revBefore + 2)
    }

    It 'Test-K3dDatastore with a CA that did not sign the members fails health and tries nothing else' {
        $dir = Join-Path ([IO.Path]::GetTempPath()) "wrongca-$([guid]::NewGuid().ToString('N'))"
        New-Item -ItemType Directory $dir | Out-Null
        openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj '/CN=wrong-ca' -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>$null
        $checks = Test-K3dDatastore -Datastore $etcd -CaFile "$dir/ca.pem" -ProgressAction SilentlyContinue
        Remove-Item $dir -Recurse -Force
        ($checks | Where-Object Name -EQ 'Health').Passed | Should -BeFalse
        ($checks | Where-Object Name -EQ 'Health').Detail | Should -Match '0/3 endpoints healthy'
        ($checks | Where-Object Name -EQ 'Write').Detail | Should -Match 'not tried'
    }

    It 'is found by Get-K3dCluster in a new pwsh process, with its datastore' {
        $json = Invoke-FreshPwsh "Get-K3dCluster '$k3dName' | Select-Object Name, ServersRunning, AgentsRunning, ApiEndpoint, @{ n = 'Etcd'; e = { `$_.Datastore.Name } } | ConvertTo-Json -Compress"
        $fresh = $json | ConvertFrom-Json
        $fresh.Name | Should -Be $k3dName
        $fresh.ServersRunning | Should -Be 3
        $fresh.AgentsRunning | Should -Be 5
        $fresh.ApiEndpoint | Should -Be $k.ApiEndpoint
        $fresh.Etcd | Should -Be $etcd.Name
    }

    It 'shows a table within 80 columns' {
        $lines = (Get-K3dCluster $k3dName | Format-Table | Out-String -Width 80) -split "`r?`n" | Where-Object { $_.Trim() }
        $lines[0] | Should -Match '^Name\s+Servers\s+Agents\s+Datastore\s+ApiEndpoint\s*$'
        $lines[2] | Should -Match '3/3\s+5/5\s+etcd: '
        foreach ($l in $lines) { $l.Length | Should -BeLessOrEqual 80 }
    }

    It 'Get-K3dKubeconfig -Server rewrites 0.0.0.0, warns for a host outside the SANs, and writes a private file' {
        $text = Get-K3dKubeconfig $k3dName -Server 192.0.2.10 -WarningVariable w1
        $text | Should -Match 'server: https://192\.0\.2\.10:\d+'
        $text | Should -Not -Match '0\.0\.0\.0'
        $w1 | Should -BeNullOrEmpty
        $null = Get-K3dKubeconfig $k3dName -Server 203.0.113.9 -WarningVariable w2 -WarningAction SilentlyContinue
        ($w2 -join ' ') | Should -Match "203\.0\.113\.9' is not in the API server certificate's SANs"
        $path = Join-Path ([IO.Path]::GetTempPath()) "$k3dName.yaml"
        $file = Get-K3dKubeconfig $k3dName -Server k3s.example.test -Path $path
        $file | Should -BeOfType ([IO.FileInfo])
        (Get-Content $path -Raw) | Should -Match 'server: https://k3s\.example\.test:'
        if (-not $IsWindows) { (stat -c '%a' $path) | Should -Be '600' }
        Remove-Item $path
    }

    It 'Remove-K3dCluster -WhatIf removes nothing; Remove-K3dCluster keeps the etcd cluster' {
        Remove-K3dCluster $k3dName -WhatIf
        Get-FakeK3dCall cluster delete | Should -BeNullOrEmpty
        Remove-K3dCluster $k3dName -Force
        @(Get-FakeK3dCall cluster delete) | Should -HaveCount 1
        Get-K3dCluster | Where-Object Name -EQ $k3dName | Should -BeNullOrEmpty
        (Get-EtcdCluster $etcd.Name).State | Should -Be 'Running'
    }
}

Describe 'Remove-K3dCluster -IncludeDatastore' -Tag Docker, K3d {
    It 'removes the k3d cluster and the etcd cluster it used' {
        Use-FakeK3d
        $etcd = New-EtcdCluster (New-TestName 'k3dincl') -Size 1 -ProgressAction SilentlyContinue
        $name = New-TestName 'incl'
        $null = $etcd | New-K3dCluster $name -SkipVerify -ProgressAction SilentlyContinue
        Get-K3dCluster $name | Remove-K3dCluster -IncludeDatastore -Force
        Get-K3dCluster | Where-Object Name -EQ $name | Should -BeNullOrEmpty
        Get-EtcdCluster $etcd.Name -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        Get-LabelledDockerObject $etcd.Name | Should -BeNullOrEmpty
    }
}

Describe 'Roll-back of a failed create' -Tag Docker, K3d {
    It 'deletes the half-made k3d cluster, carries k3d''s error, and leaves the etcd cluster untouched' {
        Use-FakeK3d
        $env:FAKE_K3D_FAIL_CREATE = 'norollback'
        $etcd = New-EtcdCluster (New-TestName 'k3drb') -Size 1 -ProgressAction SilentlyContinue
        try {
            etcdctl --endpoints $etcd.Endpoints[0] put /keep/me 1 | Out-Null
            $name = New-TestName 'rb'
            $err = $null
            $out = $etcd | New-K3dCluster $name -SkipVerify -ErrorVariable err -ErrorAction SilentlyContinue -ProgressAction SilentlyContinue
            $out | Should -BeNullOrEmpty
            $err[0].FullyQualifiedErrorId | Should -Be 'K3dCreateFailed,K3dEtcd.Commands.K3d.NewK3dClusterCommand'
            $err[0].CategoryInfo.Category | Should -Be 'InvalidResult'
            $err[0].Exception.Message | Should -Match 'Cluster creation FAILED, also FAILED to rollback changes!'
            $err[0].Exception.Message | Should -Match 'failed to get ready'
            (@(Get-FakeK3dCall cluster delete)[0] -join ' ') | Should -Be "cluster delete $name"
            $env:FAKE_K3D_FAIL_CREATE = $null
            Get-K3dCluster | Where-Object Name -EQ $name | Should -BeNullOrEmpty
            $after = Get-EtcdCluster $etcd.Name
            $after.Members.ContainerId | Should -Be $etcd.Members.ContainerId
            $after.State | Should -Be 'Running'
            etcdctl --endpoints $etcd.Endpoints[0] get '' --prefix --keys-only | Where-Object { $_ } | Should -Be '/keep/me'
        }
        finally {
            $env:FAKE_K3D_FAIL_CREATE = $null
            Remove-EtcdCluster $etcd.Name -Force
        }
    }
}

Describe 'k3d versions, aliases and escaping (datastore strings, no pre-flight)' -Tag K3d {
    It 'k3d <Version> gets <ArgFlag> and accepts the whole command line' -ForEach @(
        @{ Version = 'v5.8.3'; ArgFlag = '--k3s-arg'; San = '--tls-san=192.0.2.10@server:*'; EnvFilter = '@server:*' }
        @{ Version = 'v4.4.8'; ArgFlag = '--k3s-server-arg'; San = '--tls-san=192.0.2.10'; EnvFilter = '@server[*]' }
        @{ Version = 'v3.4.0'; ArgFlag = '--k3s-server-arg'; San = '--tls-san=192.0.2.10'; EnvFilter = '@server[*]' }
    ) {
        Use-FakeK3d $Version
        $name = New-TestName 'ver'
        $k = New-K3dCluster $name -Datastore 'http://etcd-a:2379,http://etcd-b:2379' -Network somenet -Servers 2 -TlsSan 192.0.2.10 -SkipPreflight -SkipVerify -ProgressAction SilentlyContinue
        $k.K3dVersion | Should -Be $Version
        $k.Datastore | Should -Be 'http://etcd-a:2379,http://etcd-b:2379'
        $argv = @(Get-FakeK3dCall cluster create)[0]
        Get-FlagValue $argv $ArgFlag | Should -Be $San
        if ($Version -eq 'v5.8.3') { @(Get-FakeK3dConfig)[0].env[0].envVar | Should -Be 'K3S_DATASTORE_ENDPOINT=http://etcd-a:2379,http://etcd-b:2379' }
        else { Get-FlagValue $argv '-e' | Should -Be "K3S_DATASTORE_ENDPOINT=http://etcd-a:2379,http://etcd-b:2379$EnvFilter" }
        if ($Version -ne 'v5.8.3') { $argv | Should -Not -Contain '--k3s-arg' }
        Remove-K3dCluster $name -Force
    }

    It 'accepts -Masters and -Workers as -Servers and -Agents' {
        Use-FakeK3d
        $name = New-TestName 'alias'
        $k = New-K3dCluster $name -Datastore 'http://etcd-a:2379' -Masters 3 -Workers 2 -SkipPreflight -SkipVerify -ProgressAction SilentlyContinue
        $k.Servers, $k.Agents | Should -Be @(3, 2)
        $argv = @(Get-FakeK3dCall cluster create)[0]
        Get-FlagValue $argv '--servers' | Should -Be '3'
        Get-FlagValue $argv '--agents' | Should -Be '2'
        (Get-Command New-K3dCluster).Parameters['Servers'].Aliases | Should -Contain 'Masters'
        (Get-Command New-K3dCluster).Parameters['Agents'].Aliases | Should -Contain 'Workers'
        Remove-K3dCluster $name -Force
    }

    It "escapes '@' inside values as '\@' and never shows the password" {
        Use-FakeK3d
        $name = New-TestName 'pg'
        $k = New-K3dCluster $name -Datastore 'postgres://k3s:p@ss@db:5432/k3s' -Network dbnet -K3sArgument '--node-label=owner=ops@example.test' -SkipVerify -Verbose -ProgressAction SilentlyContinue 4>&1 -WarningVariable warnings -WarningAction SilentlyContinue
        $verbose = @($k | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }) -join "`n"
        $cluster = $k | Where-Object { $_ -is [K3dEtcd.Model.K3dCluster] }
        $argv = @(Get-FakeK3dCall cluster create)[0]
        # In the config file the node filters are a list of their own: no '\@' escaping there.
        @(Get-FakeK3dConfig)[0].env[0].envVar | Should -Be 'K3S_DATASTORE_ENDPOINT=postgres://k3s:p@ss@db:5432/k3s'
        ($argv -join ' ') | Should -Not -Match 'p\\?@ss'
        Get-FlagValue $argv '--k3s-arg' | Should -Be '--node-label=owner=ops\@example.test@server:*'
        $cluster.Datastore | Should -Be 'postgres://k3s:***@db:5432/k3s'
        (Get-K3dCluster $name).Datastore | Should -Be 'postgres://k3s:***@db:5432/k3s'
        $verbose | Should -Match 'K3S_DATASTORE_ENDPOINT=postgres://k3s:\*\*\*'
        $verbose | Should -Not -Match 'p\\?@ss'
        $verbose | Should -Not -Match ([regex]::Escape(@(Get-FakeK3dConfig)[0].token))
        ($warnings -join ' ') | Should -Match 'No pre-flight probe for a Postgres datastore'
        Remove-K3dCluster $name -Force
    }

    It 'refuses k3d <Version> as unsupported before running anything else' -ForEach @(
        @{ Version = 'v1.7.0' }
        @{ Version = 'v3.0.0-rc.6' }
    ) {
        Use-FakeK3d $Version
        { New-K3dCluster (New-TestName 'old') -Datastore 'http://etcd-a:2379' -SkipPreflight -SkipVerify -ErrorAction Stop } |
            Should -Throw -ErrorId 'UnsupportedK3dVersion,K3dEtcd.Commands.K3d.NewK3dClusterCommand'
        Get-FakeK3dCall cluster create | Should -BeNullOrEmpty
    }

    It '-WhatIf prints the exact command line quoted for the shell and runs no k3d cluster command' {
        Use-FakeK3d
        $name = New-TestName 'whatif'
        $out = Invoke-FreshPwsh "New-K3dCluster '$name' -Datastore 'postgres://k3s:p@ss@db:5432/k3s' -Network dbnet -Servers 3 -Agents 5 -TlsSan 192.0.2.10 -WhatIf"
        $text = $out -join "`n"
        $text | Should -Match 'What if: Create k3d cluster'
        if (-not $IsWindows) {
            $text | Should -Match ([regex]::Escape("k3d cluster create $name --servers 3 --agents 5 --network dbnet --config '<private k3d config file>' --k3s-arg '--tls-san=192.0.2.10@server:*'"))
        }
        $text | Should -Match ([regex]::Escape('"envVar": "K3S_DATASTORE_ENDPOINT=postgres://k3s:***@db:5432/k3s"'))
        $text | Should -Match ([regex]::Escape('"token": "***"'))
        $text | Should -Not -Match 'p\\?@ss'
        # Only `k3d version` ran (to know which flags to print); nothing was created, listed or deleted.
        Get-FakeK3dCall | ForEach-Object { $_[0] | Should -Be 'version' }
        Test-Path $env:FAKE_K3D_STATE_DIR/$name.json | Should -BeFalse
    }

    It '-WhatIf with no k3d installed shows the line for the newest k3d and says k3d is needed' {
        $name = New-TestName 'nok3d'
        $savedPath = $env:PATH
        try {
            # PATH without the fake (and without any k3d): a machine where k3d was never installed.
            $env:PATH = ($env:PATH -split [IO.Path]::PathSeparator | Where-Object { $_ -and -not (Test-Path (Join-Path $_ 'k3d')) }) -join [IO.Path]::PathSeparator
            $out = Invoke-FreshPwsh "New-K3dCluster '$name' -Datastore 'http://etcd0:2379' -Servers 3 -WhatIf 3>&1 | ForEach-Object { `"`$_`" }"
        }
        finally { $env:PATH = $savedPath }
        $text = $out -join "`n"
        $text | Should -Match 'k3d is not installed.*k3d v5\.9\.0.*install k3d to run it'
        if (-not $IsWindows) { $text | Should -Match ([regex]::Escape("k3d cluster create $name --servers 3 --agents 0 --config '<private k3d config file>'")) }
        $text | Should -Match ([regex]::Escape('"envVar": "K3S_DATASTORE_ENDPOINT=http://etcd0:2379"'))
        # Without -WhatIf the same call still says k3d is missing.
        { New-K3dCluster $name -Datastore 'http://etcd0:2379' -K3dPath '/no/such/k3d' -ErrorAction Stop } | Should -Throw -ErrorId 'K3dNotFound,K3dEtcd.Commands.K3d.NewK3dClusterCommand'
    }

    It 'quotes for PowerShell so the line runs back with the same arguments' {
        $values = @('K3S_DATASTORE_ENDPOINT=postgres://k3s:p\@ss@db@server:*', "it's", '$HOME', '@(x)', 'a,b', '`n', '--tls-san=1@server:*', '')
        $script = Join-Path ([IO.Path]::GetTempPath()) "echo-$([guid]::NewGuid().ToString('N')).ps1"
        Set-Content $script '$args | ForEach-Object { "<$_>" }'
        # The quoting code lives in K3dEtcd.Engine, inside the module's private load context.
        $null = Get-K3dEtcdOption   # makes sure the engine is loaded
        $engine = [System.Runtime.Loader.AssemblyLoadContext]::All | Where-Object Name -eq 'K3dEtcd.Dependencies' |
            ForEach-Object { $_.Assemblies } | Where-Object { $_.GetName().Name -eq 'K3dEtcd.Engine' }
        $quoting = $engine.GetType('K3dEtcd.K3d.CommandLineQuoting', $true)
        $line = $quoting.GetMethod('PowerShell').Invoke($null, [object[]] @([string] $script, [string[]] $values))
        $back = Invoke-Expression $line
        Remove-Item $script
        $back | Should -Be ($values | ForEach-Object { "<$_>" })
    }
}

Describe 'Bad input' -Tag K3d {
    BeforeAll { Use-FakeK3d }
    It 'refuses <Case> with a clear error' -ForEach $badInput {
        $err = $null
        # -ErrorAction on `& $Call` would bind to the script block, not to the cmdlet: the preference does reach it.
        try { $ErrorActionPreference = 'Stop'; & $Call } catch { $err = $_ }
        $err | Should -Not -BeNullOrEmpty
        $err.FullyQualifiedErrorId | Should -Be $ErrorId
        $err.CategoryInfo.Category | Should -Be $Category
        if ($Message) { $err.Exception.Message | Should -Match $Message }
        $err.Exception.Message | Should -Not -Match 'secret'
        Get-FakeK3dCall cluster create | Should -BeNullOrEmpty
    }
}

Describe 'A missing probe image names what works' -Tag Docker, K3d {
    BeforeAll { Use-FakeK3d; $script:savedImage = $env:K3DETCD_ETCD_IMAGE }
    AfterAll { $env:K3DETCD_ETCD_IMAGE = $script:savedImage }

    It 'New-K3dCluster on a connection string: ProbeImageNotFound naming K3DETCD_ETCD_IMAGE and -SkipPreflight -SkipVerify (its -Image is the k3s image); each works' {
        $missing = "k3detcd/no-such-probe:$([guid]::NewGuid().ToString('N').Substring(0, 8))"
        docker image inspect $missing *> $null
        $LASTEXITCODE | Should -Not -Be 0 -Because "$missing must not exist"
        $env:K3DETCD_ETCD_IMAGE = $missing
        $name = New-TestName 'probe'
        $err = $null
        try { New-K3dCluster $name -Datastore 'http://etcd0:2379' -Network bridge -ProgressAction SilentlyContinue -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -Be 'ProbeImageNotFound,K3dEtcd.Commands.K3d.NewK3dClusterCommand'
        $err.CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err.Exception.Message | Should -Match ([regex]::Escape($missing))
        $err.Exception.Message | Should -Match 'K3DETCD_ETCD_IMAGE'
        $err.Exception.Message | Should -Match 'New-K3dCluster -SkipPreflight -SkipVerify'
        $err.Exception.Message | Should -Not -Match 'pass -Image'
        Get-FakeK3dCall cluster create | Should -BeNullOrEmpty
        # What it names works: without the probe the cluster is created...
        $k = New-K3dCluster $name -Datastore 'http://etcd0:2379' -Network bridge -SkipPreflight -SkipVerify -ProgressAction SilentlyContinue
        $k.Name | Should -Be $name
        Remove-K3dCluster $name -Force
        # ...and with K3DETCD_ETCD_IMAGE naming an image that is present the probe runs: it finds no etcd0, a preflight failure.
        $env:K3DETCD_ETCD_IMAGE = $script:savedImage
        $err = $null
        try { New-K3dCluster (New-TestName 'probe') -Datastore 'http://etcd0:2379' -Network bridge -ProgressAction SilentlyContinue -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -Be 'DatastorePreflightFailed,K3dEtcd.Commands.K3d.NewK3dClusterCommand'
    }
}
