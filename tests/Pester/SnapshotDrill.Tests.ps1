# Test-EtcdSnapshot: the restore drill, on real Docker, cross-checked with etcdctl and the docker CLI.
BeforeAll {
    . "$PSScriptRoot/TestHelpers.ps1"
    Assert-DockerAvailable
    $ProgressPreference = 'SilentlyContinue'
    $env:ETCDCTL_API = '3'

    $script:dir = (New-Item -ItemType Directory -Path (Join-Path ([IO.Path]::GetTempPath()) (New-TestName 'drill'))).FullName
    $script:name = New-TestName 'drillsrc'
    $script:c = New-EtcdCluster $script:name -Size 1
    $script:endpoint = $script:c.Endpoints[0]
    # ~20 keys, some overwritten twice, one deleted: revisions, live keys and records all differ.
    1..21 | ForEach-Object { [pscustomobject]@{ Key = "/drill/k$_"; Value = "v$_" } } | Set-EtcdKey -Cluster $script:c
    1..5 | ForEach-Object { [pscustomobject]@{ Key = "/drill/k$_"; Value = "w$_" } } | Set-EtcdKey -Cluster $script:c
    1..2 | ForEach-Object { [pscustomobject]@{ Key = "/drill/k$_"; Value = "x$_" } } | Set-EtcdKey -Cluster $script:c
    etcdctl --endpoints $script:endpoint del /drill/k21 | Out-Null
    if ($LASTEXITCODE -ne 0) { throw 'etcdctl del failed' }

    $script:good = Join-Path $script:dir 'good.db'
    Save-EtcdSnapshot -Cluster $script:c -Path $script:good | Out-Null
    $script:sourceCount = [long](etcdctl --endpoints $script:endpoint get '' --prefix --keys-only -w json | ConvertFrom-Json).count
    $script:sourceRevision = [long](etcdctl --endpoints $script:endpoint get '' --prefix --keys-only -w json | ConvertFrom-Json).header.revision
    $script:status = etcdctl snapshot status $script:good -w json | ConvertFrom-Json
    if ($LASTEXITCODE -ne 0) { throw 'etcdctl snapshot status failed' }

    $bytes = [IO.File]::ReadAllBytes($script:good)
    $script:truncated = Join-Path $script:dir 'truncated.db'
    [IO.File]::WriteAllBytes($script:truncated, $bytes[0..([int]($bytes.Length / 2) - 1)])

    # Two snapshots named as Save-EtcdSnapshot -Directory names them; the older one written last, so only the name can tell.
    $script:series = (New-Item -ItemType Directory -Path (Join-Path $script:dir 'series')).FullName
    $script:older = Join-Path $script:series "$($script:name)-r10-20260101T000000Z.db"
    $script:newer = Join-Path $script:series "$($script:name)-r12-20260102T000000Z.db"
    Copy-Item $script:good $script:newer
    Copy-Item $script:good $script:older
    (Get-Item $script:newer).LastWriteTimeUtc = [datetime]'2025-01-01'
    $script:empty = (New-Item -ItemType Directory -Path (Join-Path $script:dir 'empty')).FullName

    $script:hashes = @{}
    foreach ($f in $script:good, $script:truncated, $script:older, $script:newer) { $script:hashes[$f] = (Get-FileHash $f -Algorithm SHA256).Hash }
    $script:drills = [System.Collections.Generic.List[object]]::new()
}

AfterAll {
    if ($script:name) { Remove-EtcdCluster $script:name -Force -ErrorAction SilentlyContinue }
    # Only if a drill left its cluster (a broken module): the tests below say so; this keeps the engine clean.
    foreach ($d in @($script:drills | Where-Object { $_ -and $_.Cluster })) {
        try { Remove-EtcdCluster $d.Cluster -Force -ErrorAction SilentlyContinue } catch { Write-Warning "$($d.Cluster): $_" }
    }
    if ($script:dir) { Remove-Item $script:dir -Recurse -Force -ErrorAction SilentlyContinue }
}

