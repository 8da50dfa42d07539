# Extra Docker engines on this machine for the multi-engine tests (DESIGN section 12). Each has its
# own data root, exec root, pid file, socket and bridge interface (never --bridge=none, which would
# delete docker0 under the first engine) and no iptables changes, so the first engine is untouched.
# Started once per test file (BeforeAll) and stopped exactly as started (AfterAll), data removed.

# Makes a CA, a server certificate for $Address and a client certificate, in the docker CLI's layout:
# ca.pem, cert.pem, key.pem in $ClientDir; ca.pem, server.pem, server-key.pem in $ServerDir.
function New-DockerTlsMaterial([string] $ServerDir, [string] $ClientDir, [string] $Address) {
    $crypto = [Security.Cryptography.X509Certificates.CertificateRequest]
    $now = [DateTimeOffset]::UtcNow
    $caKey = [Security.Cryptography.ECDsa]::Create([Security.Cryptography.ECCurve+NamedCurves]::nistP256)
    $caReq = $crypto::new('CN=k3detcd test docker CA', $caKey, 'SHA256')
    $caReq.CertificateExtensions.Add([Security.Cryptography.X509Certificates.X509BasicConstraintsExtension]::new($true, $false, 0, $true))
    $ca = $caReq.CreateSelfSigned($now.AddMinutes(-5), $now.AddDays(1))
    function Issue([string] $cn, [bool] $server) {
        $key = [Security.Cryptography.ECDsa]::Create([Security.Cryptography.ECCurve+NamedCurves]::nistP256)
        $req = $crypto::new("CN=$cn", $key, 'SHA256')
        $usage = [Security.Cryptography.OidCollection]::new()
        $null = $usage.Add([Security.Cryptography.Oid]::new($(if ($server) { '1.3.6.1.5.5.7.3.1' } else { '1.3.6.1.5.5.7.3.2' })))
        $req.CertificateExtensions.Add([Security.Cryptography.X509Certificates.X509EnhancedKeyUsageExtension]::new($usage, $false))
        if ($server) {
            $san = [Security.Cryptography.X509Certificates.SubjectAlternativeNameBuilder]::new()
            $san.AddIpAddress([Net.IPAddress]::Parse($Address))
            $req.CertificateExtensions.Add($san.Build())
        }
        $serial = [byte[]](1..16 | ForEach-Object { Get-Random -Maximum 256 })
        $cert = $req.Create($ca, $now.AddMinutes(-5), $now.AddDays(1), $serial)
        [pscustomobject]@{ Cert = $cert.ExportCertificatePem(); Key = $key.ExportPkcs8PrivateKeyPem() }
    }
    $server = Issue 'k3detcd test engine' $true
    $client = Issue 'k3detcd test client' $false
    New-Item -ItemType Directory $ServerDir, $ClientDir -Force | Out-Null
    foreach ($d in $ServerDir, $ClientDir) { Set-Content "$d/ca.pem" $ca.ExportCertificatePem() }
    Set-Content "$ServerDir/server.pem" $server.Cert; Set-Content "$ServerDir/server-key.pem" $server.Key
    Set-Content "$ClientDir/cert.pem" $client.Cert; Set-Content "$ClientDir/key.pem" $client.Key
}

