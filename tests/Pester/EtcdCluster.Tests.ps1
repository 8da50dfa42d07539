BeforeDiscovery {
    $script:badInput = @(
        @{ Case = 'size 0'; Call = { New-EtcdCluster (New-TestName 'bad') -Size 0 }; ErrorId = 'ParameterArgumentValidationError,K3dEtcd.Commands.Etcd.NewEtcdClusterCommand'; Category = 'InvalidData' }
        @{ Case = 'size 10'; Call = { New-EtcdCluster (New-TestName 'bad') -Size 10 }; ErrorId = 'ParameterArgumentValidationError,K3dEtcd.Commands.Etcd.NewEtcdClusterCommand'; Category = 'InvalidData' }
        @{ Case = 'invalid name'; Call = { New-EtcdCluster 'no/slashes' }; ErrorId = 'InvalidClusterName,K3dEtcd.Commands.Etcd.NewEtcdClusterCommand'; Category = 'InvalidArgument' }
        @{ Case = 'name starting with a dash'; Call = { New-EtcdCluster '-x' -Size 1 }; ErrorId = 'InvalidClusterName,K3dEtcd.Commands.Etcd.NewEtcdClusterCommand'; Category = 'InvalidArgument' }
        @{ Case = 'unknown cluster for Get'; Call = { Get-EtcdCluster 'no-such-cluster-k3detcd' }; ErrorId = 'EtcdClusterNotFound,K3dEtcd.Commands.Etcd.GetEtcdClusterCommand'; Category = 'ObjectNotFound' }
        @{ Case = 'unknown cluster for Remove'; Call = { Remove-EtcdCluster 'no-such-cluster-k3detcd' -Force }; ErrorId = 'EtcdClusterNotFound,K3dEtcd.Commands.Etcd.RemoveEtcdClusterCommand'; Category = 'ObjectNotFound' }
        @{ Case = 'missing image'; Call = { New-EtcdCluster (New-TestName 'noimg') -Image 'k3detcd/no-such-image:1.0.0' -PullPolicy Never }; ErrorId = 'ImageNotFound,K3dEtcd.Commands.Etcd.NewEtcdClusterCommand'; Category = 'ObjectNotFound' }
        @{ Case = 'enable-v2 on etcd 3.6'; Call = { New-EtcdCluster (New-TestName 'v2') -Image 'example.invalid/etcd:v3.6.1' -EnableV2 -PullPolicy Never }; ErrorId = 'EnableV2NotSupported,K3dEtcd.Commands.Etcd.NewEtcdClusterCommand'; Category = 'InvalidArgument' }
    )
}

BeforeAll {
    . "$PSScriptRoot/TestHelpers.ps1"
    Assert-DockerAvailable
}

