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

Describe 'The load-context bridge' {
    It 'imports, removes and imports again in one session, and the resolver is unhooked while removed' {
        $out = Invoke-FreshPwsh @'
$bridge = [K3dEtcd.Commands.ModuleInitializer].Assembly.GetType('K3dEtcd.Commands.DependencyLoadContext')
$registered = { $bridge.GetProperty('IsRegistered', [Reflection.BindingFlags]'NonPublic,Static').GetValue($null) }
$m = Get-Module K3dEtcd
"first:$(& $registered)"
Get-K3dEtcdOption | Out-Null
Remove-Module K3dEtcd
"removed:$(& $registered):$((Get-Command Get-EtcdCluster -ErrorAction Ignore) -eq $null)"
Import-Module $m.Path
"again:$(& $registered)"
# The engine (private load context) still answers after the second import.
[bool](Get-K3dEtcdOption).DockerEndpoint
(Get-Command New-EtcdCluster).ImplementingType.Assembly.GetName().Name
'@
        $out[0] | Should -Be 'first:True'
        $out[1] | Should -Be 'removed:False:True'
        $out[2] | Should -Be 'again:True'
        $out[3] | Should -Be 'True'
        $out[4] | Should -Be 'K3dEtcd'
    }

    It 'refuses a dependency of another version than the module was built with, naming the file and both versions' {
        # A copy of the staged module with Google.Protobuf swapped for the 3.25.1 that tools.proj restores.
        $staged = Split-Path $ModulePath
        $copy = Join-Path ([IO.Path]::GetTempPath()) "k3detcd-wrongver-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
        $version = Split-Path $staged -Leaf
        $target = Join-Path $copy "K3dEtcd/$version"
        try {
            New-Item -ItemType Directory $target -Force | Out-Null
            Copy-Item "$staged/*" $target -Recurse
            $expected = (Get-Content "$target/dependencies/K3dEtcd.dependencies.txt" | Where-Object { $_ -like 'Google.Protobuf|*' }) -replace '^.*\|'
            Copy-Item $oldProtobuf.FullName "$target/dependencies/Google.Protobuf.dll" -Force

            $pwsh = Get-FreshPwsh; $self = $pwsh.File; $prefix = $pwsh.Prefix
            $script = "try { Import-Module '$target/K3dEtcd.psd1' -ErrorAction Stop; 'imported' } catch { 'refused: ' + `$_.Exception.Message; 'loaded:' + [bool](Get-Module K3dEtcd) }"
            $out = & $self @prefix -NoProfile -NonInteractive -Command $script
            "$out" | Should -Not -Match 'imported'
            $out[0] | Should -BeLike "refused: *Google.Protobuf.dll*version 3.25.1.0*built with version $expected*"
            $out[1] | Should -Be 'loaded:False'
        }
        finally { Remove-Item $copy -Recurse -Force -ErrorAction Ignore }
    }
}
