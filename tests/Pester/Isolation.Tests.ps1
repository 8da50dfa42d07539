BeforeAll {
    . "$PSScriptRoot/TestHelpers.ps1"
    $script:oldProtobuf = Get-ChildItem "$PSScriptRoot/../../.tools/google.protobuf/3.25.1/lib/netstandard2.0/Google.Protobuf.dll" -ErrorAction Stop
}

Describe 'Dependency isolation' -Tag Docker {
    BeforeAll {
        Assert-DockerAvailable
        $script:name = New-TestName 'iso'
        $script:c = New-EtcdCluster $name -Size 1 -ProgressAction SilentlyContinue
        Set-EtcdKey -Cluster $c -Key /iso -Value works
    }
    AfterAll { Remove-EtcdCluster $name -Force -ErrorAction Ignore }

    It 'works after another version of Google.Protobuf was loaded into the session first' {
        # A brand-new pwsh: the old Protobuf goes into the default load context before K3dEtcd is imported.
        $pwsh = Get-FreshPwsh; $self = $pwsh.File; $prefix = $pwsh.Prefix
        $script = @"
`$ErrorActionPreference = 'Stop'
Add-Type -Path '$($oldProtobuf.FullName)'
`$default = [Google.Protobuf.ByteString].Assembly.GetName().Version.ToString()
Import-Module '$ModulePath'
`$value = (Get-EtcdKey -Cluster '$name' -Key /iso).Value
`$ours = [System.Runtime.Loader.AssemblyLoadContext]::All | Where-Object Name -eq 'K3dEtcd.Dependencies' |
    ForEach-Object { `$_.Assemblies } | Where-Object { `$_.GetName().Name -eq 'Google.Protobuf' } | ForEach-Object { `$_.GetName().Version.ToString() }
"`$default|`$ours|`$value"
"@
        $out = & $self @prefix -NoProfile -NonInteractive -Command $script
        $LASTEXITCODE | Should -Be 0 -Because "$out"
        $parts = "$out" -split '\|'
        $parts[0] | Should -Be '3.25.1.0'
        $parts[1] | Should -Not -Be '3.25.1.0'
        $parts[1] | Should -Not -BeNullOrEmpty
        $parts[2] | Should -Be 'works'
    }

    It 'loads only the cmdlets and the output types into the default load context' {
        $out = Invoke-FreshPwsh @'
$c = Get-EtcdCluster | Select-Object -First 1
[System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext([K3dEtcd.Model.EtcdCluster].Assembly).Name
[System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext((Get-Command New-EtcdCluster).ImplementingType.Assembly).Name
($([System.Runtime.Loader.AssemblyLoadContext]::Default.Assemblies | Where-Object { $_.GetName().Name -match '^(Docker\.DotNet|Grpc|Google\.Protobuf|CliWrap|dotnet-etcd)' }) | Measure-Object).Count
'@
        $out[0] | Should -Be 'Default'
        $out[1] | Should -Be 'Default'
        $out[2] | Should -Be '0'
    }
}