Describe 'New-EtcdCluster / Get-EtcdCluster / Remove-EtcdCluster' -Tag Docker {
    BeforeAll {
        $script:name = New-TestName 'pester'
        $script:created = New-EtcdCluster $script:name -ProgressAction SilentlyContinue -Verbose 4>&1
        $script:cluster = $script:created | Where-Object { $_ -is [K3dEtcd.Model.EtcdCluster] }
    }
    AfterAll {
        Get-EtcdCluster "$script:name*" -ErrorAction Ignore | Remove-EtcdCluster -Force -ErrorAction Ignore
    }

    It 'creates three running members named <name>0..2' {
        $cluster.Size | Should -Be 3
        $cluster.State | Should -Be 'Running'
        $cluster.Members.Name | Should -Be @("${name}0", "${name}1", "${name}2")
        $cluster.Endpoints | Should -HaveCount 3
        $cluster.NetworkEndpoints | Should -Be @("http://${name}0:2379", "http://${name}1:2379", "http://${name}2:2379")
        $cluster.PSObject.TypeNames[0] | Should -Be 'K3dEtcd.Model.EtcdCluster'
    }

    It 'shows each phase of the creation with its time in -Verbose' {
        $messages = ($created | Where-Object { $_ -is [Management.Automation.VerboseRecord] }).Message
        $phases = @($messages | Where-Object { $_ -match '^\[ *\d+ ms\] ' })
        $names = $phases -replace '^\[ *\d+ ms\] '
        $expected = 'Docker engine connected', 'names checked*', 'image checked (etcd *)', 'network ready', '3 volumes and containers created',
            '3 members started', 'first health answer*', 'every member healthy, leader * agreed', 'cluster read back'
        $names | Should -HaveCount $expected.Count -Because ($messages -join "`n")
        for ($i = 0; $i -lt $expected.Count; $i++) { $names[$i] | Should -BeLike $expected[$i] }
        $ms = $phases | ForEach-Object { [int]($_ -replace '^\[ *(\d+) ms\].*', '$1') }
        for ($i = 1; $i -lt $ms.Count; $i++) { $ms[$i] | Should -BeGreaterOrEqual $ms[$i - 1] }
    }

    It 'starts each member once the one before it has started its server (member logs vs docker inspect)' {
        $messages = ($created | Where-Object { $_ -is [Management.Automation.VerboseRecord] }).Message
        foreach ($i in 0, 1) {
            $messages | Where-Object { $_ -like "${name}$i started its server after * ms." } | Should -HaveCount 1 -Because ($messages -join "`n")
            # etcd's own line, with the engine's timestamp, against the next container's start time.
            $line = docker logs -t "${name}$i" 2>&1 | Where-Object { "$_" -match 'etcdserver: starting member' } | Select-Object -First 1
            $line | Should -Not -BeNullOrEmpty
            $serverStarted = [DateTimeOffset]::Parse(("$line" -split ' ')[0])
            $nextStarted = [DateTimeOffset]::Parse((docker inspect -f '{{.State.StartedAt}}' "${name}$($i + 1)"))
            $nextStarted | Should -BeGreaterThan $serverStarted
        }
    }

    It 'is healthy for etcdctl at every published endpoint, with the same member IDs' {
        foreach ($m in $cluster.Members) {
            $m.ClientUrl | Should -Match '^http://127\.0\.0\.1:\d+$'
            etcdctl --endpoints $m.ClientUrl endpoint health 2>&1 | Should -Match 'is healthy'
            $list = etcdctl --endpoints $m.ClientUrl member list -w json | ConvertFrom-Json
            # etcdctl prints IDs as decimal uint64 in JSON; compare in hex as etcd prints them.
            $ids = foreach ($x in $list.members) { ([uint64]$x.ID).ToString('x') }
            ($ids | Sort-Object) | Should -Be ($cluster.Members.Id | Sort-Object)
        }
    }

    It 'publishes client ports on 127.0.0.1 only (docker inspect)' {
        foreach ($m in $cluster.Members) {
            $binding = (docker inspect $m.ContainerName | ConvertFrom-Json).HostConfig.PortBindings.'2379/tcp'[0]
            $binding.HostIp | Should -Be '127.0.0.1'
        }
    }

    It 'is returned equal by Get-EtcdCluster in a new pwsh process' {
        $json = Invoke-FreshPwsh "Get-EtcdCluster '$name' | ConvertTo-Json -Depth 5 -Compress"
        $fresh = $json | ConvertFrom-Json
        $fresh.Name | Should -Be $cluster.Name
        $fresh.Members.Id | Should -Be $cluster.Members.Id
        $fresh.Members.ClientUrl | Should -Be $cluster.Members.ClientUrl
        $fresh.Endpoints | Should -Be $cluster.Endpoints
        $fresh.Image | Should -Be $cluster.Image
        $fresh.Version | Should -Be $cluster.Version
    }

    It 'lists the cluster with wildcards and shows a table with name, state, size and endpoints' {
        $found = Get-EtcdCluster "$($name.Substring(0, 8))*"
        $found.Name | Should -Contain $name
        $table = $cluster | Format-Table | Out-String -Width 200
        $table | Should -Match 'Name\s+State\s+Size\s+Version\s+TlsUntil\s+Endpoints'
        $table | Should -Match ([regex]::Escape($name))
    }

    It 'refuses a second cluster with the same name and leaves the first untouched' {
        { New-EtcdCluster $name -Size 1 -ErrorAction Stop } | Should -Throw -ErrorId 'ClusterExists,K3dEtcd.Commands.Etcd.NewEtcdClusterCommand'
        (Get-EtcdCluster $name).Members.ContainerId | Should -Be $cluster.Members.ContainerId
    }

    It 'does nothing with -WhatIf' {
        $cluster | Remove-EtcdCluster -WhatIf
        (Get-EtcdCluster $name).State | Should -Be 'Running'
    }

    It 'removes exactly what carries the label, taking the cluster from the pipeline' {
        Get-EtcdCluster $name | Remove-EtcdCluster -Force
        Get-LabelledDockerObject $name | Should -BeNullOrEmpty
        Get-EtcdCluster $name -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }
}

Describe 'Roll-back of a failed New-EtcdCluster' -Tag Docker {
    It 'a member that cannot start leaves nothing and reports its log' {
        $n = New-TestName 'rb'
        $err = $null
        New-EtcdCluster $n -Size 1 -ExtraArgument '--no-such-flag=1' -ErrorVariable err -ErrorAction SilentlyContinue -ProgressAction SilentlyContinue
        $err | Should -HaveCount 1
        $err[0].FullyQualifiedErrorId | Should -Be 'MemberExited,K3dEtcd.Commands.Etcd.NewEtcdClusterCommand'
        $err[0].CategoryInfo.Category | Should -Be 'InvalidResult'
        $err[0].Exception.Message | Should -Match 'no-such-flag'
        Get-LabelledDockerObject $n | Should -BeNullOrEmpty
    }

    It 'a client port already in use leaves nothing' {
        $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
        $listener.Start()
        try {
            $n = New-TestName 'port'
            { New-EtcdCluster $n -Size 1 -ClientPort $listener.LocalEndpoint.Port -ErrorAction Stop -ProgressAction SilentlyContinue } |
                Should -Throw -ErrorId 'ClientPortInUse,K3dEtcd.Commands.Etcd.NewEtcdClusterCommand'
            Get-LabelledDockerObject $n | Should -BeNullOrEmpty
        }
        finally { $listener.Stop() }
    }
}

Describe 'Bad input' {
    It '<Case> is a clear error' -ForEach $badInput {
        $err = $null
        try { & $Call -ErrorAction Stop } catch { $err = $_ }
        $err | Should -Not -BeNullOrEmpty
        $err.FullyQualifiedErrorId | Should -Be $ErrorId
        $err.CategoryInfo.Category | Should -Be $Category
        $err.Exception.Message | Should -Not -Match '   at '   # no .NET stack trace
    }

    It 'an unreachable Docker engine is a clear error within a few seconds' {
        $sw = [Diagnostics.Stopwatch]::StartNew()
        $out = Invoke-FreshPwsh "`$env:DOCKER_HOST='unix:///tmp/k3detcd-no-such.sock'; try { Get-EtcdCluster } catch { `$_.FullyQualifiedErrorId + '|' + `$_.CategoryInfo.Category + '|' + `$_.Exception.Message }"
        $sw.Elapsed.TotalSeconds | Should -BeLessThan 15
        $out | Should -Match '^DockerUnreachable,K3dEtcd.Commands.Etcd.GetEtcdClusterCommand\|ConnectionError\|The Docker engine at unix:///tmp/k3detcd-no-such.sock'
    }
}