# Starts $Count engines; engine i (1-based) is meant for members on 127.0.0.<$AddressBase + i>.
# With -TlsEngine the last one also listens on tcp://<its address>:2376 with TLS (client material in .CertPath).
function Start-ExtraDockerEngine([int] $Count, [int] $AddressBase = 20, [switch] $TlsEngine, [string] $Image = $env:K3DETCD_ETCD_IMAGE) {
    $tag = [guid]::NewGuid().ToString('N').Substring(0, 5)
    $root = Join-Path ([IO.Path]::GetTempPath()) "k3detcd-engines-$tag"
    New-Item -ItemType Directory $root | Out-Null
    $imageTar = Join-Path $root 'image.tar'
    docker save -o $imageTar $Image
    if ($LASTEXITCODE -ne 0) { throw "docker save $Image failed" }
    $engines = @()
    try {
        for ($i = 1; $i -le $Count; $i++) {
            $dir = Join-Path $root "e$i"
            New-Item -ItemType Directory $dir | Out-Null
            $bridge = "k3dt$tag$i"
            $address = "127.0.0.$($AddressBase + $i)"
            $subnet = "10.$(200 + $i).$(Get-Random -Minimum 1 -Maximum 250).1/24"
            ip link add $bridge type bridge; if ($LASTEXITCODE -ne 0) { throw "ip link add $bridge failed" }
            $engine = [pscustomobject]@{ Dir = $dir; Bridge = $bridge; Socket = "$dir/docker.sock"; Address = $address; Pid = 0; Url = "unix://$dir/docker.sock"; TcpUrl = $null; CertPath = $null }
            $engines += $engine
            ip addr add $subnet dev $bridge; ip link set $bridge up
            $arguments = @('--data-root', "$dir/data", '--exec-root', "$dir/exec", '--pidfile', "$dir/docker.pid",
                '-H', $engine.Url, '--iptables=false', '--ip-forward=false', '--ip-masq=false', '-b', $bridge)
            if ($TlsEngine -and $i -eq $Count) {
                New-DockerTlsMaterial "$dir/tls" "$dir/client" $address
                $engine.TcpUrl = "tcp://${address}:2376"
                $engine.CertPath = "$dir/client"
                $arguments += @('-H', $engine.TcpUrl, '--tlsverify', '--tlscacert', "$dir/tls/ca.pem", '--tlscert', "$dir/tls/server.pem", '--tlskey', "$dir/tls/server-key.pem")
            }
            $process = Start-Process dockerd -ArgumentList $arguments -RedirectStandardOutput "$dir/out.log" -RedirectStandardError "$dir/dockerd.log" -PassThru
            $engine.Pid = $process.Id
        }
        foreach ($e in $engines) {
            $deadline = [DateTime]::UtcNow.AddSeconds(60)
            do { Start-Sleep -Milliseconds 200; docker -H $e.Url version *> $null } until ($LASTEXITCODE -eq 0 -or [DateTime]::UtcNow -gt $deadline)
            if ($LASTEXITCODE -ne 0) { throw "The extra engine $($e.Url) did not answer: $(Get-Content "$($e.Dir)/dockerd.log" -Tail 20)" }
            docker -H $e.Url load -q -i $imageTar | Out-Null
            if ($LASTEXITCODE -ne 0) { throw "docker load into $($e.Url) failed" }
        }
    }
    catch {
        Stop-ExtraDockerEngine $engines
        throw
    }
    finally { Remove-Item $imageTar -Force -ErrorAction SilentlyContinue }
    $engines
}

# Stops exactly the engines Start-ExtraDockerEngine started (by their pid), then removes their bridges and data.
function Stop-ExtraDockerEngine([object[]] $Engines) {
    foreach ($e in $Engines) {
        if ($e.Pid -gt 0) {
            $p = Get-Process -Id $e.Pid -ErrorAction SilentlyContinue
            if ($p) {
                kill -CONT $e.Pid 2>$null   # a test may have frozen it
                kill -TERM $e.Pid
                if (-not $p.WaitForExit(30000)) { kill -KILL $e.Pid; $null = $p.WaitForExit(5000) }
            }
        }
        ip link del $e.Bridge 2>$null
    }
    foreach ($root in $Engines | ForEach-Object { Split-Path $_.Dir } | Select-Object -Unique) {
        # Mounts left by an engine that had to be killed would keep rm from deleting the data root.
        Get-Content /proc/mounts | ForEach-Object { ($_ -split ' ')[1] } | Where-Object { $_ -like "$root/*" } | Sort-Object -Descending | ForEach-Object { umount -l $_ 2>$null }
        Remove-Item $root -Recurse -Force -ErrorAction SilentlyContinue
    }
}
