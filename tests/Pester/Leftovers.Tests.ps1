# Nothing orphaned: a cluster is found, shown and removed through any part of it that is left
# (its volumes, its network, its TLS directory), whether a create was killed half way or its
# members were removed outside the module. Checked with the docker CLI and the file system.
BeforeDiscovery {
    # Each line a create prints (-Verbose) and what must exist once it is printed.
    $script:killPoints = @(
        @{ Phase = 'after the TLS directory'; Line = 'TLS material written'; Sure = 'tls' }
        @{ Phase = 'after the network'; Line = 'network ready'; Sure = 'network' }
        @{ Phase = 'after the first volume'; Line = 'docker create --name {0}0 '; Sure = 'volume' }
        @{ Phase = 'after the first container'; Line = 'docker volume create {0}1-data'; Sure = 'container' }
    )
}

BeforeAll {
    . "$PSScriptRoot/TestHelpers.ps1"
    Assert-DockerAvailable

    # What Docker and the file system hold of a cluster, asked with the docker CLI.
    function Get-Leftover([string] $Cluster) {
        $f = "label=io.k3detcd.cluster=$Cluster"
        $list = { param([string[]] $What, [string] $Field) $out = docker @What --filter $f --format "{{.$Field}}"; if ($LASTEXITCODE -ne 0) { throw "docker $What failed" }; , @($out | Where-Object { $_ } | Sort-Object) }
        [pscustomobject]@{
            Containers = & $list @('ps', '-a') Names
            Volumes    = & $list @('volume', 'ls') Name
            Networks   = & $list @('network', 'ls') Name
            TlsDir     = (Test-Path (Join-Path (Get-TlsRoot) $Cluster))
        }
    }
    function Get-TlsRoot {
        $data = if ($env:XDG_DATA_HOME) { $env:XDG_DATA_HOME } else { Join-Path $HOME '.local/share' }
        Join-Path $data 'k3detcd/clusters'
    }

    # Starts `New-EtcdCluster -Tls -Verbose` in a new pwsh and kills it (SIGKILL) as soon as it prints $Line.
    function Invoke-KilledCreate([string] $Name, [string] $Line) {
        $pwsh = Get-FreshPwsh
        $psi = [Diagnostics.ProcessStartInfo]::new($pwsh.File)
        foreach ($a in @($pwsh.Prefix) + @('-NoProfile', '-NonInteractive', '-Command',
                "Import-Module '$script:ModulePath'; New-EtcdCluster $Name -Size 3 -Tls -Verbose -ProgressAction SilentlyContinue 4>&1")) { if ($a) { $psi.ArgumentList.Add($a) } }
        $psi.RedirectStandardOutput = $true
        $psi.RedirectStandardError = $true
        $p = [Diagnostics.Process]::Start($psi)
        $seen = [Collections.Generic.List[string]]::new()
        try {
            $deadline = [DateTime]::UtcNow.AddSeconds(90)
            while ([DateTime]::UtcNow -lt $deadline) {
                $l = $p.StandardOutput.ReadLine()
                if ($null -eq $l) { break }
                $seen.Add($l)
                if ($l.Contains($Line)) { $p.Kill(); break }
            }
        }
        finally { if (-not $p.HasExited) { $p.Kill() }; $p.WaitForExit() }
        if (-not ($seen | Where-Object { $_.Contains($Line) })) { throw "the create never printed '$Line'; it printed:`n$($seen -join "`n")" }
        $p.ExitCode | Should -Not -Be 0 -Because 'the process was killed before it finished'
    }
}

Describe 'A create killed half way' -Tag Docker, Tls {
    It 'killed <Phase>: Get-EtcdCluster shows what is left, New-EtcdCluster names it, Remove-EtcdCluster leaves nothing' -ForEach $killPoints {
        $n = New-TestName 'kill'
        try {
            Invoke-KilledCreate $n ($Line -f $n)
            $left = Get-Leftover $n
            switch ($Sure) {
                'tls' { $left.TlsDir | Should -BeTrue }
                'network' { $left.Networks | Should -Contain "k3detcd-$n" }
                'volume' { $left.Volumes | Should -Contain "${n}0-data" }
                'container' { $left.Containers | Should -Contain "${n}0" }
            }

            $c = Get-EtcdCluster $n
            $c | Should -Not -BeNullOrEmpty
            if ($left.Containers.Count -eq 0) {
                $c.State | Should -Be 'Broken'
                foreach ($part in @($left.Volumes) + @($left.Networks)) { ($c.Leftovers -join ';') | Should -Match ([regex]::Escape($part)) }
                if ($left.TlsDir) { ($c.Leftovers -join ';') | Should -Match 'TLS directory' }
                # A new create under the name is refused, names the leftovers and the command, and removes nothing.
                $err = $null
                try { New-EtcdCluster $n -Size 1 -Tls -ProgressAction SilentlyContinue -ErrorAction Stop } catch { $err = $_ }
                $err | Should -Not -BeNullOrEmpty
                $err.CategoryInfo.Category | Should -Be 'ResourceExists'
                $err.Exception.Message | Should -Match "Remove-EtcdCluster $n"
                (Get-Leftover $n | ConvertTo-Json) | Should -Be ($left | ConvertTo-Json)
            }
            else {
                $c.Members.Name | Should -Contain "${n}0"
            }

            Remove-EtcdCluster $n -Force
            $after = Get-Leftover $n
            $after.Containers + $after.Volumes + $after.Networks | Should -BeNullOrEmpty
            $after.TlsDir | Should -BeFalse
            Get-EtcdCluster | Where-Object Name -EQ $n | Should -BeNullOrEmpty
        }
        finally {
            Remove-EtcdCluster $n -Force -ErrorAction Ignore
            docker rm -f "${n}0" "${n}1" "${n}2" 2>$null | Out-Null
        }
    }
}

Describe 'Every member container removed outside the module' -Tag Docker, Tls {
    BeforeAll {
        $script:n = New-TestName 'gone'
        $script:c = New-EtcdCluster $n -Size 3 -Tls -ProgressAction SilentlyContinue
        docker rm -f "${n}0" "${n}1" "${n}2" | Out-Null
        $LASTEXITCODE | Should -Be 0
        $script:left = Get-Leftover $n
    }
    AfterAll {
        Remove-EtcdCluster $n -Force -ErrorAction Ignore
        if ($c.Tls -and (Test-Path $c.Tls.Directory)) { Remove-Item -Recurse -Force $c.Tls.Directory }
    }

    It 'leaves the volumes, the network and the TLS directory (docker CLI, file system)' {
        $left.Containers | Should -BeNullOrEmpty
        $left.Volumes | Sort-Object | Should -Be @("${n}0-data", "${n}1-data", "${n}2-data")
        $left.Networks | Should -Be @("k3detcd-$n")
        $c.Tls.CaFile | Should -Exist
    }

    It 'Get-EtcdCluster shows it Broken with each part, by name and in the list' {
        $b = Get-EtcdCluster $n
        $b.State | Should -Be 'Broken'
        $b.Size | Should -Be 0
        $b.Network | Should -Be "k3detcd-$n"
        $b.Tls.CaFile | Should -Be $c.Tls.CaFile
        foreach ($part in "${n}0-data", "${n}1-data", "${n}2-data", "k3detcd-$n", $c.Tls.Directory) { $b.StateReason | Should -Match ([regex]::Escape($part)) }
        (Get-EtcdCluster | Where-Object Name -EQ $n).State | Should -Be 'Broken'
        ($b | Format-Table | Out-String -Width 200) | Should -Match "left: "
    }

    It 'a command that needs the cluster says what is left and how to clear it' {
        $err = $null
        try { Get-EtcdKey -Cluster $n -Prefix / -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'EtcdClusterNotFound,*'
        $err.Exception.Message | Should -Match 'what remains'
        $err.Exception.Message | Should -Match "Remove-EtcdCluster $n"
    }

    It 'New-EtcdCluster under the name is refused with the leftovers named; nothing changes' {
        $ca = Get-FileHash $c.Tls.CaFile
        $err = $null
        try { New-EtcdCluster $n -Size 3 -Tls -ProgressAction SilentlyContinue -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -Be 'VolumeNameInUse,K3dEtcd.Commands.Etcd.NewEtcdClusterCommand'
        $err.CategoryInfo.Category | Should -Be 'ResourceExists'
        $err.Exception.Message | Should -Match "k3detcd-$n"
        $err.Exception.Message | Should -Match "Remove-EtcdCluster $n"
        (Get-Leftover $n | ConvertTo-Json) | Should -Be ($left | ConvertTo-Json)
        (Get-FileHash $c.Tls.CaFile).Hash | Should -Be $ca.Hash
    }

    It 'Remove-EtcdCluster -WhatIf lists the parts and removes nothing' {
        # What-if text goes to the host: a fresh pwsh's standard output shows it.
        $said = Invoke-FreshPwsh "Remove-EtcdCluster $n -WhatIf" | Out-String
        $said | Should -Match 'What if'
        $said | Should -Match "${n}0-data"
        $said | Should -Match "k3detcd-$n"
        (Get-Leftover $n | ConvertTo-Json) | Should -Be ($left | ConvertTo-Json)
    }

    It 'Remove-EtcdCluster removes the volumes, the network and the TLS directory' {
        Remove-EtcdCluster $n -Force
        $after = Get-Leftover $n
        $after.Containers + $after.Volumes + $after.Networks | Should -BeNullOrEmpty
        $c.Tls.Directory | Should -Not -Exist
        $err = $null
        try { Get-EtcdCluster $n -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'EtcdClusterNotFound,*'
    }
}
