BeforeDiscovery {
    $script:badTlsInput = @(
        @{ Case = '-TlsSan without -Tls'; Call = { New-EtcdCluster (New-TestName 'bad') -TlsSan 'a.example.test' }; ErrorId = 'TlsSanWithoutTls,K3dEtcd.Commands.Etcd.NewEtcdClusterCommand'; Category = 'InvalidArgument' }
        @{ Case = 'an invalid -TlsSan'; Call = { New-EtcdCluster (New-TestName 'bad') -Tls -TlsSan 'not a name' }; ErrorId = 'InvalidTlsSan,K3dEtcd.Commands.Etcd.NewEtcdClusterCommand'; Category = 'InvalidArgument' }
        @{ Case = '-CertificateValidityDays 0'; Call = { New-EtcdCluster (New-TestName 'bad') -Tls -CertificateValidityDays 0 }; ErrorId = 'ParameterArgumentValidationError,K3dEtcd.Commands.Etcd.NewEtcdClusterCommand'; Category = 'InvalidData' }
        @{ Case = '-CertificateValidityDays without -Tls'; Call = { New-EtcdCluster (New-TestName 'bad') -CertificateValidityDays 30 }; ErrorId = 'CertificateValidityWithoutTls,K3dEtcd.Commands.Etcd.NewEtcdClusterCommand'; Category = 'InvalidArgument' }
        @{ Case = 'a client certificate for an unknown cluster'; Call = { New-EtcdClientCertificate -Cluster 'no-such-cluster-k3detcd' -CommonName x -OutputDirectory TestDrive:/x }; ErrorId = 'EtcdClusterNotFound,K3dEtcd.Commands.Etcd.NewEtcdClientCertificateCommand'; Category = 'ObjectNotFound' }
        @{ Case = 'a client certificate with a bad common name'; Call = { New-EtcdClientCertificate -Cluster 'no-such-cluster-k3detcd' -CommonName '../evil' -OutputDirectory TestDrive:/x }; ErrorId = 'InvalidCommonName,K3dEtcd.Commands.Etcd.NewEtcdClientCertificateCommand'; Category = 'InvalidArgument' }
        @{ Case = 'a client certificate for something not a cluster'; Call = { New-EtcdClientCertificate -Cluster 42 -CommonName x -OutputDirectory TestDrive:/x }; ErrorId = 'CannotConvertArgumentNoMessage,K3dEtcd.Commands.Etcd.NewEtcdClientCertificateCommand'; Category = 'InvalidArgument' }
    )
}

BeforeAll {
    . "$PSScriptRoot/TestHelpers.ps1"
    Assert-DockerAvailable
    # Refusals surface as timeouts in etcdctl, so calls expected to fail get short ones.
    function Invoke-Etcdctl([string] $Endpoint, $Tls, [string[]] $More, [string] $Timeout = '5s') {
        $tlsArgs = if ($Tls) { @('--cacert', $Tls.CaFile, '--cert', $Tls.ClientCertFile, '--key', $Tls.ClientKeyFile) } else { @() }
        $out = etcdctl --endpoints $Endpoint --dial-timeout 2s --command-timeout $Timeout @tlsArgs @More 2>&1
        [pscustomobject]@{ ExitCode = $LASTEXITCODE; Output = ($out -join "`n") }
    }
}

