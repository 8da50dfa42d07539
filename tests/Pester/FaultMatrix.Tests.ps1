# The fault and bad-input matrix (issue 17): every exported cmdlet against an unknown cluster, a
# cluster with no quorum, a cluster with one member down, an unreachable endpoint, missing and
# malformed TLS files, an unreachable Docker engine, and Ctrl+C in the middle of the operation.
# Each case asserts the ErrorId and category (or the honest partial result) and that nothing was
# created, changed or left behind. Clusters are shared between cases to keep the run short.
BeforeDiscovery {
    $script:u = 'nosuch-fm'   # no cluster of this name exists (asserted in BeforeAll)
    $script:ep = 'http://127.0.0.1:9'   # nothing listens on the discard port
    $script:unknownCluster = @(
        @{ Cmd = 'Get-EtcdCluster'; Call = { Get-EtcdCluster $u }; Id = 'EtcdClusterNotFound'; Cat = 'ObjectNotFound' }
        @{ Cmd = 'Get-EtcdKey'; Call = { Get-EtcdKey -Cluster $u -Key /x }; Id = 'EtcdClusterNotFound'; Cat = 'ObjectNotFound' }
        @{ Cmd = 'Set-EtcdKey'; Call = { Set-EtcdKey -Cluster $u -Key /x -Value 1 }; Id = 'EtcdClusterNotFound'; Cat = 'ObjectNotFound' }
        @{ Cmd = 'Remove-EtcdKey'; Call = { Remove-EtcdKey -Cluster $u -Key /x -Force }; Id = 'EtcdClusterNotFound'; Cat = 'ObjectNotFound' }
        @{ Cmd = 'Watch-EtcdKey'; Call = { Watch-EtcdKey -Cluster $u -Key /x -Count 1 }; Id = 'EtcdClusterNotFound'; Cat = 'ObjectNotFound' }
        @{ Cmd = 'Get-EtcdMember'; Call = { Get-EtcdMember -Cluster $u }; Id = 'EtcdClusterNotFound'; Cat = 'ObjectNotFound' }
        @{ Cmd = 'Get-EtcdLeaderStats'; Call = { Get-EtcdLeaderStats -Cluster $u }; Id = 'EtcdClusterNotFound'; Cat = 'ObjectNotFound' }
        @{ Cmd = 'Test-EtcdCluster'; Call = { Test-EtcdCluster -Cluster $u }; Id = 'EtcdClusterNotFound'; Cat = 'ObjectNotFound' }
        @{ Cmd = 'Add-EtcdMember'; Call = { Add-EtcdMember -Cluster $u }; Id = 'EtcdClusterNotFound'; Cat = 'ObjectNotFound' }
        @{ Cmd = 'Remove-EtcdMember'; Call = { Remove-EtcdMember -Cluster $u -Name etcd0 -Force }; Id = 'EtcdClusterNotFound'; Cat = 'ObjectNotFound' }
        @{ Cmd = 'Start-EtcdMember'; Call = { Start-EtcdMember -Cluster $u -Name etcd0 }; Id = 'EtcdClusterNotFound'; Cat = 'ObjectNotFound' }
        @{ Cmd = 'Stop-EtcdMember'; Call = { Stop-EtcdMember -Cluster $u -Name etcd0 -Force }; Id = 'EtcdClusterNotFound'; Cat = 'ObjectNotFound' }
        @{ Cmd = 'Restart-EtcdMember'; Call = { Restart-EtcdMember -Cluster $u -Name etcd0 -Force }; Id = 'EtcdClusterNotFound'; Cat = 'ObjectNotFound' }
        @{ Cmd = 'Measure-EtcdFailover'; Call = { Measure-EtcdFailover -Cluster $u }; Id = 'EtcdClusterNotFound'; Cat = 'ObjectNotFound' }
        @{ Cmd = 'New-EtcdClientCertificate'; Call = { New-EtcdClientCertificate -Cluster $u -CommonName fm -OutputDirectory (Join-Path $scratch 'cert') }; Id = 'EtcdClusterNotFound'; Cat = 'ObjectNotFound' }
        @{ Cmd = 'Remove-EtcdCluster'; Call = { Remove-EtcdCluster $u -Force }; Id = 'EtcdClusterNotFound'; Cat = 'ObjectNotFound' }
        @{ Cmd = 'Get-EtcdAlarm'; Call = { Get-EtcdAlarm -Cluster $u }; Id = 'EtcdClusterNotFound'; Cat = 'ObjectNotFound' }
        @{ Cmd = 'Clear-EtcdAlarm'; Call = { Clear-EtcdAlarm -Cluster $u -Confirm:$false }; Id = 'EtcdClusterNotFound'; Cat = 'ObjectNotFound' }
        @{ Cmd = 'Get-EtcdCertificate'; Call = { Get-EtcdCertificate $u }; Id = 'EtcdClusterNotFound'; Cat = 'ObjectNotFound' }
        @{ Cmd = 'Update-EtcdCertificate'; Call = { Update-EtcdCertificate $u -Force }; Id = 'EtcdClusterNotFound'; Cat = 'ObjectNotFound' }
        @{ Cmd = 'Update-EtcdCertificate -Authority'; Call = { Update-EtcdCertificate $u -Authority -Force }; Id = 'EtcdClusterNotFound'; Cat = 'ObjectNotFound' }
        @{ Cmd = 'Update-EtcdCluster'; Call = { Update-EtcdCluster $u 3.5.16 -Force }; Id = 'EtcdClusterNotFound'; Cat = 'ObjectNotFound' }
        @{ Cmd = 'Invoke-EtcdCompaction'; Call = { Invoke-EtcdCompaction -Cluster $u -Confirm:$false }; Id = 'EtcdClusterNotFound'; Cat = 'ObjectNotFound' }
        @{ Cmd = 'Invoke-EtcdDefragmentation'; Call = { Invoke-EtcdDefragmentation -Cluster $u -Confirm:$false }; Id = 'EtcdClusterNotFound'; Cat = 'ObjectNotFound' }
        @{ Cmd = 'Optimize-EtcdCluster'; Call = { Optimize-EtcdCluster -Cluster $u -Confirm:$false }; Id = 'EtcdClusterNotFound'; Cat = 'ObjectNotFound' }
        @{ Cmd = 'Move-EtcdLeader'; Call = { Move-EtcdLeader etcd1 -Cluster $u -Confirm:$false }; Id = 'EtcdClusterNotFound'; Cat = 'ObjectNotFound' }
        @{ Cmd = 'Save-EtcdSnapshot'; Call = { Save-EtcdSnapshot (Join-Path $scratch 'cert') -Cluster $u }; Id = 'EtcdClusterNotFound'; Cat = 'ObjectNotFound' }
        @{ Cmd = 'Restore-EtcdSnapshot -Replace'; Call = { Restore-EtcdSnapshot "$scratch/junk.pem" -Cluster $u -Replace -Force }; Id = 'EtcdClusterNotFound'; Cat = 'ObjectNotFound' }
        @{ Cmd = 'Repair-EtcdMember'; Call = { Repair-EtcdMember $u etcd0 -Force }; Id = 'EtcdClusterNotFound'; Cat = 'ObjectNotFound' }
        @{ Cmd = 'Repair-EtcdCluster'; Call = { Repair-EtcdCluster $u -FromMember etcd0 -Force }; Id = 'EtcdClusterNotFound'; Cat = 'ObjectNotFound' }
        @{ Cmd = 'Start-EtcdBrowser'; Call = { Start-EtcdBrowser -Cluster $u -NoBrowser }; Id = 'EtcdClusterNotFound'; Cat = 'ObjectNotFound' }
        @{ Cmd = 'Get-K3dCluster'; Call = { Get-K3dCluster $u }; Id = 'K3dClusterNotFound'; Cat = 'ObjectNotFound' }
        @{ Cmd = 'Get-K3dKubeconfig'; Call = { Get-K3dKubeconfig $u }; Id = 'K3dCommandFailed'; Cat = 'InvalidResult' }
        @{ Cmd = 'Remove-K3dCluster'; Call = { Remove-K3dCluster $u -Force }; Id = 'K3dClusterNotFound'; Cat = 'ObjectNotFound' }
        # -Datastore takes a cluster name or a datastore string: a name that is neither is an invalid argument.
        @{ Cmd = 'New-K3dCluster'; Call = { New-K3dCluster fmk -Datastore $u -SkipVerify }; Id = 'InvalidDatastore'; Cat = 'InvalidArgument' }
        @{ Cmd = 'Test-K3dDatastore'; Call = { Test-K3dDatastore $u }; Id = 'InvalidDatastore'; Cat = 'InvalidArgument' }
        @{ Cmd = 'Set-K3dEtcdOption'; Call = { Set-K3dEtcdOption -DockerHost 'ftp://nowhere' }; Id = 'InvalidDockerHost'; Cat = 'InvalidArgument' }
    )
    $script:unreachable = @(
        @{ Cmd = 'Get-EtcdKey'; Call = { Get-EtcdKey -Endpoint $ep -Key /x -TimeoutSeconds 3 } }
        @{ Cmd = 'Set-EtcdKey'; Call = { Set-EtcdKey -Endpoint $ep -Key /x -Value 1 -TimeoutSeconds 3 } }
        @{ Cmd = 'Remove-EtcdKey'; Call = { Remove-EtcdKey -Endpoint $ep -Key /x -Force -TimeoutSeconds 3 } }
        @{ Cmd = 'Watch-EtcdKey'; Call = { Watch-EtcdKey -Endpoint $ep -Key /x -Count 1 -TimeoutSeconds 3 } }
        @{ Cmd = 'Get-EtcdMember'; Call = { Get-EtcdMember -Endpoint $ep -TimeoutSeconds 3 } }
        @{ Cmd = 'Get-EtcdLeaderStats'; Call = { Get-EtcdLeaderStats -Endpoint $ep -TimeoutSeconds 3 } }
    )
    # Missing and malformed TLS files, for every cmdlet that takes them.
    $script:tlsFiles = foreach ($c in @(
            @{ Cmd = 'Get-EtcdKey'; Call = { param($tls) Get-EtcdKey -Endpoint 'https://127.0.0.1:9' -Key /x @tls } }
            @{ Cmd = 'Set-EtcdKey'; Call = { param($tls) Set-EtcdKey -Endpoint 'https://127.0.0.1:9' -Key /x -Value 1 @tls } }
            @{ Cmd = 'Remove-EtcdKey'; Call = { param($tls) Remove-EtcdKey -Endpoint 'https://127.0.0.1:9' -Key /x -Force @tls } }
            @{ Cmd = 'Watch-EtcdKey'; Call = { param($tls) Watch-EtcdKey -Endpoint 'https://127.0.0.1:9' -Key /x -Count 1 @tls } }
            @{ Cmd = 'Get-EtcdMember'; Call = { param($tls) Get-EtcdMember -Endpoint 'https://127.0.0.1:9' @tls } }
            @{ Cmd = 'Get-EtcdLeaderStats'; Call = { param($tls) Get-EtcdLeaderStats -Endpoint 'https://127.0.0.1:9' @tls } }
            @{ Cmd = 'Test-EtcdCluster'; Call = { param($tls) Test-EtcdCluster -Endpoint 'https://127.0.0.1:9' @tls } }
        )) {
        @{ Cmd = $c.Cmd; Call = $c.Call; Case = 'a missing CA file'; Files = 'missingCa'; Id = 'EtcdTlsFileNotFound'; Cat = 'ObjectNotFound' }
        @{ Cmd = $c.Cmd; Call = $c.Call; Case = 'a malformed CA file'; Files = 'badCa'; Id = 'EtcdCaFileInvalid'; Cat = 'InvalidArgument' }
        @{ Cmd = $c.Cmd; Call = $c.Call; Case = 'a malformed client certificate'; Files = 'badCert'; Id = 'EtcdClientCertificateInvalid'; Cat = 'InvalidArgument' }
        @{ Cmd = $c.Cmd; Call = $c.Call; Case = 'a missing client key'; Files = 'missingKey'; Id = 'EtcdTlsFileNotFound'; Cat = 'ObjectNotFound' }
    }
    $script:dockerDown = @(
        'Get-EtcdCluster', 'New-EtcdCluster fm', 'Remove-EtcdCluster fm -Force', 'Add-EtcdMember -Cluster fm', 'Remove-EtcdMember -Cluster fm -Name etcd0 -Force',
        'Start-EtcdMember -Cluster fm -Name etcd0', 'Stop-EtcdMember -Cluster fm -Name etcd0 -Force', 'Restart-EtcdMember -Cluster fm -Name etcd0 -Force',
        'Measure-EtcdFailover -Cluster fm', 'New-EtcdClientCertificate -Cluster fm -CommonName fm -OutputDirectory /tmp/k3detcd-fm-cert-never', 'Get-EtcdKey -Cluster fm -Key /x', 'Set-EtcdKey -Cluster fm -Key /x -Value 1',
        'Remove-EtcdKey -Cluster fm -Key /x -Force', 'Watch-EtcdKey -Cluster fm -Key /x -Count 1', 'Get-EtcdMember -Cluster fm', 'Get-EtcdLeaderStats -Cluster fm',
        'Test-EtcdCluster -Cluster fm', 'Update-EtcdCluster fm 3.5.16 -Force', 'Update-EtcdCertificate fm -Force', 'Update-EtcdCertificate fm -Authority -Force',
        'Repair-EtcdMember fm etcd0 -Force', 'Repair-EtcdCluster fm -FromMember etcd0 -Force', 'Get-EtcdCertificate fm', 'Test-K3dDatastore http://etcd0:2379', 'New-K3dCluster fmk -Datastore http://etcd0:2379 -SkipPreflight -SkipVerify'
    ) | ForEach-Object { @{ Line = $_ } }
}

