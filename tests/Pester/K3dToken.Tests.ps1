# The k3s token New-K3dCluster keeps (issue 29, item 4), as a user meets it: the file and its mode
# (stat), Get-K3dCluster -IncludeToken, Test-K3dDatastore opening bootstrap data that is sealed the
# way k3s seals it and put into etcd with the host's etcdctl, Save-EtcdSnapshot naming whose
# bootstrap data it holds, and where the token goes with Remove-K3dCluster / Remove-EtcdCluster.
# k3d is the fake (tests/FakeK3d); etcd, TLS files and probes are real.
BeforeAll {
    . "$PSScriptRoot/TestHelpers.ps1"
    Assert-DockerAvailable
    Enter-FakeK3d

    function Get-FakeK3dCall {
        if (-not (Test-Path $env:FAKE_K3D_ARGV_LOG)) { return @() }
        foreach ($line in Get-Content $env:FAKE_K3D_ARGV_LOG) { , @(($line | ConvertFrom-Json).argv) }
    }
    function Get-FakeK3dConfig {
        if (-not (Test-Path $env:FAKE_K3D_ARGV_LOG)) { return @() }
        foreach ($line in Get-Content $env:FAKE_K3D_ARGV_LOG) {
            $r = $line | ConvertFrom-Json
            if ($r.argv[0] -eq 'cluster' -and $r.argv[1] -eq 'create' -and $r.config) { $r.config.content | ConvertFrom-Json }
        }
    }
    function ConvertTo-Plain([securestring] $Secure) { $Secure | ConvertFrom-SecureString -AsPlainText }
    # k3s's storageKey for a bare token: /bootstrap/ + 12 hex of sha256(token).
    function Get-BootstrapKey([string] $Token) {
        '/bootstrap/' + [Convert]::ToHexString([Security.Cryptography.SHA256]::HashData([Text.Encoding]::UTF8.GetBytes($Token))).Substring(0, 12).ToLowerInvariant()
    }
    # Where a plain cluster's private files go (ClusterTlsStore.DefaultRoot()).
    function Get-DataRoot {
        $xdg = $env:XDG_DATA_HOME
        $base = if ($xdg -and [IO.Path]::IsPathRooted($xdg)) { $xdg } else { Join-Path $HOME '.local/share' }
        Join-Path $base 'k3detcd/clusters'
    }
}

AfterAll {
    Exit-FakeK3d
}

