# CA rotation (issue 27 item 3): Update-EtcdCertificate -Authority on a TLS cluster of 3 with an etcdctl writer
# running throughout, stopped after phase 1 (as Ctrl+C does) and completed by a second run; cross-checked with
# openssl (s_client, verify) and etcdctl, the k3s client files read through single-file mounts on the network.
BeforeAll {
    . "$PSScriptRoot/TestHelpers.ps1"
    Assert-DockerAvailable
    function Start-InRunspace([string] $Script) {
        $ps = [powershell]::Create()
        $null = $ps.AddScript("Import-Module '$script:ModulePath'; $Script")
        [pscustomobject]@{ PowerShell = $ps; Handle = $ps.BeginInvoke() }
    }
    # The certificate a member serves on host:port (PEM), as openssl s_client shows it.
    function Get-ServedPem([string] $HostPort, [string] $Ca, [string] $Cert, [string] $Key) {
        $pem = '' | openssl s_client -connect $HostPort -cert $Cert -key $Key -CAfile $Ca 2>$null | openssl x509 2>$null
        $pem -join "`n"
    }
    # openssl verify of a PEM against a CA file: $true when it verifies.
    function Test-Issued([string] $Pem, [string] $CaFile) {
        $f = New-TemporaryFile
        try {
            Set-Content $f $Pem
            $out = openssl verify -CAfile $CaFile $f.FullName 2>&1
            ($LASTEXITCODE -eq 0) -and (($out -join ' ') -match ': OK')
        } finally { Remove-Item $f -Force }
    }
    function Invoke-Etcdctl([string[]] $Endpoints, [string] $Ca, [string] $Cert, [string] $Key, [string[]] $More) {
        $out = etcdctl --endpoints ($Endpoints -join ',') --dial-timeout 2s --command-timeout 5s --cacert $Ca --cert $Cert --key $Key @More 2>&1
        [pscustomobject]@{ ExitCode = $LASTEXITCODE; Output = ($out -join "`n") }
    }
    function Get-PeerAddress($Member) { "$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' $Member.ContainerName):2380" }
}