BeforeAll {
    . "$PSScriptRoot/TestHelpers.ps1"
    Assert-DockerAvailable
    $script:u = 'nosuch-fm'
    $script:ep = 'http://127.0.0.1:9'
    Enter-FakeK3d
    $script:scratch = Join-Path ([IO.Path]::GetTempPath()) "faultmatrix-$([guid]::NewGuid().ToString('N'))"
    New-Item -ItemType Directory $scratch | Out-Null
    $env:FAKE_K3D_STATE_DIR = "$scratch/k3d-state"
    $env:FAKE_K3D_ARGV_LOG = "$scratch/argv.jsonl"
    $env:KUBECONFIG = "$scratch/kubeconfig"
    $env:FAKE_K3D_VERSION = 'v5.8.3'
    # The module's TLS material goes under this file's own data home, so a before/after listing of it
    # sees exactly what these cases wrote (other test processes write their clusters elsewhere).
    $script:savedDataHome = $env:XDG_DATA_HOME
    $env:XDG_DATA_HOME = "$scratch/data"

    # What a case could leave behind, by the docker CLI and the file system: containers, volumes and
    # networks named after (or labelled with) the case's cluster names, and every file and folder in
    # the data home and in the scratch folder (the TLS files given to the cases), with their hashes.
    function Get-FaultSnapshot([string[]] $Names = @()) {
        $rx = if ($Names) { '^(k3d-)?(' + (($Names | ForEach-Object { [regex]::Escape($_) }) -join '|') + ')(\d|-|$)' } else { $null }
        $docker = foreach ($list in @('container', 'ps', '-a', '--format', '{{.Names}} {{.Label "io.k3detcd.cluster"}}'),
            @('volume', 'volume', 'ls', '--format', '{{.Name}} {{.Label "io.k3detcd.cluster"}}'),
            @('network', 'network', 'ls', '--format', '{{.Name}} {{.Label "io.k3detcd.cluster"}}')) {
            $lines = docker @($list | Select-Object -Skip 1)
            if ($LASTEXITCODE -ne 0) { throw "docker $($list[1..2] -join ' ') failed ($LASTEXITCODE)" }
            foreach ($l in $lines) {
                $n, $label = "$l" -split ' ', 2
                if ($rx -and ($n -match $rx -or $label -in $Names)) { "$($list[0]):$n" }
            }
        }
        $files = foreach ($root in $env:XDG_DATA_HOME, $scratch) {
            Get-ChildItem $root -Recurse -Force -ErrorAction Ignore | Where-Object { $_.Name -ne 'argv.jsonl' } | ForEach-Object {
                if ($_.PSIsContainer) { "dir:$($_.FullName)" } else { "file:$($_.FullName):$((Get-FileHash $_.FullName -Algorithm SHA256).Hash)" }
            }
        }
        (@($docker) + @($files) | Sort-Object) -join "`n"
    }

    Set-Content "$scratch/junk.pem" 'this is not PEM'
    $script:tlsSets = @{
        missingCa = @{ CaFile = "$scratch/no-such-ca.pem" }
        badCa = @{ CaFile = "$scratch/junk.pem" }
        badCert = @{ CertFile = "$scratch/junk.pem"; KeyFile = "$scratch/junk.pem" }
        missingKey = @{ CertFile = "$scratch/junk.pem"; KeyFile = "$scratch/no-such-key.pem" }
    }

    # The first error a call reports (terminating or not) and what it wrote.
    # (Its own variables have odd names: the case's script block sees them through dynamic scoping.)
    function Invoke-Case([scriptblock] $Call, [object[]] $Arguments = @()) {
        $__caseOut = [Collections.Generic.List[object]]::new()
        $__caseErr = $null
        try { & $Call @Arguments 2>&1 | ForEach-Object { if ($_ -is [System.Management.Automation.ErrorRecord]) { if (-not $__caseErr) { $__caseErr = $_ } } else { $__caseOut.Add($_) } } }
        catch { $__caseErr = $_ }
        [pscustomobject]@{ Error = $__caseErr; Output = $__caseOut }
    }
    Get-EtcdCluster | Where-Object Name -EQ $u | Should -BeNullOrEmpty
}