Describe 'New-EtcdCluster -Tls' -Tag Docker, Tls {
    BeforeAll {
        $script:name = New-TestName 'tls'
        $script:verbose = New-EtcdCluster $script:name -Tls -TlsSan etcd.example.test, 192.0.2.10 -CertificateValidityDays 30 -Verbose -ProgressAction SilentlyContinue 4>&1
        $script:cluster = $script:verbose | Where-Object { $_ -is [K3dEtcd.Model.EtcdCluster] }
        $script:messages = $script:verbose | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message
    }
    AfterAll {
        Get-EtcdCluster "$script:name*" -ErrorAction Ignore | Remove-EtcdCluster -Force -ErrorAction Ignore
    }

    It 'returns a cluster whose Tls names the CA, client certificate and key' {
        $cluster | Should -Not -BeNullOrEmpty
        $cluster.Tls.CaFile | Should -Exist
        $cluster.Tls.ClientCertFile | Should -Exist
        $cluster.Tls.ClientKeyFile | Should -Exist
        $dataHome = if ($env:XDG_DATA_HOME) { $env:XDG_DATA_HOME } else { Join-Path $HOME '.local/share' }
        $cluster.Tls.Directory | Should -Be (Join-Path $dataHome "k3detcd/clusters/$name")
        $cluster.Tls.NotAfter | Should -BeGreaterThan (Get-Date).ToUniversalTime().AddDays(29)
        $cluster.Tls.NotAfter | Should -BeLessThan (Get-Date).ToUniversalTime().AddDays(31)
        $cluster.Endpoints | ForEach-Object { $_ | Should -Match '^https://127\.0\.0\.1:\d+$' }
        $cluster.NetworkEndpoints | Should -Be @("https://${name}0:2379", "https://${name}1:2379", "https://${name}2:2379")
    }

    It 'never shows private key material in the verbose stream' {
        $messages | Should -Not -BeNullOrEmpty
        ($messages -join "`n") | Should -Match 'Creating TLS material'
        ($messages -join "`n") | Should -Not -Match 'PRIVATE KEY'
        ($messages -join "`n") | Should -Not -Match 'BEGIN '
    }

    It 'writes keys 0600 (stat)' {
        $keys = Get-ChildItem $cluster.Tls.Directory -Recurse -Filter '*-key.pem'
        $keys | Should -HaveCount 8   # CA, client, and server + peer for 3 members
        foreach ($k in $keys) { stat -c '%a' $k.FullName | Should -Be '600' }
    }

    It 'serves every member to etcdctl with the client certificate, and refuses without one or over http' {
        foreach ($m in $cluster.Members) {
            (Invoke-Etcdctl $m.ClientUrl $cluster.Tls @('endpoint', 'health')).Output | Should -Match 'is healthy'
            (Invoke-Etcdctl $m.ClientUrl $null @('--cacert', $cluster.Tls.CaFile, 'endpoint', 'health') -Timeout 1s).ExitCode | Should -Not -Be 0
            (Invoke-Etcdctl ($m.ClientUrl -replace '^https', 'http') $null @('endpoint', 'health') -Timeout 1s).ExitCode | Should -Not -Be 0
            # etcdctl only says "unhealthy"; curl shows the reason: etcd's TLS alert for the missing certificate.
            $noCert = curl -sS --max-time 5 --cacert $cluster.Tls.CaFile "$($m.ClientUrl)/health" 2>&1
            $LASTEXITCODE | Should -Not -Be 0
            "$noCert" | Should -Match 'bad certificate|certificate required'
            $plain = curl -sS --max-time 5 "$($m.ClientUrl -replace '^https', 'http')/health" 2>&1
            $LASTEXITCODE | Should -Be 52 -Because "the TLS port gives plain HTTP an empty reply ($plain)"
        }
    }

    It 'has peers on https with the member IDs of the labels' {
        $list = (Invoke-Etcdctl $cluster.Endpoints[0] $cluster.Tls @('member', 'list', '-w', 'json')).Output | ConvertFrom-Json
        $list.members.peerURLs | ForEach-Object { $_ | Should -Match '^https://' }
        $ids = foreach ($x in $list.members) { ([uint64]$x.ID).ToString('x') }
        ($ids | Sort-Object) | Should -Be ($cluster.Members.Id | Sort-Object)
    }

    It 'shows the soonest expiry in the TlsUntil column' {
        ($cluster | Format-Table | Out-String -Width 200) | Should -Match "$([regex]::Escape($name))\s+Running\s+3\s+\S+\s+\d{4}-\d{2}-\d{2}\s+https://"
    }

    It 'is rebuilt with Tls by Get-EtcdCluster in a new pwsh process' {
        $fresh = Invoke-FreshPwsh "Get-EtcdCluster '$name' | ConvertTo-Json -Depth 5 -Compress" | ConvertFrom-Json
        $fresh.Tls.Directory | Should -Be $cluster.Tls.Directory
        $fresh.Tls.CaFile | Should -Be $cluster.Tls.CaFile
        $fresh.Tls.ClientCertFile | Should -Be $cluster.Tls.ClientCertFile
        $fresh.Tls.ClientKeyFile | Should -Be $cluster.Tls.ClientKeyFile
        ([datetime]$fresh.Tls.NotAfter).ToUniversalTime() | Should -Be $cluster.Tls.NotAfter
        $fresh.Members.ClientUrl | Should -Be $cluster.Members.ClientUrl
    }

    It 'is reached from a container on the cluster network at the in-network https URLs' {
        $out = docker run --rm --network $cluster.Network -v "$($cluster.Tls.Directory):/pki:ro" $env:K3DETCD_ETCD_IMAGE `
            /usr/local/bin/etcdctl --endpoints ($cluster.NetworkEndpoints -join ',') --cacert /pki/ca.pem --cert /pki/client.pem --key /pki/client-key.pem `
            --dial-timeout 5s endpoint health 2>&1
        $LASTEXITCODE | Should -Be 0
        @($out | Select-String 'is healthy') | Should -HaveCount 3
    }

    Context 'New-EtcdClientCertificate' {
        It 'issues a client certificate from the cluster object that etcdctl and openssl accept' {
            $dir = Join-Path $TestDrive 'k3s-certs'
            $cert = New-EtcdClientCertificate -Cluster $cluster -CommonName k3s -OutputDirectory $dir
            $cert.PSObject.TypeNames[0] | Should -Be 'K3dEtcd.Model.EtcdClientCertificate'
            $cert.CertFile | Should -Be (Join-Path $dir 'k3s.pem')
            $cert.KeyFile | Should -Be (Join-Path $dir 'k3s-key.pem')
            $cert.CaFile | Should -Be (Join-Path $dir 'ca.pem')
            stat -c '%a' $cert.KeyFile | Should -Be '600'
            openssl verify -CAfile $cluster.Tls.CaFile -purpose sslclient $cert.CertFile | Should -Match ': OK'
            openssl x509 -in $cert.CertFile -noout -subject | Should -Match 'CN ?= ?k3s'
            $cert.NotAfter | Should -BeLessOrEqual $cluster.Tls.NotAfter.AddSeconds(1)
            $tls = [pscustomobject]@{ CaFile = $cert.CaFile; ClientCertFile = $cert.CertFile; ClientKeyFile = $cert.KeyFile }
            (Invoke-Etcdctl $cluster.Endpoints[0] $tls @('put', '/k3dtest', 'v')).Output | Should -Match 'OK'
        }

        It 'takes the cluster by name or from the pipeline, and -WhatIf writes nothing' {
            $byName = New-EtcdClientCertificate -Cluster $name -CommonName by-name -OutputDirectory (Join-Path $TestDrive 'n')
            $byName.CertFile | Should -Exist
            $piped = Get-EtcdCluster $name | New-EtcdClientCertificate -CommonName piped -OutputDirectory (Join-Path $TestDrive 'p')
            $piped.Cluster | Should -Be $name
            New-EtcdClientCertificate -Cluster $cluster -CommonName whatif -OutputDirectory (Join-Path $TestDrive 'w') -WhatIf
            Join-Path $TestDrive 'w' | Should -Not -Exist
        }

        It 'refuses to overwrite files without -Force and replaces them with it' {
            $dir = Join-Path $TestDrive 'again'
            $first = New-EtcdClientCertificate $cluster twice $dir
            $err = $null
            New-EtcdClientCertificate $cluster twice $dir -ErrorVariable err -ErrorAction SilentlyContinue
            $err[0].FullyQualifiedErrorId | Should -Be 'ClientCertificateFileExists,K3dEtcd.Commands.Etcd.NewEtcdClientCertificateCommand'
            $err[0].CategoryInfo.Category | Should -Be 'ResourceExists'
            $before = Get-FileHash $first.CertFile
            $second = New-EtcdClientCertificate $cluster twice $dir -Force
            (Get-FileHash $second.CertFile).Hash | Should -Not -Be $before.Hash
            stat -c '%a' $second.KeyFile | Should -Be '600'
        }

        It 'never writes key content to the pipeline or verbose stream' {
            $all = New-EtcdClientCertificate $cluster quiet (Join-Path $TestDrive 'q') -Verbose 4>&1 | Out-String
            $all | Should -Not -Match 'PRIVATE KEY'
            ($all -split "`n" | Where-Object { $_ -match 'BEGIN' }) | Should -BeNullOrEmpty
        }
    }
}