Describe 'CA rotation: Update-EtcdCertificate -Authority' -Tag Docker, Tls {
    BeforeAll {
        $script:name = New-TestName 'rot'
        $script:cluster = New-EtcdCluster $name -Tls -ProgressAction SilentlyContinue
        $script:tls = $cluster.Tls
        Enter-FakeK3d; Use-FakeK3d 'v5.8.3'
        $script:k3dName = "k$($name.Substring($name.Length - 7))"
        $cluster | New-K3dCluster $k3dName -Servers 1 -SkipPreflight -SkipVerify -ProgressAction SilentlyContinue | Out-Null
        $script:k3s = @{
            Cert = Join-Path $tls.Directory "k3d/$k3dName/k3s-$k3dName.pem"
            Key  = Join-Path $tls.Directory "k3d/$k3dName/k3s-$k3dName-key.pem"
            Ca   = Join-Path $tls.Directory "k3d/$k3dName/ca.pem"
        }
        $script:work = Join-Path ([IO.Path]::GetTempPath()) "rot-$name"
        New-Item -ItemType Directory "$work/old" | Out-Null
        $script:issued = New-EtcdClientCertificate -Cluster $cluster -CommonName writer -OutputDirectory "$work/issued"
        # The material a client held before the rotation: the old CA and the old client certificate.
        Copy-Item $tls.CaFile "$work/old/ca.pem"; Copy-Item $tls.ClientCertFile "$work/old/client.pem"; Copy-Item $tls.ClientKeyFile "$work/old/client-key.pem"
        $script:old = @{ Ca = "$work/old/ca.pem"; Cert = "$work/old/client.pem"; Key = "$work/old/client-key.pem" }
        $script:clientFiles = @($tls.CaFile, $tls.ClientCertFile, $k3s.Cert, $k3s.Ca, $issued.CertFile, $issued.CaFile)
        $script:inodes = $clientFiles | ForEach-Object { stat -c '%i' $_ }
        $script:keyHashes = (Get-FileHash (Get-ChildItem $tls.Directory -Recurse -Filter *-key.pem).FullName).Hash
        # A k3s server stand-in: the k3s files bind-mounted one by one as k3d does, running across the rotation.
        $script:holder = "$name-k3s"
        docker run -d --name $holder --network $cluster.Network -v "$($k3s.Cert):/etc/k3s/cert.pem:ro" -v "$($k3s.Key):/etc/k3s/key.pem:ro" -v "$($k3s.Ca):/etc/k3s/ca.pem:ro" `
            $cluster.Image /usr/local/bin/etcd --data-dir /tmp/idle --listen-client-urls http://127.0.0.1:12379 --advertise-client-urls http://127.0.0.1:12379 --listen-peer-urls http://127.0.0.1:12380 | Out-Null
        # The writer: one etcdctl per put with the issued client files (rewritten in place), each acknowledged key logged.
        $script:writerLog = "$work/writer.log"
        $script:writer = Start-ThreadJob -ArgumentList $cluster.Endpoints, $issued, $writerLog {
            param($endpoints, $files, $log)
            $i = 0
            while ($true) {
                $i++
                $out = etcdctl --endpoints ($endpoints -join ',') --dial-timeout 2s --command-timeout 5s --cacert $files.CaFile --cert $files.CertFile --key $files.KeyFile put "/writer/$i" "v$i" 2>&1
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
        Get-EtcdCluster "$script:name*" -ErrorAction Ignore | Remove-EtcdCluster -Force -ErrorAction Ignore
        Remove-Item -Recurse -Force $script:work -ErrorAction Ignore
    }

    It '-WhatIf lists the three phases and what phase 2 reissues, and changes nothing' {
        $before = Get-FileHash (Get-ChildItem $tls.Directory -Recurse -File).FullName
        $plan = Update-EtcdCertificate -Cluster $name -Authority -WhatIf
        ($plan | Where-Object Role -EQ CA).How | Should -HaveCount 3
        ($plan | Where-Object Role -EQ CA).How[0] | Should -Match '^phase 1 of 3: a new CA; every trust file holds old \+ new CA'
        ($plan | Where-Object Role -EQ CA).How[2] | Should -Match '^phase 3 of 3: the old CA dropped'
        ($plan | Where-Object Role -NE CA) | Should -HaveCount 9
        $plan | ForEach-Object { $_.WhatIf | Should -BeTrue }
        (Get-FileHash (Get-ChildItem $tls.Directory -Recurse -File).FullName).Hash | Should -Be $before.Hash
    }

    It 'stopped right after phase 1: works with the old and the new CA, warns CertificateRotationIncomplete; a second run completes' {
        $started = $cluster.Members | ForEach-Object { docker inspect -f '{{.Id}}' $_.ContainerName }
        $job = Start-InRunspace "Update-EtcdCertificate -Cluster '$name' -Authority -Force -Verbose"
        try {
            $sw = [Diagnostics.Stopwatch]::StartNew()
            while (-not ($job.PowerShell.Streams.Verbose | Where-Object Message -Like 'Phase 1 of 3 done*') -and $sw.Elapsed.TotalSeconds -lt 120 -and -not $job.Handle.IsCompleted) { Start-Sleep -Milliseconds 20 }
            $job.PowerShell.Stop()
            $script:phase1Seconds = $sw.Elapsed.TotalSeconds
            $job.PowerShell.InvocationStateInfo.State | Should -Be 'Stopped' -Because ($job.PowerShell.Streams.Error | Out-String)
            $progress = @($job.PowerShell.Streams.Progress | Where-Object Activity -Like "Rotating the CA of '$name'*")
            $all = ($job.PowerShell.Streams.Verbose + $job.PowerShell.Streams.Warning + $job.PowerShell.Streams.Information | Out-String)
        } finally { $job.PowerShell.Dispose() }

        $state = Get-Content (Join-Path $tls.Directory rotation.json) | ConvertFrom-Json
        $state.Phase | Should -Be 'Reissue'
        $script:newCa = Join-Path $work 'new-ca.pem'
        Copy-Item (Join-Path $tls.Directory ca-next.pem) $newCa
        (stat -c '%a' (Join-Path $tls.Directory ca-next-key.pem)) | Should -Be '600'
        # Every trust file holds both CAs (openssl sees two certificates), at the same inode.
        foreach ($f in $tls.CaFile, $k3s.Ca, $issued.CaFile, (Join-Path $tls.Directory "members/$($cluster.Members[0].ContainerName)/ca.pem")) {
            (Get-Content $f | Select-String 'BEGIN CERTIFICATE').Count | Should -Be 2 -Because $f
        }

        $certs = Get-EtcdCertificate -Cluster $name -SkipServed -WarningVariable w 3>$null
        ($w -join "`n") | Should -Match 'CertificateRotationIncomplete'
        ($w -join "`n") | Should -Match "Update-EtcdCertificate -Cluster $name -Authority"
        ($certs | Where-Object Role -EQ CA) | Should -HaveCount 2
        $health = Test-EtcdCluster -Cluster $name -WarningVariable w2 3>$null
        ($health | Where-Object Healthy) | Should -HaveCount 3
        ($w2 -join "`n") | Should -Match 'CertificateRotationIncomplete'
        # A leaf renewal would sign with the wrong CA: refused until the rotation is complete.
        $err = $null
        try { Update-EtcdCertificate -Cluster $name -Force -ErrorAction Stop | Out-Null } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'CertificateRotationIncomplete,*'
        $err.CategoryInfo.Category | Should -Be 'InvalidOperation'
        # Nothing is issued from the CA meanwhile (it would be refused once the rotation ends): no client certificate, no member.
        $err = $null
        try { New-EtcdClientCertificate -Cluster $name -CommonName late -OutputDirectory "$work/late" -ErrorAction Stop | Out-Null } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'CertificateRotationIncomplete,*'
        Test-Path "$work/late/late.pem" | Should -BeFalse
        $err = $null
        try { Add-EtcdMember -Cluster $name -ErrorAction Stop -ProgressAction SilentlyContinue | Out-Null } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'CertificateRotationIncomplete,*'
        (Get-EtcdCluster $name).Members | Should -HaveCount 3
        (Invoke-Etcdctl $cluster.Endpoints $tls.CaFile $tls.ClientCertFile $tls.ClientKeyFile @('member', 'list')).Output -split "`n" | Where-Object { $_ } | Should -HaveCount 3

        # Old material (the old CA only, the old client certificate) is served by every member still on an old-CA certificate.
        $oldServed = @($cluster.Members | Where-Object { Test-Issued (Get-ServedPem ([uri]$_.ClientUrl).Authority $old.Ca $old.Cert $old.Key) $old.Ca })
        $oldServed.Count | Should -BeGreaterOrEqual 2
        foreach ($m in $oldServed) {
            $r = Invoke-Etcdctl $m.ClientUrl $old.Ca $old.Cert $old.Key @('put', '/old-material', 'yes')
            $r.ExitCode | Should -Be 0 -Because $r.Output
        }
        # New material: a client certificate from the new CA (signed here by openssl), with the bundle, on every member.
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj '/CN=new-material' -keyout "$work/new-key.pem" -out "$work/new.csr" 2>$null
        Set-Content "$work/ext.cnf" 'extendedKeyUsage=clientAuth'
        openssl x509 -req -in "$work/new.csr" -CA $newCa -CAkey (Join-Path $tls.Directory ca-next-key.pem) -CAcreateserial -days 1 -extfile "$work/ext.cnf" -out "$work/new.pem" 2>$null
        foreach ($m in $cluster.Members) {
            $r = Invoke-Etcdctl $m.ClientUrl $tls.CaFile "$work/new.pem" "$work/new-key.pem" @('put', '/new-material', 'yes')
            $r.ExitCode | Should -Be 0 -Because "$($m.Name): $($r.Output)"
        }

        # Every member was recreated (a new container) so that it reads the bundle.
        $cluster.Members | ForEach-Object { docker inspect -f '{{.Id}}' $_.ContainerName } | ForEach-Object { $_ | Should -Not -BeIn $started }
        # Progress on the waits (phase 1: the bundle, then one per member recreated), and the CA key never on any stream.
        $progress.Count | Should -BeGreaterThan 3
        $all | Should -Not -Match 'PRIVATE KEY'

        $sw = [Diagnostics.Stopwatch]::StartNew()
        $done = Update-EtcdCertificate -Cluster $name -Authority -Force -ProgressAction SilentlyContinue
        $script:secondRunSeconds = $sw.Elapsed.TotalSeconds
        Write-Host "phase 1: $([math]::Round($phase1Seconds, 1)) s; second run (phases 2 and 3): $([math]::Round($secondRunSeconds, 1)) s"
        $done.How | Should -Not -Contain 'phase 1 of 3 done: old + new CA trusted everywhere; members recreated'
        $done.How | Should -Contain 'phase 3 of 3 done: old CA dropped; rotation complete'
        ($done | Where-Object Role -NE CA) | Should -HaveCount 9
    }

    It 'afterwards: every member serves certificates of the new CA only (openssl), the old CA verifies none, the client files work in place' {
        Test-Path (Join-Path $tls.Directory rotation.json) | Should -BeFalse
        Test-Path (Join-Path $tls.Directory ca-next.pem), (Join-Path $tls.Directory ca-next-key.pem) | Should -Be @($false, $false)
        $newFp = openssl x509 -in $newCa -noout -fingerprint -sha1
        foreach ($f in $tls.CaFile, $k3s.Ca, $issued.CaFile) {
            (Get-Content $f | Select-String 'BEGIN CERTIFICATE').Count | Should -Be 1 -Because $f
            openssl x509 -in $f -noout -fingerprint -sha1 | Should -Be $newFp
        }
        foreach ($m in $cluster.Members) {
            foreach ($hp in ([uri]$m.ClientUrl).Authority, (Get-PeerAddress $m)) {
                $pem = Get-ServedPem $hp $tls.CaFile $tls.ClientCertFile $tls.ClientKeyFile
                $pem | Should -Not -BeNullOrEmpty -Because $hp
                Test-Issued $pem $newCa | Should -BeTrue -Because "$($m.Name) $hp"
                Test-Issued $pem $old.Ca | Should -BeFalse -Because "$($m.Name) $hp"
            }
        }
        # The client files rewritten in place (same inodes), keys untouched and owner-only.
        $clientFiles | ForEach-Object { stat -c '%i' $_ } | Should -Be $inodes
        (Get-FileHash (Get-ChildItem $tls.Directory -Recurse -Filter *-key.pem | Where-Object Name -NE 'ca-key.pem').FullName).Hash | ForEach-Object { $_ | Should -BeIn $keyHashes }
        (Get-FileHash (Join-Path $tls.Directory ca-key.pem)).Hash | Should -Not -BeIn $keyHashes
        Get-ChildItem $tls.Directory -Recurse -Filter *-key.pem | ForEach-Object { stat -c '%a' $_.FullName | Should -Be '600' }
        foreach ($files in @(@($tls.CaFile, $tls.ClientCertFile, $tls.ClientKeyFile), @($issued.CaFile, $issued.CertFile, $issued.KeyFile))) {
            $r = Invoke-Etcdctl $cluster.Endpoints @files @('get', '/old-material', '--print-value-only')
            $r.ExitCode | Should -Be 0 -Because $r.Output
            $r.Output | Should -Be 'yes'
        }
        $out = docker exec $holder /usr/local/bin/etcdctl --endpoints ($cluster.NetworkEndpoints -join ',') --cacert /etc/k3s/ca.pem --cert /etc/k3s/cert.pem --key /etc/k3s/key.pem --command-timeout 5s get /new-material --print-value-only 2>&1
        $LASTEXITCODE | Should -Be 0 -Because ($out -join "`n")
        $out | Should -Be 'yes'
        # The old material is refused now: its CA does not verify the members, and the members no longer trust its client certificate.
        (Invoke-Etcdctl $cluster.Endpoints $old.Ca $old.Cert $old.Key @('get', '/x')).ExitCode | Should -Not -Be 0
        (Invoke-Etcdctl $cluster.Endpoints $tls.CaFile $old.Cert $old.Key @('get', '/x')).ExitCode | Should -Not -Be 0

        $certs = Get-EtcdCertificate -Cluster $name -WarningVariable w 3>$null
        $w | Should -BeNullOrEmpty
        $ca = $certs | Where-Object Role -EQ CA
        $ca | Should -HaveCount 1
        $certs | Where-Object Role -NE CA | ForEach-Object { $_.IssuerThumbprint | Should -Be $ca.Thumbprint }
        ($certs | Where-Object Role -In Server, Peer).Served | Should -Not -Contain $false
        Test-EtcdCluster -Cluster $name -Quiet -WarningVariable w3 3>$null | Should -BeTrue
        $w3 | Should -BeNullOrEmpty
    }

    It 'the writer ran through the rotation: every acknowledged write is there, none refused with a TLS error' {
        Stop-Job $writer
        $lines = Get-Content $writerLog
        $ok = @($lines | Where-Object { $_ -like 'ok *' } | ForEach-Object { [int]($_ -split ' ')[1] })
        $failed = @($lines | Where-Object { $_ -like 'fail *' })
        Write-Host "writer: $($ok.Count) acknowledged, $($failed.Count) failed"
        $failed | ForEach-Object { Write-Host "  $_" }
        $ok.Count | Should -BeGreaterThan 50
        $failed | Where-Object { $_ -match 'x509|certificate|tls:|handshake|authority' } | Should -BeNullOrEmpty
        $r = Invoke-Etcdctl $cluster.Endpoints $tls.CaFile $tls.ClientCertFile $tls.ClientKeyFile @('get', '/writer/', '--prefix', '--keys-only')
        $r.ExitCode | Should -Be 0 -Because $r.Output
        $present = $r.Output -split "`n" | Where-Object { $_ } | ForEach-Object { [int]($_ -replace '/writer/', '') }
        $ok | Where-Object { $_ -notin $present } | Should -BeNullOrEmpty
    }
}