AfterAll {
    $env:XDG_DATA_HOME = $script:savedDataHome
    Exit-FakeK3d
    Remove-Item $scratch -Recurse -Force -ErrorAction Ignore
}

Describe 'An unknown cluster' -Tag Docker, FaultMatrix {
    It '<Cmd>: <Id> (<Cat>), nothing created' -ForEach $unknownCluster {
        $r = Invoke-Case $Call
        $r.Error | Should -Not -BeNullOrEmpty -Because 'the target does not exist'
        $r.Error.FullyQualifiedErrorId | Should -BeLike "$Id,*"
        $r.Error.CategoryInfo.Category | Should -Be $Cat
        $r.Output | Should -BeNullOrEmpty
        Get-LabelledDockerObject $u | Should -BeNullOrEmpty
        # The fake k3d makes no containers: what it was asked to create (its argv log) and what it holds (its state) are the truth.
        @(Get-Content $env:FAKE_K3D_ARGV_LOG -ErrorAction Ignore | Where-Object { $_ -match '"create"' -and $_ -match '"fmk"' }) | Should -BeNullOrEmpty
        Test-Path "$env:FAKE_K3D_STATE_DIR/fmk.json" | Should -BeFalse
        Test-Path (Join-Path $scratch 'cert') | Should -BeFalse
    }
}

