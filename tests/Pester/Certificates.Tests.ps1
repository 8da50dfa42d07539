# Certificate expiry and renewal (issue 27): one short-lived TLS cluster (K3DETCD_CERT_VALIDITY_SECONDS, the
# test-only knob) renewed before it lapses, a control cluster that is not, cross-checked with openssl and etcdctl.
BeforeAll {
    . "$PSScriptRoot/TestHelpers.ps1"
    Assert-DockerAvailable
    function Get-ServedCert([string] $HostPort, $Tls) {
        $pem = '' | openssl s_client -connect $HostPort -cert $Tls.ClientCertFile -key $Tls.ClientKeyFile -CAfile $Tls.CaFile 2>$null | openssl x509 2>$null
        if (-not $pem) { return $null }
        $text = $pem | openssl x509 -noout -fingerprint -sha1 -enddate
        [pscustomobject]@{
            Thumbprint = (($text | Select-String 'Fingerprint=') -replace '.*Fingerprint=', '' -replace ':', '')
            NotAfter   = [datetime]::ParseExact((($text | Select-String 'notAfter=') -replace 'notAfter=', '' -replace '\s+', ' ').Trim(), 'MMM d HH:mm:ss yyyy GMT', [cultureinfo]::InvariantCulture, 'AdjustToUniversal,AssumeUniversal')
        }
    }
    function Get-OpensslEnd([string] $File) {
        $end = (openssl x509 -in $File -noout -enddate) -replace 'notAfter=', '' -replace '\s+', ' '
        [datetime]::ParseExact($end.Trim(), 'MMM d HH:mm:ss yyyy GMT', [cultureinfo]::InvariantCulture, 'AdjustToUniversal,AssumeUniversal')
    }
    function Invoke-Etcdctl([string[]] $Endpoints, [string] $Ca, [string] $Cert, [string] $Key, [string[]] $More) {
        $out = etcdctl --endpoints ($Endpoints -join ',') --dial-timeout 2s --command-timeout 5s --cacert $Ca --cert $Cert --key $Key @More 2>&1
        [pscustomobject]@{ ExitCode = $LASTEXITCODE; Output = ($out -join "`n") }
    }
}