Describe 'The k3s token on a TLS etcd cluster' -Tag Docker, K3d {
    BeforeAll {
        Use-FakeK3d
        $script:etcd = New-EtcdCluster (New-TestName 'tok') -Size 1 -Tls -ProgressAction SilentlyContinue
        $script:name = New-TestName 'tk'
        $out = $etcd | New-K3dCluster $name -SkipPreflight -SkipVerify -Verbose -ProgressAction SilentlyContinue 4>&1
        $script:verbose = @($out | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }) -join "`n"
        $script:k = $out | Where-Object { $_ -is [K3dEtcd.Model.K3dCluster] }
        $script:token = ConvertTo-Plain $k.Token
        $script:file = Join-Path $etcd.Tls.Directory "k3d/$name/token"
        $script:ctl = @('--endpoints', $etcd.Endpoints[0], '--cacert', $etcd.Tls.CaFile, '--cert', $etcd.Tls.ClientCertFile, '--key', $etcd.Tls.ClientKeyFile)
    }
    AfterAll {
        Remove-K3dCluster $name -Force -ErrorAction Ignore
        Remove-EtcdCluster $etcd.Name -Force -ErrorAction Ignore
    }

    It 'keeps the generated token in the TLS directory as k3d/NAME/token (0600, folder 0700) next to the k3s certificate, never shown' {
        $token | Should -Match '^[0-9a-f]{48}$'
        (Get-Content $file -Raw).TrimEnd("`n") | Should -Be $token
        @(Get-FakeK3dConfig)[0].token | Should -Be $token
        stat -c %a $file | Should -Be '600'
        stat -c %a (Split-Path $file) | Should -Be '700'
        Test-Path (Join-Path (Split-Path $file) "k3s-$name.pem") | Should -BeTrue
        Get-ChildItem (Split-Path $file) -Force | Where-Object Name -Like '.token*' | Should -BeNullOrEmpty
        $verbose | Should -Match ([regex]::Escape("k3s token kept in $file"))
        $verbose | Should -Not -Match $token
        foreach ($argv in Get-FakeK3dCall) { ($argv -join ' ') | Should -Not -Match $token }
        ($k | Format-List * | Out-String) | Should -Not -Match $token
    }

    It 'Get-K3dCluster -IncludeToken returns that token as a SecureString; without the switch there is none' {
        (Get-K3dCluster $name).Token | Should -BeNullOrEmpty
        $g = Get-K3dCluster $name -IncludeToken -WarningVariable w
        $g.Token | Should -BeOfType ([securestring])
        ConvertTo-Plain $g.Token | Should -Be $token
        $w | Should -BeNullOrEmpty
    }

    It 'Test-K3dDatastore: the kept token opens bootstrap data sealed as k3s seals it, a wrong one does not match, and without -Token the kept one is used' {
        etcdctl @ctl put (Get-BootstrapKey $token) (New-K3sBootstrapValue $token '{"ServerCA":{"Content":"x"}}') | Out-Null
        $LASTEXITCODE | Should -Be 0
        $right = Test-K3dDatastore $etcd -Token $k.Token -ProgressAction SilentlyContinue | Where-Object Name -EQ Bootstrap
        $right.Passed | Should -BeTrue -Because $right.Detail
        $right.Detail | Should -Match 'this token opens it'
        $wrong = Test-K3dDatastore $etcd -Token 'not-the-token' -ProgressAction SilentlyContinue | Where-Object Name -EQ Bootstrap
        $wrong.Passed | Should -BeFalse
        $wrong.Detail | Should -Match 'does not match'
        $out = Test-K3dDatastore $etcd -Verbose -ProgressAction SilentlyContinue 4>&1
        $v = @($out | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }) -join "`n"
        $auto = $out | Where-Object { $_ -is [K3dEtcd.Model.K3dDatastoreCheck] -and $_.Name -eq 'Bootstrap' }
        $auto.Passed | Should -BeTrue -Because $auto.Detail
        $auto.Detail | Should -Match "the token kept for k3d cluster '$name' opens it"
        $v | Should -Match "tokens kept for k3d cluster '$name'"
        ($v + ($out | Out-String)) | Should -Not -Match $token
    }

    # (This token's key holding data sealed with another passphrase is "does not match" too: xunit K3sTokenTests.)
    It 'New-K3dCluster with a wrong -Token on that data is refused (DatastoreTokenMismatch), keeping no token and changing the kept one not' {
        $other = New-TestName 'tk2'
        $err = $null
        try { $etcd | New-K3dCluster $other -Token 'wrong-token' -SkipVerify -ProgressAction SilentlyContinue -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -Be 'DatastoreTokenMismatch,K3dEtcd.Commands.K3d.NewK3dClusterCommand'
        Test-Path (Join-Path $etcd.Tls.Directory "k3d/$other") | Should -BeFalse
        (Get-Content $file -Raw).TrimEnd("`n") | Should -Be $token
    }

    It 'Save-EtcdSnapshot records the /bootstrap/ keys (as etcdctl lists them) and the k3d cluster whose token opens them' {
        etcdctl @ctl put '/bootstrap/0123456789ab' (New-K3sBootstrapValue 'unknown-cluster' '{}') | Out-Null
        $path = Join-Path ([IO.Path]::GetTempPath()) "$(New-TestName 'snap').db"
        try {
            $snap = Save-EtcdSnapshot -Cluster $etcd -Path $path -ProgressAction SilentlyContinue
            $keys = @(etcdctl @ctl get /bootstrap/ --prefix --keys-only | Where-Object { $_ })
            $keys | Should -HaveCount 2
            $snap.BootstrapKeys | Should -Be $keys
            $snap.K3dClusters | Should -Be @($name)
        }
        finally {
            Remove-Item $path -ErrorAction Ignore
            etcdctl @ctl del '/bootstrap/0123456789ab' | Out-Null
        }
    }

    It 'Remove-K3dCluster keeps the token (the data needs it); New-K3dCluster of that name uses it again' {
        Remove-K3dCluster $name -Force
        Test-Path $file | Should -BeTrue
        Test-Path (Join-Path (Split-Path $file) "k3s-$name.pem") | Should -BeFalse
        # (-SkipPreflight: the probe with this token was shown above; here what counts is the token k3d gets.)
        $again = $etcd | New-K3dCluster $name -SkipPreflight -SkipVerify -ProgressAction SilentlyContinue
        ConvertTo-Plain $again.Token | Should -Be $token
        @(Get-FakeK3dConfig)[-1].token | Should -Be $token
    }
}