Describe 'An unreachable endpoint' -Tag FaultMatrix {
    It '<Cmd>: EtcdUnreachable (ConnectionError) within the timeout' -ForEach $unreachable {
        $sw = [Diagnostics.Stopwatch]::StartNew()
        $r = Invoke-Case $Call
        $sw.Elapsed.TotalSeconds | Should -BeLessThan 30
        $r.Error.FullyQualifiedErrorId | Should -BeLike 'EtcdUnreachable,*'
        $r.Error.CategoryInfo.Category | Should -Be 'ConnectionError'
        $r.Error.Exception.Message | Should -Match '127\.0\.0\.1:9'
    }

    It 'Test-EtcdCluster: the honest result, the endpoint unhealthy with the reason, and -Quiet says $false' {
        $r = Invoke-Case { Test-EtcdCluster -Endpoint $ep -TimeoutSeconds 3 }
        $r.Error | Should -BeNullOrEmpty
        $r.Output | Should -HaveCount 1
        $r.Output[0].Healthy | Should -BeFalse
        "$($r.Output[0].Error)" | Should -Match '127\.0\.0\.1:9.*(answered|refused|accepted)'
        Test-EtcdCluster -Endpoint $ep -TimeoutSeconds 3 -Quiet | Should -BeExactly $false
    }

    It 'New-K3dCluster: the pre-flight probe fails (DatastorePreflightFailed), k3d never runs, nothing created' -Tag Docker {
        # The probe runs this test's own tag of the etcd image, so its containers are told apart from other tests' (shared engine).
        $probeImage = "k3detcd/etcd:fm-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
        docker tag $env:K3DETCD_ETCD_IMAGE $probeImage
        $savedImage = $env:K3DETCD_ETCD_IMAGE
        $env:K3DETCD_ETCD_IMAGE = $probeImage   # the probe's default image for a datastore string
        try { $r = Invoke-Case { New-K3dCluster fmpre -Datastore 'http://fm-no-such-host:2379' -Network bridge -SkipVerify -ProgressAction SilentlyContinue } }
        finally { $env:K3DETCD_ETCD_IMAGE = $savedImage }
        $r.Error.FullyQualifiedErrorId | Should -BeLike 'DatastorePreflightFailed,*'
        $r.Error.CategoryInfo.Category | Should -Be 'ConnectionError'
        @(Get-Content $env:FAKE_K3D_ARGV_LOG -ErrorAction Ignore | Where-Object { $_ -match '"create"' }) | Should -BeNullOrEmpty
        # (not `ancestor=`: that matches by image ID, which every etcd container of the shared engine has.)
        docker ps -a --format '{{.ID}} {{.Image}}' | Where-Object { $_ -like "* $probeImage" } | Should -BeNullOrEmpty
        docker rmi $probeImage | Out-Null
    }

    It 'Test-K3dDatastore: the honest result, Health failed and nothing else tried' -Tag Docker {
        $checks = Test-K3dDatastore 'http://fm-no-such-host:2379' -Network bridge -Image $env:K3DETCD_ETCD_IMAGE -ProgressAction SilentlyContinue
        $checks[0].Name | Should -Be 'Health'
        $checks[0].Passed | Should -BeFalse
        $checks | Where-Object Passed | Should -BeNullOrEmpty
    }
}

