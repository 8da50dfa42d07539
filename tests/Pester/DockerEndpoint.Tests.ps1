BeforeAll {
    . "$PSScriptRoot/TestHelpers.ps1"
}

Describe 'Docker endpoint resolution' -Tag Docker {
    It 'follows the current Docker context of a config directory to a working engine' {
        $cfg = Join-Path ([IO.Path]::GetTempPath()) "k3detcd-cfg-$([guid]::NewGuid().ToString('N'))"
        $name = 'k3detcd-test'
        $hash = [Convert]::ToHexString([Security.Cryptography.SHA256]::HashData([Text.Encoding]::UTF8.GetBytes($name))).ToLower()
        New-Item -ItemType Directory "$cfg/contexts/meta/$hash" -Force | Out-Null
        '{"currentContext":"k3detcd-test"}' | Set-Content "$cfg/config.json"
        '{"Name":"k3detcd-test","Endpoints":{"docker":{"Host":"unix:///var/run/docker.sock"}}}' | Set-Content "$cfg/contexts/meta/$hash/meta.json"
        try {
            $out = Invoke-FreshPwsh "`$env:DOCKER_HOST=`$null; `$env:DOCKER_CONFIG='$cfg'; `$o = Get-K3dEtcdOption; `$null = Get-EtcdCluster; `$o.DockerEndpointSource + '|' + `$o.DockerEndpoint"
            $out | Should -Be "Docker context 'k3detcd-test'|unix:///var/run/docker.sock"
        }
        finally { Remove-Item $cfg -Recurse -Force }
    }

    It 'uses Set-K3dEtcdOption -DockerHost for every cmdlet of the session, and only that session' {
        $out = Invoke-FreshPwsh @'
Set-K3dEtcdOption -DockerHost unix:///tmp/k3detcd-no-such.sock
$e = try { Get-EtcdCluster; 'no error' } catch { $_.FullyQualifiedErrorId }
$manifest = Join-Path (Get-Module K3dEtcd).ModuleBase 'K3dEtcd.psd1'
$other = Start-ThreadJob { Import-Module $using:manifest; (Get-K3dEtcdOption).DockerEndpointSource } | Receive-Job -Wait -AutoRemoveJob
$opt = Set-K3dEtcdOption -DockerHost '' -PassThru
"$e|$other|$($opt.DockerHost -eq $null)"
'@
        $parts = $out -split '\|'
        $parts[0] | Should -Be 'DockerUnreachable,K3dEtcd.Commands.Etcd.GetEtcdClusterCommand'
        $parts[1] | Should -Match '^(default|DOCKER_HOST|Docker context)'
        $parts[2] | Should -Be 'True'
    }

    It 'refuses a malformed Docker host at once' {
        { Set-K3dEtcdOption -DockerHost 'not a uri' } | Should -Throw -ErrorId 'InvalidDockerHost,K3dEtcd.Commands.Module.SetK3dEtcdOptionCommand'
    }
}