Describe 'Certificates: Get-EtcdCertificate, Update-EtcdCertificate, expiry' -Tag Docker, Tls {
    BeforeAll {
        $script:validSeconds = 80
        $env:K3DETCD_CERT_VALIDITY_SECONDS = "$validSeconds"
        try {
            $script:created = (Get-Date).ToUniversalTime()
            $script:name = New-TestName 'crt'
            $script:control = New-TestName 'crtc'
            $script:cluster = New-EtcdCluster $name -Tls -ProgressAction SilentlyContinue
            $script:controlCluster = New-EtcdCluster $control -Size 1 -Tls -ProgressAction SilentlyContinue
            Enter-FakeK3d; Use-FakeK3d 'v5.8.3'
            $script:k3dName = "k$($name.Substring($name.Length - 7))"
            $cluster | New-K3dCluster $k3dName -Servers 1 -SkipPreflight -SkipVerify -ProgressAction SilentlyContinue | Out-Null
            $script:issuedDir = Join-Path ([IO.Path]::GetTempPath()) "issued-$name"
            $script:issued = New-EtcdClientCertificate -Cluster $cluster -CommonName backup -OutputDirectory $issuedDir
        }
        finally { $env:K3DETCD_CERT_VALIDITY_SECONDS = $null }
        $script:originalNotAfter = (Get-EtcdCertificate -Cluster $name -SkipServed | Where-Object Role -ne CA | Measure-Object NotAfter -Maximum).Maximum
        $script:k3s = @{
            Cert = Join-Path $cluster.Tls.Directory "k3d/$k3dName/k3s-$k3dName.pem"
            Key  = Join-Path $cluster.Tls.Directory "k3d/$k3dName/k3s-$k3dName-key.pem"
            Ca   = Join-Path $cluster.Tls.Directory "k3d/$k3dName/ca.pem"
        }
        # A k3s server stand-in on the cluster network, its datastore files bind-mounted one by one as k3d does,
        # running (an idle etcd) across the renewal; etcdctl is run inside it afterwards.
        $script:holder = "$name-k3s"
        docker run -d --name $holder --network $cluster.Network -v "$($k3s.Cert):/etc/k3s/cert.pem:ro" -v "$($k3s.Key):/etc/k3s/key.pem:ro" -v "$($k3s.Ca):/etc/k3s/ca.pem:ro" `
            $cluster.Image /usr/local/bin/etcd --data-dir /tmp/idle --listen-client-urls http://127.0.0.1:12379 --advertise-client-urls http://127.0.0.1:12379 --listen-peer-urls http://127.0.0.1:12380 | Out-Null
        # A writer through the renewal: one etcdctl per put with the cluster's client files (rewritten in place).
        $script:writerLog = Join-Path ([IO.Path]::GetTempPath()) "writer-$name.log"
        $script:writer = Start-ThreadJob -ArgumentList $cluster.Endpoints, $cluster.Tls, $writerLog {
            param($endpoints, $tls, $log)
            $i = 0
            while ($true) {
                $i++
                $out = etcdctl --endpoints ($endpoints -join ',') --dial-timeout 2s --command-timeout 5s --cacert $tls.CaFile --cert $tls.ClientCertFile --key $tls.ClientKeyFile put "/writer/$i" "v$i" 2>&1
                if ($LASTEXITCODE -eq 0) { Add-Content $log "ok $i" } else { Add-Content $log "fail $i $($out -join ' ')" }
                Start-Sleep -Milliseconds 50
            }
        }
    }
    AfterAll {
        if ($script:writer) { Stop-Job $writer -ErrorAction Ignore; Remove-Job $writer -Force -ErrorAction Ignore }
        docker rm -f $script:holder *> $null
        Remove-K3dCluster $script:k3dName -ErrorAction Ignore -Confirm:$false *> $null
        Exit-FakeK3d
        Get-EtcdCluster "$script:name*", "$script:control*" -ErrorAction Ignore | Remove-EtcdCluster -Force -ErrorAction Ignore
        Remove-Item -Recurse -Force $script:issuedDir, $script:writerLog -ErrorAction Ignore
    }

    It 'lists every certificate it issued, with what each member serves (openssl agrees)' {
        $certs = Get-EtcdCertificate -Cluster $name
        ($certs | Group-Object Role | ForEach-Object { "$($_.Name)=$($_.Count)" } | Sort-Object) -join ',' | Should -Be 'CA=1,Client=1,Issued=1,K3s=1,Peer=3,Server=3'
        $ca = $certs | Where-Object Role -eq CA
        $certs | Where-Object Role -ne CA | ForEach-Object { $_.IssuerThumbprint | Should -Be $ca.Thumbprint; $_.DaysLeft | Should -BeLessThan 1 }
        foreach ($c in $certs | Where-Object Role -in Server, Peer) { $c.Served | Should -BeTrue -Because "$($c.Role) $($c.Member): $($c.ServedError)" }
        foreach ($m in $cluster.Members) {
            $served = Get-ServedCert ([uri]$m.ClientUrl).Authority $cluster.Tls
            $served.Thumbprint | Should -Be ($certs | Where-Object { $_.Role -eq 'Server' -and $_.Member -eq $m.ContainerName }).Thumbprint
        }
        (Get-EtcdCertificate -ExpiringWithin ([timespan]::FromDays(1)) -SkipServed | Where-Object Cluster -eq $name) | Should -HaveCount 9
        (Get-EtcdCluster $name | Format-Table | Out-String -Width 80) | Should -Match ([regex]::Escape($originalNotAfter.ToString('yyyy-MM-dd')))
    }

    It 'Test-EtcdCluster warns CertificateExpiresSoon, naming Update-EtcdCertificate' {
        $health = Test-EtcdCluster -Cluster $name -WarningVariable w 3>$null
        $health | Should -HaveCount 3
        ($w -join "`n") | Should -Match 'CertificateExpiresSoon'
        ($w -join "`n") | Should -Match "Update-EtcdCertificate -Cluster $name"
    }

    It '-WhatIf lists what would be renewed and changes nothing' {
        $before = Get-FileHash (Get-ChildItem $cluster.Tls.Directory -Recurse -Filter *.pem).FullName
        $plan = Update-EtcdCertificate -Cluster $name -WhatIf
        $plan | Should -HaveCount 9
        $plan | ForEach-Object { $_.WhatIf | Should -BeTrue }
        (Get-FileHash (Get-ChildItem $cluster.Tls.Directory -Recurse -Filter *.pem).FullName).Hash | Should -Be $before.Hash
    }

    It 'renews every leaf certificate: members serve the new ones (openssl on client and peer ports), client files rewritten in place, keys untouched' {
        $clientFiles = @($cluster.Tls.ClientCertFile, $k3s.Cert, $issued.CertFile)
        $inodes = $clientFiles | ForEach-Object { stat -c '%i' $_ }
        $keys = Get-ChildItem $cluster.Tls.Directory -Recurse -Filter *-key.pem
        $keyHashes = (Get-FileHash $keys.FullName).Hash
        $started = $cluster.Members | ForEach-Object { docker inspect -f '{{.State.StartedAt}}' $_.ContainerName }

        $renewed = Update-EtcdCertificate -Cluster $name -Force -ProgressAction SilentlyContinue
        $renewed | Should -HaveCount 9
        $renewed | ForEach-Object { $_.NewNotAfter | Should -BeGreaterThan (Get-Date).ToUniversalTime().AddDays(364) }
        ($renewed | Where-Object Role -in Server, Peer).How | Sort-Object -Unique | Should -Be 'reloaded without a restart'

        # Reloaded, not restarted: the same containers, started when they were.
        $cluster.Members | ForEach-Object { docker inspect -f '{{.State.StartedAt}}' $_.ContainerName } | Should -Be $started
        $clientFiles | ForEach-Object { stat -c '%i' $_ } | Should -Be $inodes
        (Get-FileHash $keys.FullName).Hash | Should -Be $keyHashes
        foreach ($k in $keys) { stat -c '%a' $k.FullName | Should -Be '600' }

        foreach ($m in $cluster.Members) {
            (Get-ServedCert ([uri]$m.ClientUrl).Authority $cluster.Tls).NotAfter | Should -BeGreaterThan (Get-Date).ToUniversalTime().AddDays(364)
            $ip = docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' $m.ContainerName
            (Get-ServedCert "${ip}:2380" $cluster.Tls).NotAfter | Should -BeGreaterThan (Get-Date).ToUniversalTime().AddDays(364)
        }
        (Get-EtcdCertificate -Cluster $name | Where-Object Role -in Server, Peer).Served | Should -Not -Contain $false
        Test-EtcdCluster -Cluster $name -Quiet | Should -BeTrue
    }

    It 'after the original NotAfter: the renewed cluster serves etcdctl with its renewed client files; the control fails with CertificateExpired' {
        $wait = ($originalNotAfter - (Get-Date).ToUniversalTime()).TotalSeconds + 3
        if ($wait -gt 0) { Start-Sleep -Seconds ([math]::Ceiling($wait)) }
        (Get-Date).ToUniversalTime() | Should -BeGreaterThan $originalNotAfter

        $r = Invoke-Etcdctl $cluster.Endpoints $cluster.Tls.CaFile $cluster.Tls.ClientCertFile $cluster.Tls.ClientKeyFile @('endpoint', 'health')
        $r.ExitCode | Should -Be 0 -Because $r.Output
        $r = Invoke-Etcdctl $cluster.Endpoints $issued.CaFile $issued.CertFile $issued.KeyFile @('get', '/writer/1')
        $r.ExitCode | Should -Be 0 -Because $r.Output
        # The k3s files, through their single-file mounts in a container that ran across the renewal, on the cluster network.
        $out = docker exec $holder /usr/local/bin/etcdctl --endpoints ($cluster.NetworkEndpoints -join ',') --cacert /etc/k3s/ca.pem --cert /etc/k3s/cert.pem --key /etc/k3s/key.pem --command-timeout 5s endpoint health 2>&1
        $LASTEXITCODE | Should -Be 0 -Because ($out -join "`n")

        $r = Invoke-Etcdctl $controlCluster.Endpoints $controlCluster.Tls.CaFile $controlCluster.Tls.ClientCertFile $controlCluster.Tls.ClientKeyFile @('get', '/x')
        $r.ExitCode | Should -Not -Be 0
        $err = $null
        try { Test-EtcdCluster -Cluster $control -ErrorAction Stop | Out-Null } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'CertificateExpired,*'
        $err.CategoryInfo.Category | Should -Be 'SecurityError'
        $err.Exception.Message | Should -Match 'Update-EtcdCertificate'
        Test-EtcdCluster -Cluster $control -Quiet -WarningAction SilentlyContinue | Should -BeFalse

        # Test-K3dDatastore: the control's Certificates check fails (the cluster object, and the same files given as -CaFile/-CertFile).
        $checks = Test-K3dDatastore -Datastore $control -ProgressAction SilentlyContinue -WarningAction SilentlyContinue
        $c = $checks | Where-Object Name -EQ Certificates
        $c.Passed | Should -BeFalse
        $c.Detail | Should -Match 'CertificateExpired'
        $c.Detail | Should -Match ([regex]::Escape("client k3detcd-client ($($controlCluster.Tls.ClientCertFile)) until $((Get-OpensslEnd $controlCluster.Tls.ClientCertFile).ToString('u'))"))
        $c.Detail | Should -Match "Update-EtcdCertificate -Cluster $control'"
        ($checks | Where-Object Name -EQ Health).Passed | Should -BeFalse
        $t = $controlCluster.Tls
        $c = Test-K3dDatastore ($controlCluster.NetworkEndpoints -join ',') -Network $controlCluster.Network -CaFile $t.CaFile -CertFile $t.ClientCertFile -KeyFile $t.ClientKeyFile -Image $controlCluster.Image -ProgressAction SilentlyContinue -WarningAction SilentlyContinue |
            Where-Object Name -EQ Certificates
        $c.Passed | Should -BeFalse
        $c.Detail | Should -Match "CertificateExpired.*Update-EtcdCertificate -Cluster $control'"
        # The renewed cluster: a year left, no warning.
        $c = Test-K3dDatastore -Datastore $name -WarningVariable w2 -ProgressAction SilentlyContinue 3>$null | Where-Object Name -EQ Certificates
        $c.Passed | Should -BeTrue
        $c.Detail | Should -Not -Match 'Certificate(Expired|ExpiresSoon)'
        $w2 | Should -BeNullOrEmpty
    }

    It 'the writer ran through the renewal: every acknowledged write is there, none refused' {
        Stop-Job $writer
        $lines = Get-Content $writerLog
        $ok = @($lines | Where-Object { $_ -like 'ok *' } | ForEach-Object { [int]($_ -split ' ')[1] })
        $failed = @($lines | Where-Object { $_ -like 'fail *' })
        $ok.Count | Should -BeGreaterThan 20
        $failed | Should -BeNullOrEmpty
        $r = Invoke-Etcdctl $cluster.Endpoints $cluster.Tls.CaFile $cluster.Tls.ClientCertFile $cluster.Tls.ClientKeyFile @('get', '/writer/', '--prefix', '--keys-only')
        $present = $r.Output -split "`n" | Where-Object { $_ } | ForEach-Object { [int]($_ -replace '/writer/', '') }
        $ok | Where-Object { $_ -notin $present } | Should -BeNullOrEmpty
    }

    It 'Test-K3dDatastore reports the CA and k3s client expiry (openssl -enddate agrees) and warns CertificateExpiresSoon, naming Update-EtcdCertificate' {
        # A second k3d cluster whose k3s certificate is valid an hour (the knob): under 30 days, whatever the machine's pace.
        $k3dSoon = "s$($name.Substring($name.Length - 7))"
        $env:K3DETCD_CERT_VALIDITY_SECONDS = '3600'
        try { $cluster | New-K3dCluster $k3dSoon -Servers 1 -SkipPreflight -SkipVerify -ProgressAction SilentlyContinue | Out-Null }
        finally { $env:K3DETCD_CERT_VALIDITY_SECONDS = $null }
        try {
            $soonCert = Join-Path $cluster.Tls.Directory "k3d/$k3dSoon/k3s-$k3dSoon.pem"
            $checks = Test-K3dDatastore -Datastore $name -WarningVariable w -ProgressAction SilentlyContinue 3>$null
            $checks.Name | Should -Be @('Health', 'Write', 'ReadBack', 'Bootstrap', 'Certificates')
            $cert = $checks | Where-Object Name -EQ Certificates
            $cert.Passed | Should -BeTrue -Because $cert.Detail
            $cert.Detail | Should -Match 'CertificateExpiresSoon'
            $cert.Detail | Should -Match "Update-EtcdCertificate -Cluster $name'"
            ($w -join "`n") | Should -Match 'CertificateExpiresSoon'
            ($w -join "`n") | Should -Match "Update-EtcdCertificate -Cluster $name'"
            # The hour-long k3s client certificate is in the warning with openssl's date; the renewed one (a year) and the CA are not.
            ($w -join "`n") | Should -Match ([regex]::Escape("k3s client of k3d cluster '$k3dSoon' k3s-$k3dSoon ($soonCert) until $((Get-OpensslEnd $soonCert).ToString('u'))"))
            ($w -join "`n") | Should -Not -Match "k3d cluster '$k3dName'"
            $cert.Detail | Should -Match ([regex]::Escape("until $((Get-OpensslEnd $k3s.Cert).ToString('u'))"))
            (Get-OpensslEnd $cluster.Tls.CaFile) | Should -BeGreaterThan (Get-Date).ToUniversalTime().AddDays(300)
            $cert.Detail | Should -Match ([regex]::Escape("until $((Get-OpensslEnd $cluster.Tls.CaFile).ToString('u'))"))
            ($w -join "`n") | Should -Not -Match 'CA K3dEtcd'
        }
        finally { Remove-K3dCluster $k3dSoon -Confirm:$false -ErrorAction Ignore *> $null }
    }
}