Describe 'Missing and malformed TLS files' -Tag FaultMatrix {
    It '<Cmd> with <Case>: <Id> (<Cat>), no file written or changed' -ForEach $tlsFiles {
        $before = Get-FaultSnapshot
        $before | Should -Match 'junk\.pem' -Because 'the listing must see the TLS files the case is given'
        $r = Invoke-Case $Call @($tlsSets[$Files])
        $r.Error.FullyQualifiedErrorId | Should -BeLike "$Id,*"
        $r.Error.CategoryInfo.Category | Should -Be $Cat
        Get-FaultSnapshot | Should -Be $before
    }

    It 'Test-K3dDatastore and New-K3dCluster with a missing -CaFile: DatastoreFileNotFound, nothing run, nothing left' {
        $before = Get-FaultSnapshot 'fmtls'
        foreach ($call in { Test-K3dDatastore 'https://db:2379' -CaFile "$scratch/no-such-ca.pem" }, { New-K3dCluster fmtls -Datastore 'https://db:2379' -CaFile "$scratch/no-such-ca.pem" -SkipVerify }) {
            $r = Invoke-Case $call
            $r.Error.FullyQualifiedErrorId | Should -BeLike 'DatastoreFileNotFound,*'
            $r.Error.CategoryInfo.Category | Should -Be 'ObjectNotFound'
        }
        @(Get-Content $env:FAKE_K3D_ARGV_LOG -ErrorAction Ignore | Where-Object { $_ -match '"create"' }) | Should -BeNullOrEmpty
        Get-FaultSnapshot 'fmtls' | Should -Be $before
    }
}

Describe 'A TLS cluster whose CA files are missing or malformed' -Tag Docker, FaultMatrix {
    BeforeAll { $script:tlsCluster = New-EtcdCluster (New-TestName 'fmtls') -Size 1 -Tls -ProgressAction SilentlyContinue }
    AfterAll { Remove-EtcdCluster $tlsCluster.Name -Force }

    It 'New-EtcdClientCertificate: TlsMaterialMissing, then TlsMaterialInvalid; no file written; the CA restored works' {
        $caKey = Join-Path $tlsCluster.Tls.Directory 'ca-key.pem'
        $out = Join-Path $scratch 'tlscert'
        Move-Item $caKey "$caKey.moved"
        try {
            $r = Invoke-Case { New-EtcdClientCertificate -Cluster $tlsCluster -CommonName fm -OutputDirectory $out }
            $r.Error.FullyQualifiedErrorId | Should -BeLike 'TlsMaterialMissing,*'
            $r.Error.CategoryInfo.Category | Should -Be 'ObjectNotFound'
            Copy-Item "$scratch/junk.pem" $caKey
            $r = Invoke-Case { New-EtcdClientCertificate -Cluster $tlsCluster -CommonName fm -OutputDirectory $out }
            $r.Error.FullyQualifiedErrorId | Should -BeLike 'TlsMaterialInvalid,*'
            $r.Error.CategoryInfo.Category | Should -Be 'InvalidResult'
            @(Get-ChildItem $out -ErrorAction Ignore) | Should -BeNullOrEmpty
        }
        finally { Move-Item "$caKey.moved" $caKey -Force }
        $made = New-EtcdClientCertificate -Cluster $tlsCluster -CommonName fm -OutputDirectory $out
        $made.CommonName | Should -Be 'fm'
        # The restored CA really signed it (openssl), and etcd accepts it (etcdctl with that certificate).
        $verified = openssl verify -CAfile $tlsCluster.Tls.CaFile -purpose sslclient $made.CertFile 2>&1
        $LASTEXITCODE | Should -Be 0 -Because "$verified"
        "$verified" | Should -Match ': OK'
        openssl x509 -in $made.CertFile -noout -subject | Should -Match 'CN\s*=\s*fm'
        etcdctl --endpoints $tlsCluster.Endpoints[0] --cacert $tlsCluster.Tls.CaFile --cert $made.CertFile --key $made.KeyFile endpoint health 2>&1 | Out-Null
        $LASTEXITCODE | Should -Be 0
    }

    It 'Get-EtcdKey without a client certificate: EtcdClientCertificateRequired (SecurityError)' {
        $r = Invoke-Case { Get-EtcdKey -Endpoint $tlsCluster.Endpoints[0] -CaFile $tlsCluster.Tls.CaFile -Key /x }
        $r.Error.FullyQualifiedErrorId | Should -BeLike 'EtcdClientCertificateRequired,*'
        $r.Error.CategoryInfo.Category | Should -Be 'SecurityError'
    }
}