Describe 'The k3s token on a plain etcd cluster' -Tag Docker, K3d {
    BeforeAll {
        Use-FakeK3d
        $script:plain = New-EtcdCluster (New-TestName 'tokp') -Size 1 -ProgressAction SilentlyContinue
        $script:dir = Join-Path (Get-DataRoot) $plain.Name
    }
    AfterAll {
        Remove-EtcdCluster $plain.Name -Force -ErrorAction Ignore
        if (Test-Path $dir) { Remove-Item $dir -Recurse -Force }
    }

    It 'a token that cannot be kept stops the create before k3d runs (K3sTokenFileFailed); a datastore string keeps none, and -IncludeToken says so' {
        $name = New-TestName 'tbad'
        New-Item -ItemType Directory "$dir/k3d/$name/token" -Force | Out-Null   # a directory where the file must go
        $err = $null
        try { $plain | New-K3dCluster $name -SkipVerify -ProgressAction SilentlyContinue -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -Be 'K3sTokenFileFailed,K3dEtcd.Commands.K3d.NewK3dClusterCommand'
        $err.CategoryInfo.Category | Should -Be 'ResourceUnavailable'
        @(Get-FakeK3dCall | Where-Object { $_[0] -eq 'cluster' -and $_[1] -eq 'create' }) | Should -HaveCount 0
        Remove-Item "$dir/k3d" -Recurse -Force

        $str = New-TestName 'tstr'
        $null = New-K3dCluster $str -Datastore 'http://etcd0:2379' -SkipPreflight -SkipVerify -ProgressAction SilentlyContinue
        $g = Get-K3dCluster $str -IncludeToken -WarningVariable w -WarningAction SilentlyContinue
        $g.Token | Should -BeNullOrEmpty
        ($w -join ' ') | Should -Match "No kept k3s token for k3d cluster '$str'.*does not use an etcd cluster of K3dEtcd"
        Remove-K3dCluster $str -Force
    }

    It 'a failed create puts back the token kept before it, and a refused name keeps it as it was' {
        $name = New-TestName 'trb'
        $first = $plain | New-K3dCluster $name -SkipPreflight -SkipVerify -ProgressAction SilentlyContinue
        $file = "$dir/k3d/$name/token"
        $kept = ConvertTo-Plain $first.Token
        # The name is taken: refused before anything, the kept token untouched.
        $err = $null
        try { $plain | New-K3dCluster $name -Token 'other-token' -SkipPreflight -SkipVerify -ProgressAction SilentlyContinue -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -Be 'K3dClusterExists,K3dEtcd.Commands.K3d.NewK3dClusterCommand'
        (Get-Content $file -Raw).TrimEnd("`n") | Should -Be $kept
        Remove-K3dCluster $name -Force
        # k3d fails with another -Token: rolled back, and the earlier token is back in the file.
        $env:FAKE_K3D_FAIL_CREATE = '1'
        try {
            $err = $null
            try { $plain | New-K3dCluster $name -Token 'other-token' -SkipPreflight -SkipVerify -ProgressAction SilentlyContinue -ErrorAction Stop } catch { $err = $_ }
        }
        finally { $env:FAKE_K3D_FAIL_CREATE = $null }
        $err.FullyQualifiedErrorId | Should -Be 'K3dCreateFailed,K3dEtcd.Commands.K3d.NewK3dClusterCommand'
        (@(Get-FakeK3dConfig)[-1]).token | Should -Be 'other-token'
        (Get-Content $file -Raw).TrimEnd("`n") | Should -Be $kept
        stat -c %a $file | Should -Be '600'
        Remove-Item "$dir/k3d/$name" -Recurse -Force
    }

    It 'is kept in the per-user data directory, is no leftover TLS directory, stays with -KeepData and goes with Remove-EtcdCluster' {
        $name = New-TestName 'tp'
        $k = $plain | New-K3dCluster $name -SkipVerify -ProgressAction SilentlyContinue
        $file = "$dir/k3d/$name/token"
        (Get-Content $file -Raw).TrimEnd("`n") | Should -Be (ConvertTo-Plain $k.Token)
        stat -c %a $file | Should -Be '600'
        stat -c %a "$dir/k3d/$name" | Should -Be '700'
        ConvertTo-Plain (Get-K3dCluster $name -IncludeToken).Token | Should -Be (ConvertTo-Plain $k.Token)
        $e = Get-EtcdCluster $plain.Name
        $e.State | Should -Be 'Running'
        $e.Tls | Should -BeNullOrEmpty
        Remove-K3dCluster $name -Force
        Test-Path $file | Should -BeTrue
        Remove-EtcdCluster $plain.Name -KeepData -Force
        Test-Path $file | Should -BeTrue
        $left = Get-EtcdCluster $plain.Name -ErrorAction SilentlyContinue
        ($left.Leftovers -join ';') | Should -Match 'volume'
        ($left.Leftovers -join ';') | Should -Not -Match 'TLS directory'
        Remove-EtcdCluster $plain.Name -Force
        Test-Path $dir | Should -BeFalse
        Get-LabelledDockerObject $plain.Name | Should -BeNullOrEmpty
    }
}