Describe 'Removing TLS clusters' -Tag Docker, Tls {
    It 'Remove-EtcdCluster deletes the TLS directory; -KeepData keeps it (and a leftover is refused)' {
        $n = New-TestName 'tlsrm'
        $c = New-EtcdCluster $n -Size 1 -Tls -ProgressAction SilentlyContinue
        $dir = $c.Tls.Directory
        try {
            Remove-EtcdCluster $n -Force -KeepData
            $dir | Should -Exist
            # Docker, not the module, says the data volume is kept.
            docker volume inspect "${n}0-data" | Out-Null
            $LASTEXITCODE | Should -Be 0
            docker volume rm "${n}0-data" | Out-Null
            $LASTEXITCODE | Should -Be 0
            $err = $null
            New-EtcdCluster $n -Size 1 -Tls -ErrorVariable err -ErrorAction SilentlyContinue -ProgressAction SilentlyContinue
            $err[0].FullyQualifiedErrorId | Should -Be 'TlsDirectoryExists,K3dEtcd.Commands.Etcd.NewEtcdClusterCommand'
            $err[0].CategoryInfo.Category | Should -Be 'ResourceExists'
            Get-LabelledDockerObject $n | Should -BeNullOrEmpty
            Remove-Item -Recurse -Force $dir

            $c = New-EtcdCluster $n -Size 1 -Tls -ProgressAction SilentlyContinue
            $c | Remove-EtcdCluster -Force
            $dir | Should -Not -Exist
            Get-LabelledDockerObject $n | Should -BeNullOrEmpty
        }
        finally {
            Remove-EtcdCluster $n -Force -ErrorAction Ignore
            if (Test-Path $dir) { Remove-Item -Recurse -Force $dir }
        }
    }

    It 'New-EtcdClientCertificate on a plain cluster is a clear error' {
        $n = New-TestName 'plain'
        $c = New-EtcdCluster $n -Size 1 -ProgressAction SilentlyContinue
        try {
            $err = $null
            New-EtcdClientCertificate -Cluster $c -CommonName x -OutputDirectory (Join-Path $TestDrive 'plain') -ErrorVariable err -ErrorAction SilentlyContinue
            $err[0].FullyQualifiedErrorId | Should -Be 'ClusterNotTls,K3dEtcd.Commands.Etcd.NewEtcdClientCertificateCommand'
            $err[0].CategoryInfo.Category | Should -Be 'InvalidOperation'
            Join-Path $TestDrive 'plain' | Should -Not -Exist
        }
        finally { $c | Remove-EtcdCluster -Force }
    }
}

Describe 'TLS bad input' {
    It '<Case> is a clear error' -ForEach $badTlsInput {
        $err = $null
        # Inside the script block the preference, not a -ErrorAction on the block, makes non-terminating errors catchable.
        $ErrorActionPreference = 'Stop'
        try { & $Call } catch { $err = $_ }
        $err | Should -Not -BeNullOrEmpty
        $err.FullyQualifiedErrorId | Should -Be $ErrorId
        $err.CategoryInfo.Category | Should -Be $Category
        $err.Exception.Message | Should -Not -Match '   at '
    }
}