Describe 'One member down, then no quorum' -Tag Docker, FaultMatrix {
    BeforeAll {
        $script:c = New-EtcdCluster (New-TestName 'fmq') -Size 3 -ProgressAction SilentlyContinue
        Set-EtcdKey -Cluster $c -Key /fm/keep -Value kept
        $script:leader = (Get-EtcdMember -Cluster $c | Where-Object IsLeader).Name
        $script:followers = @($c.Members.Name | Where-Object { $_ -ne $leader })
        Stop-EtcdMember -Cluster $c -Name $followers[0] -Force | Out-Null
        $script:down = @($followers[0])
    }
    AfterAll { Remove-EtcdCluster $c.Name -Force }

    It 'one down: reads and writes go on (etcdctl sees the write on a live member)' {
        Set-EtcdKey -Cluster $c -Key /fm/one-down -Value ok
        (Get-EtcdKey -Cluster $c -Key /fm/keep).Value | Should -Be 'kept'
        $live = ($c.Members | Where-Object Name -NotIn $down)[0].ClientUrl
        etcdctl --endpoints $live get /fm/one-down --print-value-only | Should -Be 'ok'
    }

    It 'one down: Get-EtcdMember and Test-EtcdCluster report the stopped member honestly' {
        $m = Get-EtcdMember -Cluster $c -WarningAction SilentlyContinue
        $m | Should -HaveCount 3
        $stopped = @($m | Where-Object Name -EQ $down[0])
        $stopped | Should -HaveCount 1 -Because "the stopped member $($down[0]) is still listed"
        $stopped[0].Healthy | Should -BeFalse
        $stopped[0].Error | Should -Match 'not running|refused'   # ($c is the object from before the stop: its port is asked and refuses)
        @($m | Where-Object Healthy).Name | Sort-Object | Should -Be @($c.Members.Name | Where-Object { $_ -ne $down[0] } | Sort-Object)
        docker inspect -f '{{.State.Running}}' ($c.Members | Where-Object Name -EQ $down[0]).ContainerName | Should -Be 'false'
        $t = Test-EtcdCluster -Cluster $c -WarningAction SilentlyContinue
        @($t | Where-Object { -not $_.Healthy }).Name | Should -Be @($down[0])
        Get-EtcdLeaderStats -Cluster $c | Should -Not -BeNullOrEmpty
    }

    It 'one down: Stop-EtcdMember of another member is refused (QuorumLoss), nothing stopped' {
        $r = Invoke-Case { Stop-EtcdMember -Cluster $c -Name $followers[1] }
        $r.Error.FullyQualifiedErrorId | Should -BeLike 'QuorumLoss,*'
        $r.Error.CategoryInfo.Category | Should -Be 'InvalidOperation'
        docker inspect -f '{{.State.Running}}' ($c.Members | Where-Object Name -EQ $followers[1]).ContainerName | Should -Be 'true'
    }

    It 'one down: Add-EtcdMember (EtcdClusterDegraded) and Remove-EtcdMember (QuorumLoss) are refused, membership unchanged' {
        $before = (etcdctl --endpoints ($c.Members | Where-Object Name -EQ $leader).ClientUrl member list) -join "`n"
        foreach ($case in @{ Call = { Add-EtcdMember -Cluster $c }; Id = 'EtcdClusterDegraded' }, @{ Call = { Remove-EtcdMember -Cluster $c -Name $followers[1] }; Id = 'QuorumLoss' }) {
            $r = Invoke-Case $case.Call
            $r.Error.FullyQualifiedErrorId | Should -BeLike "$($case.Id),*"
            $r.Error.CategoryInfo.Category | Should -Be 'InvalidOperation'
        }
        (etcdctl --endpoints ($c.Members | Where-Object Name -EQ $leader).ClientUrl member list) -join "`n" | Should -Be $before
    }

    It 'one down: Update-EtcdCluster is refused (UpgradeClusterNotReady), no member recreated or changed' {
        $f = "label=io.k3detcd.cluster=$($c.Name)"
        $before = docker ps -a --filter $f --format '{{.ID}} {{.Image}} {{.State}}' | Sort-Object
        $LASTEXITCODE | Should -Be 0
        $before | Should -HaveCount 3
        $r = Invoke-Case { Update-EtcdCluster $c 3.5.16 -Force -ProgressAction SilentlyContinue }
        $r.Error.FullyQualifiedErrorId | Should -BeLike 'UpgradeClusterNotReady,*'
        $r.Error.CategoryInfo.Category | Should -Be 'InvalidOperation'
        $r.Error.Exception.Message | Should -Match ([regex]::Escape($down[0]))
        docker ps -a --filter $f --format '{{.ID}} {{.Image}} {{.State}}' | Sort-Object | Should -Be $before
    }

    It 'no quorum: writes and linearizable reads fail with a timeout or no-leader id, not a hang' {
        Stop-EtcdMember -Cluster $c -Name $followers[1] -Force | Out-Null
        $script:down += $followers[1]
        foreach ($case in @{ Call = { Set-EtcdKey -Cluster $c -Key /fm/noquorum -Value x -TimeoutSeconds 3 }; Write = $true },
            @{ Call = { Get-EtcdKey -Cluster $c -Key /fm/keep -TimeoutSeconds 3 }; Write = $false },
            @{ Call = { Remove-EtcdKey -Cluster $c -Key /fm/noquorum-del -Force -TimeoutSeconds 3 }; Write = $true }) {
            $sw = [Diagnostics.Stopwatch]::StartNew()
            $r = Invoke-Case $case.Call
            $sw.Elapsed.TotalSeconds | Should -BeLessThan 30
            $r.Error.FullyQualifiedErrorId | Should -BeLike 'EtcdTimeout,*'
            $r.Error.CategoryInfo.Category | Should -Be 'OperationTimeout'
            # Honest about a write: not acknowledged, but etcd may still commit it once a quorum is back.
            if ($case.Write) { $r.Error.Exception.Message | Should -Match 'may still be applied' }
        }
    }

    It 'no quorum: Get-EtcdLeaderStats says there is no leader (EtcdNoLeader); Measure-EtcdFailover refuses' {
        $r = Invoke-Case { Get-EtcdLeaderStats -Cluster $c -TimeoutSeconds 3 }
        $r.Error.FullyQualifiedErrorId | Should -BeLike 'EtcdNoLeader,*'
        $r.Error.CategoryInfo.Category | Should -Be 'ResourceUnavailable'
        $leaderContainer = ($c.Members | Where-Object Name -EQ $leader).ContainerName
        $r = Invoke-Case { Measure-EtcdFailover -Cluster $c -TimeoutSeconds 10 }
        $r.Error | Should -Not -BeNullOrEmpty
        $r.Error.FullyQualifiedErrorId | Should -BeLike 'EtcdClusterDegraded,*'
        $r.Error.CategoryInfo.Category | Should -Be 'InvalidOperation'
        $r.Error.Exception.Message | Should -Match ([regex]::Escape($down[0]))
        # Refused before anything was done: the leader was not killed.
        docker inspect -f '{{.State.Running}}' $leaderContainer | Should -Be 'true'
    }

    It 'no quorum: starting the members brings the acknowledged data back unchanged' {
        Start-EtcdMember -Cluster $c -All | Out-Null
        (Get-EtcdKey -Cluster $c -Key /fm/keep).Value | Should -Be 'kept'
        etcdctl --endpoints $c.Endpoints[0] get /fm/one-down --print-value-only | Should -Be 'ok'
        # The unacknowledged put is either absent or exactly what was sent (the error said it might apply).
        $late = @(etcdctl --endpoints $c.Endpoints[0] get /fm/noquorum --print-value-only | Where-Object { $_ })
        if ($late.Count -gt 0) { $late | Should -Be @('x') }
    }
}