Describe 'Test-EtcdSnapshot' -Tag Docker {
    It 'passes a good snapshot with the revision etcdctl snapshot status reports and the live key count etcdctl counts' {
        $v = Test-EtcdSnapshot $script:good -ErrorVariable errs
        if ($v) { $script:drills.Add($v) }
        $errs | Should -BeNullOrEmpty
        $v.Passed | Should -BeTrue
        $v.Reason | Should -BeNullOrEmpty
        $v.Cluster | Should -Match '^drill-[0-9a-f]{8}$'
        $v.ExpectedRevision | Should -Be ([long]$script:status.revision)
        $v.ActualRevision | Should -Be ([long]$script:status.revision)
        $v.ActualRevision | Should -Be $script:sourceRevision
        # Live keys: 20 (21 written, one deleted), as etcdctl get "" --prefix --count-only counts them on the source.
        $script:sourceCount | Should -Be 20
        $v.ExpectedKeys | Should -Be $script:sourceCount
        $v.ActualKeys | Should -Be $script:sourceCount
        # etcdctl's totalKey counts every record (all revisions, meta, members): shown as such.
        $v.SnapshotTotalKeys | Should -Be ([long]$script:status.totalKey)
        $v.SnapshotTotalKeys | Should -BeGreaterThan $v.ExpectedKeys
        $v.RestoreTime | Should -BeGreaterThan ([timespan]::Zero)
        $v.CheckTime | Should -BeGreaterThan ([timespan]::Zero)
        $v.TotalTime | Should -BeGreaterOrEqual ($v.RestoreTime + $v.CheckTime)
    }

    It 'fails a truncated copy (the first half of the bytes) with a verdict and a reason, not an error' {
        $v = Test-EtcdSnapshot $script:truncated -ErrorVariable errs
        if ($v) { $script:drills.Add($v) }
        $errs | Should -BeNullOrEmpty
        $v.Passed | Should -BeFalse
        $v.ErrorId | Should -Be 'SnapshotTruncated'
        $v.Reason | Should -Match 'not a complete etcd snapshot'
        $v.ActualRevision | Should -BeNullOrEmpty
    }

    It 'tests only the newest of a folder with -Newest, by the UTC time in the names' {
        $v = @(Test-EtcdSnapshot $script:series -Newest)
        $v.Count | Should -Be 1
        $script:drills.Add($v[0])
        $v[0].Path | Should -Be $script:newer
        $v[0].Passed | Should -BeTrue
    }

    It 'reports a missing path as SnapshotNotFound and a folder without snapshots as SnapshotDirectoryEmpty' {
        $err = $null
        try { Test-EtcdSnapshot (Join-Path $script:dir 'missing.db') -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -Be 'SnapshotNotFound,K3dEtcd.Commands.Etcd.TestEtcdSnapshotCommand'
        $err.CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err = $null
        try { Test-EtcdSnapshot $script:empty -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -Be 'SnapshotDirectoryEmpty,K3dEtcd.Commands.Etcd.TestEtcdSnapshotCommand'
        $err.CategoryInfo.Category | Should -Be 'ObjectNotFound'
        # Non-terminating: the next path is still tested.
        $v = @(Test-EtcdSnapshot (Join-Path $script:dir 'missing.db'), $script:truncated -ErrorAction SilentlyContinue -ErrorVariable errs)
        $errs.Count | Should -Be 1
        $v.Count | Should -Be 1
        $v[0].ErrorId | Should -Be 'SnapshotTruncated'
    }

    It 'removes the throwaway cluster when the drill is stopped (Ctrl+C) half way' {
        # Drill clusters present before (none are expected: only this file makes them).
        $drillNames = { @(docker ps -a --filter label=io.k3detcd.cluster --format '{{.Label "io.k3detcd.cluster"}}' | Where-Object { $_ -like 'drill-*' } | Sort-Object -Unique) }
        $before = & $drillNames
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript("`$ProgressPreference = 'SilentlyContinue'; Import-Module '$($script:ModulePath)'; Test-EtcdSnapshot '$($script:good)'")
            $async = $ps.BeginInvoke()
            $seen = $null
            $deadline = [datetime]::UtcNow.AddSeconds(60)
            while (-not $seen -and -not $async.IsCompleted -and [datetime]::UtcNow -lt $deadline) {
                $seen = & $drillNames | Where-Object { $_ -notin $before } | Select-Object -First 1
                if (-not $seen) { Start-Sleep -Milliseconds 100 }
            }
            $seen | Should -Not -BeNullOrEmpty -Because 'the drill makes its member container before it restores'
            $ps.Stop()
            $async.IsCompleted | Should -BeTrue
        }
        finally { $ps.Dispose() }
        docker ps -a --filter "label=io.k3detcd.cluster=$seen" --format '{{.Names}}' | Should -BeNullOrEmpty
        docker volume ls --filter "name=$seen" --format '{{.Name}}' | Should -BeNullOrEmpty
        docker network ls --filter "name=$seen" --format '{{.Name}}' | Should -BeNullOrEmpty
        $script:drills.Add([pscustomobject]@{ Cluster = $seen })
    }

    It 'leaves no drill container, volume or network, the snapshot files unchanged and the source cluster as it was' {
        $script:drills.Count | Should -BeGreaterOrEqual 3
        foreach ($d in $script:drills) {
            docker ps -a --filter "label=io.k3detcd.cluster=$($d.Cluster)" --format '{{.Names}}' | Should -BeNullOrEmpty
            docker ps -a --filter "name=$($d.Cluster)" --format '{{.Names}}' | Should -BeNullOrEmpty
            docker volume ls --filter "name=$($d.Cluster)" --format '{{.Name}}' | Should -BeNullOrEmpty
            docker volume ls --filter "label=io.k3detcd.cluster=$($d.Cluster)" --format '{{.Name}}' | Should -BeNullOrEmpty
            docker network ls --filter "name=$($d.Cluster)" --format '{{.Name}}' | Should -BeNullOrEmpty
        }
        foreach ($f in $script:hashes.Keys) { (Get-FileHash $f -Algorithm SHA256).Hash | Should -Be $script:hashes[$f] -Because $f }
        $now = etcdctl --endpoints $script:endpoint get '' --prefix --keys-only -w json | ConvertFrom-Json
        [long]$now.count | Should -Be $script:sourceCount
        [long]$now.header.revision | Should -Be $script:sourceRevision
    }
}
