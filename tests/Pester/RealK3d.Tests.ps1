# Needs a real k3d and the k3s image in Docker: build.ps1 runs this file only when both are present
# (it is excluded, not skipped, otherwise). Run it alone with: dotnet pwsh ./build.ps1 Test -PesterTag RealK3d
BeforeAll {
    . "$PSScriptRoot/TestHelpers.ps1"
    Assert-DockerAvailable
    $script:k3d = Get-Command k3d -CommandType Application -ErrorAction Stop | Select-Object -First 1
    if ($k3d.Source -like '*fake-k3d*') { throw "k3d on PATH is the test fake ($($k3d.Source)); these tests need the real k3d." }
    $script:k3sImage = if ($env:K3DETCD_K3S_IMAGE) { $env:K3DETCD_K3S_IMAGE } else {
        docker image ls --format '{{.Repository}}:{{.Tag}}' | Where-Object { $_ -match '(^|/)rancher/k3s:' } | Select-Object -First 1
    }
    if (-not $k3sImage) { throw 'No rancher/k3s image in Docker (set K3DETCD_K3S_IMAGE or docker pull rancher/k3s:<tag>).' }
}

Describe 'A real k3d cluster on a TLS etcd cluster' -Tag RealK3d, Docker {
    BeforeAll {
        $script:etcd = New-EtcdCluster (New-TestName 'realetcd') -Tls -ProgressAction SilentlyContinue
        $script:name = New-TestName 'real'
        $script:k = $etcd | New-K3dCluster $name -Servers 3 -Agents 1 -Image $k3sImage -TlsSan 192.0.2.10 -NoKubeconfigUpdate -TimeoutSeconds 600 -ProgressAction SilentlyContinue
    }
    AfterAll {
        Remove-K3dCluster $name -IncludeDatastore -Force -ErrorAction Ignore
    }

    It 'is running and k3s really uses etcd (keys under /registry/, bootstrap data for the token)' {
        $k.ServersRunning | Should -Be 3
        $k.AgentsRunning | Should -Be 1
        $k.DatastoreVerified | Should -BeTrue
        $keys = Get-EtcdKey -Cluster $etcd -Prefix /registry/ -KeysOnly
        ($keys | Group-Object Resource).Name | Should -Contain 'namespaces'
        $checks = Test-K3dDatastore -Datastore $etcd -Token ($k.Token | ConvertFrom-SecureString -AsPlainText)
        ($checks | Where-Object Name -EQ 'Bootstrap').Passed | Should -BeTrue
    }

    It 'refuses a second cluster with another token on the same etcd' {
        { $etcd | New-K3dCluster (New-TestName 'second') -Image $k3sImage -ErrorAction Stop } |
            Should -Throw -ErrorId 'DatastoreTokenMismatch,K3dEtcd.Commands.K3d.NewK3dClusterCommand'
    }

    It 'serves a kubeconfig whose API answers' {
        $path = Join-Path ([IO.Path]::GetTempPath()) "$name.yaml"
        $null = Get-K3dKubeconfig $name -Server 127.0.0.1 -Path $path
        if (Get-Command kubectl -ErrorAction Ignore) {
            kubectl --kubeconfig $path get nodes -o name | Should -HaveCount 4
        }
        else {
            (Get-Content $path -Raw) | Should -Match 'server: https://127\.0\.0\.1:\d+'
        }
        Remove-Item $path
    }
}