Describe 'An unreachable Docker engine' -Tag FaultMatrix {
    BeforeAll {
        # A fresh pwsh whose module resolves Docker from DOCKER_HOST (DockerEndpointResolver): no engine listens there.
        $lines = ($dockerDown | ForEach-Object { $_.Line }) | ForEach-Object {
            "try { `$o = @($_ 2>&1); `$e = `$o | Where-Object { `$_ -is [System.Management.Automation.ErrorRecord] } | Select-Object -First 1; if (`$e) { '$_|' + `$e.FullyQualifiedErrorId + '|' + `$e.CategoryInfo.Category } else { '$_|no error' } } catch { '$_|' + `$_.FullyQualifiedErrorId + '|' + `$_.CategoryInfo.Category }"
        }
        # Before: what the real engine and the file system hold under the names the calls use.
        $script:beforeDown = Get-FaultSnapshot 'fm', 'fmk'
        $saved = $env:DOCKER_HOST
        $env:DOCKER_HOST = 'unix:///nonexistent.sock'
        try { $script:results = Invoke-FreshPwsh ("`$ErrorActionPreference='Continue'; (Get-K3dEtcdOption).DockerEndpoint; " + ($lines -join '; ')) }
        finally { $env:DOCKER_HOST = $saved }
        $script:byLine = @{}
        foreach ($r in $results | Select-Object -Skip 1) { $parts = $r -split '\|'; $byLine[$parts[0]] = $parts }
    }

    It 'Get-K3dEtcdOption shows the endpoint in use' {
        $results[0] | Should -Be 'unix:///nonexistent.sock'
    }

    It '<Line>: DockerUnreachable (ConnectionError)' -ForEach $dockerDown {
        $byLine[$Line] | Should -Not -BeNullOrEmpty
        $byLine[$Line][1] | Should -BeLike 'DockerUnreachable,*'
        $byLine[$Line][2] | Should -Be 'ConnectionError'
    }

    It 'left nothing behind: no fm/fmk container, volume or network in the real engine, no file in the data home or scratch, no k3d create, no certificate directory' -Tag Docker {
        # The same listing as before the calls (docker CLI, file system), and none of it is the cases'.
        Get-FaultSnapshot 'fm', 'fmk' | Should -Be $beforeDown
        $beforeDown | Should -Not -Match '(?m)^(container|volume|network):'
        Get-LabelledDockerObject fm | Should -BeNullOrEmpty
        Get-LabelledDockerObject fmk | Should -BeNullOrEmpty
        @(Get-Content $env:FAKE_K3D_ARGV_LOG -ErrorAction Ignore | Where-Object { $_ -match '"create"' -and $_ -match '"fmk"' }) | Should -BeNullOrEmpty
        Test-Path "$env:FAKE_K3D_STATE_DIR/fmk.json" | Should -BeFalse
        Test-Path /tmp/k3detcd-fm-cert-never | Should -BeFalse
    }
}

