BeforeDiscovery {
    $script:badBrowserInput = @(
        @{ Case = 'an unknown cluster'; Call = { Start-EtcdBrowser -Cluster 'no-such-cluster-k3detcd' -NoBrowser }; ErrorId = 'EtcdClusterNotFound,K3dEtcd.Commands.Etcd.StartEtcdBrowserCommand'; Category = 'ObjectNotFound' }
        @{ Case = 'port 0'; Call = { Start-EtcdBrowser -Endpoint http://127.0.0.1:1 -Port 0 -NoBrowser }; ErrorId = 'ParameterArgumentValidationError,K3dEtcd.Commands.Etcd.StartEtcdBrowserCommand'; Category = 'InvalidData' }
        @{ Case = 'an etcd that does not answer'; Call = { Start-EtcdBrowser -Endpoint http://127.0.0.1:1 -TimeoutSeconds 2 -NoBrowser }; ErrorId = 'EtcdUnreachable,K3dEtcd.Commands.Etcd.StartEtcdBrowserCommand', 'EtcdTimeout,K3dEtcd.Commands.Etcd.StartEtcdBrowserCommand'; Category = 'ConnectionError', 'OperationTimeout' }
        @{ Case = 'stopping an unknown id'; Call = { Stop-EtcdBrowser -Id 99999 -ErrorAction Stop }; ErrorId = 'EtcdBrowserNotFound,K3dEtcd.Commands.Etcd.StopEtcdBrowserCommand'; Category = 'ObjectNotFound' }
        @{ Case = 'getting an unknown id'; Call = { Get-EtcdBrowser -Id 99999 -ErrorAction Stop }; ErrorId = 'EtcdBrowserNotFound,K3dEtcd.Commands.Etcd.GetEtcdBrowserCommand'; Category = 'ObjectNotFound' }
    )
}

BeforeAll {
    . "$PSScriptRoot/TestHelpers.ps1"
    Assert-DockerAvailable

    # curl as an independent client: status code, headers and body of one request.
    function Invoke-Curl([string] $Url, [string[]] $More = @()) {
        $headers = New-TemporaryFile
        try {
            $body = curl -sS --max-time 10 -D $headers.FullName @More $Url 2>&1
            $exit = $LASTEXITCODE
            $head = Get-Content $headers.FullName -Raw
            $status = if ($head -match '^HTTP/\S+ (\d{3})') { [int]$Matches[1] } else { 0 }
            [pscustomobject]@{ ExitCode = $exit; Status = $status; Headers = "$head"; Body = ($body -join "`n") }
        } finally { Remove-Item $headers.FullName -ErrorAction Ignore }
    }

    # Logs in with the token (as the page does) and returns a curl cookie jar.
    function New-BrowserSession($Browser) {
        $jar = (New-TemporaryFile).FullName
        $r = Invoke-Curl $Browser.Url @('-c', $jar)
        $r.Status | Should -Be 303
        $jar
    }

    function Test-PortFree([int] $Port) {
        $probe = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, $Port)
        try { $probe.Start(); $true } catch { $false } finally { $probe.Stop() }
    }

    function Find-Error([scriptblock] $Call) {
        try { & $Call; $null } catch { $_ }
    }
}

Describe 'Start-EtcdBrowser, Get-EtcdBrowser, Stop-EtcdBrowser' -Tag Docker, Browser {
    BeforeAll {
        $script:name = New-TestName 'brw'
        $script:cluster = New-EtcdCluster $script:name -Size 1 -ProgressAction SilentlyContinue
        Set-EtcdKey -Cluster $cluster -Key /app/config -Value '{"replicas":3}' | Out-Null
        Set-EtcdKey -Cluster $cluster -Key /app/name -Value 'web' | Out-Null
        $env:DISPLAY = $null; $env:WAYLAND_DISPLAY = $null
        $script:output = Start-EtcdBrowser -Cluster $script:name -NoBrowser -Verbose 4>&1
        $script:browser = $script:output | Where-Object { $_ -is [K3dEtcd.Model.EtcdBrowser] }
        $script:verbose = ($script:output | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message) -join "`n"
        $script:token = ([uri]$browser.Url).Query -replace '^\?token=', ''
        $script:base = "http://127.0.0.1:$($browser.Port)"
    }
    AfterAll {
        Get-EtcdBrowser | Stop-EtcdBrowser -Confirm:$false -ErrorAction Ignore
        Get-EtcdCluster "$script:name*" -ErrorAction Ignore | Remove-EtcdCluster -Force -ErrorAction Ignore
    }

    It 'returns the browser with its loopback Url, port and cluster' {
        $browser | Should -HaveCount 1
        $browser.Cluster | Should -Be $name
        $browser.Url | Should -Match '^http://127\.0\.0\.1:\d+/\?token=[A-Za-z0-9_-]{40,}$'
        $browser.Port | Should -BeGreaterThan 0
        $browser.IsRunning | Should -BeTrue
        $browser.AllowWrite | Should -BeFalse
        $browser.Endpoints | Should -Be $cluster.Endpoints
        (Get-EtcdBrowser).Id | Should -Contain $browser.Id
    }

    It 'never puts the token in the verbose stream' {
        $verbose | Should -Match 'Serving the etcd browser'
        $verbose | Should -Not -Match ([regex]::Escape($token))
    }

    It 'listens on loopback only (ss)' {
        $listening = ss -Hltn "sport = :$($browser.Port)"
        $listening | Should -Not -BeNullOrEmpty
        ($listening -join "`n") | Should -Match "127\.0\.0\.1:$($browser.Port)\b"
        ($listening -join "`n") | Should -Not -Match "(0\.0\.0\.0|\*|\[::\]):$($browser.Port)\b"
    }

    It 'refuses a request without the token' {
        $r = Invoke-Curl "$base/"
        $r.Status | Should -Be 401
        $r.Body | Should -Not -Match '<script'
        (Invoke-Curl "$base/api/children?prefix=").Status | Should -Be 401
    }

    It 'refuses a wrong token and sets no cookie' {
        $r = Invoke-Curl "$base/?token=$('A' * 43)"
        $r.Status | Should -Be 401
        $r.Headers | Should -Not -Match 'Set-Cookie'
        (Invoke-Curl "$base/api/info" @('-H', "Cookie: k3detcd-browser-$($browser.Port)=wrong")).Status | Should -Be 401
    }

    It 'refuses a foreign Host header even with the right token (DNS rebinding)' {
        $r = Invoke-Curl $browser.Url @('-H', "Host: rebind.example.test:$($browser.Port)")
        $r.Status | Should -BeIn @(400, 403, 404, 421)
        $r.Headers | Should -Not -Match 'Set-Cookie'
        $jar = New-BrowserSession $browser
        (Invoke-Curl "$base/api/info" @('-b', $jar, '-H', "Host: rebind.example.test:$($browser.Port)")).Status | Should -BeIn @(400, 403, 404, 421)
    }

    It 'trades the token for an HttpOnly SameSite=Strict cookie and redirects it out of the address bar' {
        $r = Invoke-Curl $browser.Url
        $r.Status | Should -Be 303
        $r.Headers | Should -Match "(?m)^Location: /\r?$"
        $r.Headers | Should -Match "Set-Cookie: k3detcd-browser-$($browser.Port)=$([regex]::Escape($token)); Path=/; HttpOnly; SameSite=Strict"
        $r.Headers | Should -Match "Content-Security-Policy: default-src 'self'; script-src 'self'"
        $r.Headers | Should -Match 'Referrer-Policy: no-referrer'
    }

    It 'serves the page with a CSP that allows no inline script, and the page has none' {
        $jar = New-BrowserSession $browser
        $page = Invoke-Curl "$base/" @('-b', $jar)
        $page.Status | Should -Be 200
        $page.Headers | Should -Match "Content-Security-Policy: default-src 'self'"
        $page.Headers | Should -Not -Match 'unsafe-inline'
        $page.Body | Should -Match '<script src="/app.js" defer></script>'
        ([regex]::Matches($page.Body, '<script[^>]*>[^<]+</script>')).Count | Should -Be 0
        $page.Body | Should -Not -Match ' on\w+='
        $js = Invoke-Curl "$base/app.js" @('-b', $jar)
        $js.Status | Should -Be 200
        $js.Body | Should -Not -Match 'innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\('
    }

    It 'lists the keys written by Set-EtcdKey, with counts from etcd' {
        $jar = New-BrowserSession $browser
        $root = (Invoke-Curl "$base/api/children?prefix=" @('-b', $jar)).Body | ConvertFrom-Json
        $root.children[0].key | Should -Be '/'
        $root.children[0].count | Should -Be 2
        $app = (Invoke-Curl "$base/api/children?prefix=%2Fapp%2F" @('-b', $jar)).Body | ConvertFrom-Json
        $app.children.key | Should -Be @('/app/config', '/app/name')
        $detail = (Invoke-Curl "$base/api/key?key=%2Fapp%2Fconfig" @('-b', $jar)).Body | ConvertFrom-Json
        $detail.text | Should -Be '{"replicas":3}'
        $detail.json | Should -Match '"replicas": 3'
        # Cross-check with etcdctl: the revisions are etcd's.
        $kv = etcdctl --endpoints $cluster.Endpoints[0] get /app/config -w json | ConvertFrom-Json
        $detail.modRevision | Should -Be $kv.kvs[0].mod_revision
        $detail.createRevision | Should -Be $kv.kvs[0].create_revision
    }

    It 'is read-only without -AllowWrite' {
        $jar = New-BrowserSession $browser
        $r = Invoke-Curl "$base/api/put" @('-b', $jar, '-X', 'POST', '-H', 'Content-Type: application/json', '-H', 'X-K3dEtcd-Browser: 1', '--data', '{"key":"/app/name","value":"hacked"}')
        $r.Status | Should -Be 403
        (etcdctl --endpoints $cluster.Endpoints[0] get /app/name --print-value-only) | Should -Be 'web'
    }

    It 'refuses a second browser on a port in use' {
        $err = Find-Error { Start-EtcdBrowser -Cluster $cluster -Port $browser.Port -NoBrowser -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -Be 'EtcdBrowserPortUnavailable,K3dEtcd.Commands.Etcd.StartEtcdBrowserCommand'
        $err.CategoryInfo.Category | Should -Be 'ResourceUnavailable'
        (Get-EtcdBrowser).Count | Should -Be 1
    }

    It 'writes with -AllowWrite only from its own page (JSON and its header), cross-checked with etcdctl' {
        $rw = Start-EtcdBrowser -Cluster $cluster -AllowWrite -NoBrowser
        try {
            $jar = New-BrowserSession $rw
            $rwBase = "http://127.0.0.1:$($rw.Port)"
            # A form post (what another site could make a browser send) is refused.
            (Invoke-Curl "$rwBase/api/put" @('-b', $jar, '-X', 'POST', '--data', 'key=/app/name&value=form')).Status | Should -Be 403
            $ok = Invoke-Curl "$rwBase/api/put" @('-b', $jar, '-X', 'POST', '-H', 'Content-Type: application/json', '-H', 'X-K3dEtcd-Browser: 1', '--data', '{"key":"/app/new","value":"from page"}')
            $ok.Status | Should -Be 200
            (etcdctl --endpoints $cluster.Endpoints[0] get /app/new --print-value-only) | Should -Be 'from page'
            $del = Invoke-Curl "$rwBase/api/delete" @('-b', $jar, '-X', 'POST', '-H', 'Content-Type: application/json', '-H', 'X-K3dEtcd-Browser: 1', '--data', '{"key":"/app/new"}')
            $del.Status | Should -Be 200
            (etcdctl --endpoints $cluster.Endpoints[0] get /app/new) | Should -BeNullOrEmpty
        } finally { Stop-EtcdBrowser $rw -Confirm:$false }
    }

    It 'starts without -NoBrowser where no browser can be opened: a warning, no failure' {
        $out = Start-EtcdBrowser -Cluster $cluster 3>&1
        $b = $out | Where-Object { $_ -is [K3dEtcd.Model.EtcdBrowser] }
        $warning = $out | Where-Object { $_ -is [System.Management.Automation.WarningRecord] }
        $b.IsRunning | Should -BeTrue
        "$warning" | Should -Match 'open the Url'
        "$warning" | Should -Not -Match 'token='
        Stop-EtcdBrowser $b -Confirm:$false
    }

    It 'Stop-EtcdBrowser -WhatIf stops nothing' {
        Stop-EtcdBrowser $browser -WhatIf
        (Get-EtcdBrowser).Id | Should -Contain $browser.Id
        (Invoke-Curl "$base/").Status | Should -Be 401
    }

    It 'Stop-EtcdBrowser stops serving and frees the port' {
        $browser | Stop-EtcdBrowser -Confirm:$false
        Get-EtcdBrowser | Where-Object Id -eq $browser.Id | Should -BeNullOrEmpty
        (Invoke-Curl "$base/").ExitCode | Should -Not -Be 0   # connection refused
        Test-PortFree $browser.Port | Should -BeTrue
    }
}

Describe 'Start-EtcdBrowser on a TLS cluster' -Tag Docker, Browser, Tls {
    BeforeAll {
        $script:name = New-TestName 'brtls'
        $script:cluster = New-EtcdCluster $script:name -Size 1 -Tls -ProgressAction SilentlyContinue
        Set-EtcdKey -Cluster $cluster -Key /secure/a -Value 'tls value' | Out-Null
        $script:browser = Start-EtcdBrowser -Cluster $cluster -NoBrowser
    }
    AfterAll {
        Get-EtcdBrowser | Stop-EtcdBrowser -Confirm:$false -ErrorAction Ignore
        Get-EtcdCluster "$script:name*" -ErrorAction Ignore | Remove-EtcdCluster -Force -ErrorAction Ignore
    }

    It 'reads the cluster over TLS with its client certificate and shows no TLS material' {
        $browser.Tls | Should -BeTrue
        $jar = New-BrowserSession $browser
        $base = "http://127.0.0.1:$($browser.Port)"
        $info = (Invoke-Curl "$base/api/info" @('-b', $jar)).Body
        ($info | ConvertFrom-Json).tls | Should -BeTrue
        $key = (Invoke-Curl "$base/api/key?key=%2Fsecure%2Fa" @('-b', $jar)).Body | ConvertFrom-Json
        $key.text | Should -Be 'tls value'
        $clusterInfo = (Invoke-Curl "$base/api/cluster" @('-b', $jar)).Body
        ($clusterInfo | ConvertFrom-Json).members[0].isLeader | Should -BeTrue
        foreach ($body in @($info, $clusterInfo)) {
            $body | Should -Not -Match 'PRIVATE KEY|BEGIN |\.pem'
        }
    }
}

Describe 'Remove-Module stops the browsers' -Tag Docker, Browser {
    BeforeAll {
        $script:name = New-TestName 'brrm'
        $script:cluster = New-EtcdCluster $script:name -Size 1 -ProgressAction SilentlyContinue
    }
    AfterAll {
        Get-EtcdCluster "$script:name*" -ErrorAction Ignore | Remove-EtcdCluster -Force -ErrorAction Ignore
    }

    It 'frees the port when the module is removed (a fresh pwsh)' {
        $out = Invoke-FreshPwsh @"
`$b = Start-EtcdBrowser -Endpoint '$($cluster.Endpoints[0])' -NoBrowser
`$before = (curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:`$(`$b.Port)/")
Remove-Module K3dEtcd
`$probe = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, `$b.Port)
`$free = try { `$probe.Start(); 'free' } catch { 'busy' } finally { `$probe.Stop() }
"`$before `$free"
"@
        ($out | Select-Object -Last 1) | Should -Be '401 free'
    }
}

Describe 'Etcd browser bad input' -Tag Browser {
    It 'fails with <ErrorId> for <Case>' -ForEach $badBrowserInput {
        $err = Find-Error $Call
        $err | Should -Not -BeNullOrEmpty
        # An etcd that does not answer is refused or timed out, depending on the moment (as for Get-EtcdKey).
        $err.FullyQualifiedErrorId | Should -BeIn $ErrorId
        "$($err.CategoryInfo.Category)" | Should -BeIn $Category
        (Get-EtcdBrowser) | Should -BeNullOrEmpty
    }
}