Describe 'Ctrl+C in the middle of the operation' -Tag Docker, FaultMatrix {
    BeforeAll {
        # PowerShell.Stop() is what Ctrl+C does: it calls StopProcessing on the running cmdlet.
        # PowerShell.Stop() is what Ctrl+C does: it calls StopProcessing on the running cmdlet.
        # Stops once $When is true (polled), so a slow machine still stops in the middle.
        function Stop-When([string] $Script, [scriptblock] $When, [double] $TimeoutSeconds = 120) {
            $ps = [powershell]::Create()
            $null = $ps.AddScript("Import-Module '$script:ModulePath'; " + $Script)
            $handle = $ps.BeginInvoke()
            $until = (Get-Date).AddSeconds($TimeoutSeconds)
            while (-not (& $When) -and -not $handle.IsCompleted -and (Get-Date) -lt $until) { Start-Sleep -Milliseconds 200 }
            $stoppedMidway = -not $handle.IsCompleted
            $sw = [Diagnostics.Stopwatch]::StartNew()
            $ps.Stop()
            try { $null = $ps.EndInvoke($handle) } catch { }
            [pscustomobject]@{ StoppedMidway = $stoppedMidway; StopSeconds = $sw.Elapsed.TotalSeconds; State = $ps.InvocationStateInfo.State; Errors = @($ps.Streams.Error) }
            $ps.Dispose()
        }
    }

    It 'New-EtcdCluster: stops, and the half-made cluster is rolled back (no container, volume, network, TLS dir)' {
        $name = New-TestName 'fmstop'
        $tlsDir = Join-Path $(if ($env:XDG_DATA_HOME) { $env:XDG_DATA_HOME } else { Join-Path $HOME '.local/share' }) "k3detcd/clusters/$name"
        # Stop once the second member's container exists: network, volumes, TLS directory and containers are half made.
        $r = Stop-When "New-EtcdCluster '$name' -Size 3 -Tls" { docker ps -aq --filter "name=^${name}1$" }
        $r.StoppedMidway | Should -BeTrue
        $r.State | Should -Be 'Stopped'
        $r.StopSeconds | Should -BeLessThan 60
        Get-LabelledDockerObject $name | Should -BeNullOrEmpty
        Get-EtcdCluster | Where-Object Name -EQ $name | Should -BeNullOrEmpty
        Test-Path $tlsDir | Should -BeFalse
    }

    It 'New-K3dCluster: stops while k3d runs; k3d''s half-made cluster, the config file and the k3s certificate are removed' {
        $etcd = New-EtcdCluster (New-TestName 'fmk3d') -Size 1 -Tls -ProgressAction SilentlyContinue
        try {
            $name = New-TestName 'fmk'
            $env:FAKE_K3D_CREATE_DELAY_MS = '20000'
            # Stop while the fake k3d sleeps after making its nodes (its state file exists from then on).
            $r = Stop-When "New-K3dCluster '$name' -Datastore '$($etcd.Name)' -SkipVerify" { Test-Path "$env:FAKE_K3D_STATE_DIR/$name.json" }
            $env:FAKE_K3D_CREATE_DELAY_MS = $null
            $r.StoppedMidway | Should -BeTrue
            $r.State | Should -Be 'Stopped'
            $r.StopSeconds | Should -BeLessThan 60
            Test-Path "$env:FAKE_K3D_STATE_DIR/$name.json" | Should -BeFalse
            Test-Path (Join-Path $etcd.Tls.Directory "k3d/$name") | Should -BeFalse
            $config = Get-Content $env:FAKE_K3D_ARGV_LOG | ConvertFrom-Json | Where-Object { $_.argv[1] -eq 'create' -and $_.argv[2] -eq $name } | Select-Object -First 1
            $config.config.path | Should -Not -BeNullOrEmpty
            Test-Path (Split-Path $config.config.path) | Should -BeFalse
            (Get-EtcdCluster $etcd.Name).State | Should -Be 'Running'
        }
        finally { $env:FAKE_K3D_CREATE_DELAY_MS = $null; Remove-EtcdCluster $etcd.Name -Force }
    }

    It 'Watch-EtcdKey: stops promptly once the watch is open, and leaves the cluster as it was' {
        $etcd = New-EtcdCluster (New-TestName 'fmwatch') -Size 1 -ProgressAction SilentlyContinue
        try {
            # etcd's own gauge of open watchers (curl /metrics): the watch has started only when it counts one.
            $watchers = { [double]((curl -s "$($etcd.Endpoints[0])/metrics") -match '^etcd_debugging_mvcc_watcher_total ' -replace '^\S+ ', '' | Select-Object -First 1) }
            & $watchers | Should -Be 0
            $r = Stop-When "Watch-EtcdKey -Cluster '$($etcd.Name)' -Key /fm -Prefix" { (& $watchers) -gt 0 } -TimeoutSeconds 60
            $r.StoppedMidway | Should -BeTrue -Because 'the watch must be running when Ctrl+C comes'
            $r.State | Should -Be 'Stopped'
            $r.StopSeconds | Should -BeLessThan 10
            $r.Errors | Should -BeNullOrEmpty
            # The stopped watch is gone from etcd, and the cluster still answers etcdctl.
            for ($i = 0; $i -lt 50 -and (& $watchers) -gt 0; $i++) { Start-Sleep -Milliseconds 200 }
            & $watchers | Should -Be 0 -Because 'Ctrl+C closes the watch stream'
            etcdctl --endpoints $etcd.Endpoints[0] endpoint health 2>&1 | Out-Null
            $LASTEXITCODE | Should -Be 0
        }
        finally { Remove-EtcdCluster $etcd.Name -Force }
    }
}
