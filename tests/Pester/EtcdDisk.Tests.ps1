# Measure-EtcdDisk (issue 30 item 2): fio on a running member's data volume, from a short-lived container.
# One 1-member cluster for the file. Cross-checked with etcdctl (the member keeps serving), the docker CLI
# (no probe container left) and the volume's files on this host (Docker's volume mountpoint: the engine
# here is local): no scratch directory left, the listing of etcd's data/ unchanged.
BeforeAll {
    . "$PSScriptRoot/TestHelpers.ps1"
    Assert-DockerAvailable
    $ProgressPreference = 'SilentlyContinue'
    $env:ETCDCTL_API = '3'
    function Start-InRunspace([string] $Script) {
        $ps = [powershell]::Create()
        $null = $ps.AddScript("Import-Module '$script:ModulePath'; `$ProgressPreference = 'Continue'; $Script")
        [pscustomobject]@{ PowerShell = $ps; Handle = $ps.BeginInvoke() }
    }
    function Get-ProbeContainer { $ids = docker ps -a -q --filter "label=io.k3detcd.probe-member=$script:member"; if ($LASTEXITCODE) { throw 'docker ps failed' }; @($ids | Where-Object { $_ }) }
    function Get-Scratch { @(Get-ChildItem -Force -Directory $script:mount | Where-Object Name -Like '.k3detcd-disk-*') }
    # Every path under data/ (etcd's own files), relative, sorted, hashed: what the probe must never change.
    function Get-DataListingHash {
        $root = Join-Path $script:mount data
        $names = Get-ChildItem -Recurse -Force $root | ForEach-Object { $_.FullName.Substring($root.Length) } | Sort-Object
        $bytes = [Text.Encoding]::UTF8.GetBytes(($names -join "`n"))
        [Convert]::ToHexString([Security.Cryptography.SHA256]::HashData($bytes))
    }
    function Invoke-Ctl { $out = etcdctl --endpoints ($script:c.Endpoints -join ',') --command-timeout 10s @args 2>&1; if ($LASTEXITCODE) { throw "etcdctl $args failed: $out" }; $out }

    $script:c = New-EtcdCluster (New-TestName 'dsk') -Size 1
    $script:member = $c.Members[0].Name
    $script:mount = docker volume inspect -f '{{.Mountpoint}}' $c.Members[0].Volume
    if ($LASTEXITCODE -or -not (Test-Path (Join-Path $mount data/member))) { throw "cannot see volume $($c.Members[0].Volume) at '$mount' on this host" }
}

AfterAll {
    if ($script:member) { Get-ProbeContainer | ForEach-Object { docker rm -f $_ *> $null } }
    if ($script:c) { Remove-EtcdCluster $c.Name -Force }
}

Describe 'Measure-EtcdDisk' -Tag Docker, Disk {
    It 'measures a running member: counts, p50 <= p99 <= max, a verdict; it keeps serving; nothing left; data/ unchanged' {
        Invoke-Ctl put /disk/before one | Should -Be OK
        $started = docker inspect -f '{{.State.StartedAt}}' $c.Members[0].ContainerName
        $listing = Get-DataListingHash
        $job = Start-InRunspace "Measure-EtcdDisk -Cluster '$($c.Name)' -Count 300"
        try {
            $sawScratch = $false; $sawContainer = $false
            while (-not $job.Handle.IsCompleted) {
                if ((Get-Scratch).Count -gt 0) { $sawScratch = $true }
                if ((Get-ProbeContainer).Count -gt 0) { $sawContainer = $true }
                Start-Sleep -Milliseconds 20
            }
            $r = @($job.PowerShell.EndInvoke($job.Handle))
            $job.PowerShell.Streams.Error | Should -BeNullOrEmpty
            $progress = @($job.PowerShell.Streams.Progress | Where-Object Activity -EQ 'Measuring fdatasync latency')
        } finally { $job.PowerShell.Dispose() }

        $r | Should -HaveCount 1
        $m = $r[0]
        $m.Member | Should -Be $member
        $m.Writes | Should -Be 300
        $m.BlockSize | Should -Be 2300
        $m.MinMs | Should -BeGreaterThan 0
        $m.P50Ms | Should -BeGreaterOrEqual $m.MinMs
        $m.P99Ms | Should -BeGreaterOrEqual $m.P50Ms
        $m.MaxMs | Should -BeGreaterOrEqual $m.P99Ms
        $m.Verdict | Should -Be $(if ($m.P99Ms -lt 10) { 'Ok' } elseif ($m.P99Ms -lt 500) { 'Warning' } else { 'Critical' })
        $m.Advice | Should -Match 'fdatasync'
        $script:plainP50 = $m.P50Ms
        $progress.Count | Should -BeGreaterThan 0
        $progress[0].StatusDescription | Should -Match "member $member \(1 of 1\): 300 writes"

        # While it ran: its scratch directory on the volume and its container; afterwards neither.
        $sawScratch | Should -BeTrue
        $sawContainer | Should -BeTrue
        Get-ProbeContainer | Should -BeNullOrEmpty
        Get-Scratch | Should -BeNullOrEmpty
        Get-DataListingHash | Should -Be $listing

        # The member kept running and serving.
        docker inspect -f '{{.State.StartedAt}}' $c.Members[0].ContainerName | Should -Be $started
        Invoke-Ctl get /disk/before --print-value-only | Should -Be one
        Invoke-Ctl put /disk/after two | Should -Be OK
        Invoke-Ctl get /disk/after --print-value-only | Should -Be two

        $table = $m | Format-Table | Out-String -Width 80
        $table | Should -Match 'Member\s+Writes\s+P50Ms\s+P99Ms\s+MaxMs\s+Verdict'
        ($table -split "`n" | Where-Object { $_.TrimEnd().Length -gt 80 }) | Should -BeNullOrEmpty
    }

    It 'stopped with Ctrl+C while writing: the probe container and its scratch directory are removed' {
        $job = Start-InRunspace "Measure-EtcdDisk -Cluster '$($c.Name)' -Member '$member' -Duration 00:01:00"
        try {
            $sw = [Diagnostics.Stopwatch]::StartNew()
            while (((Get-Scratch).Count -eq 0 -or (Get-ProbeContainer).Count -eq 0) -and $sw.Elapsed.TotalSeconds -lt 30 -and -not $job.Handle.IsCompleted) { Start-Sleep -Milliseconds 20 }
            (Get-Scratch).Count | Should -Be 1
            Start-Sleep -Seconds 1
            $job.PowerShell.Stop()
            $job.PowerShell.InvocationStateInfo.State | Should -Be 'Stopped'
        } finally { $job.PowerShell.Dispose() }
        $sw.Elapsed.TotalSeconds | Should -BeLessThan 30 -Because 'the stop must not wait for the minute of writing'
        Get-ProbeContainer | Should -BeNullOrEmpty
        Get-Scratch | Should -BeNullOrEmpty
        Invoke-Ctl get /disk/before --print-value-only | Should -Be one
    }

    It 'a throttled probe (docker --device-write-iops, 20 IOPS on the volume''s disk) is reported slow' {
        $root = docker info -f '{{.DockerRootDir}}'
        $device = (df --output=source $root | Select-Object -Last 1).Trim()
        (stat -c '%F' $device) | Should -Be 'block special file' -Because "the volume's filesystem is on $device"
        $m = Measure-EtcdDisk $c -Member $member -Count 30 -ThrottleWriteIops "${device}:20"
        $m.ThrottledWriteIops | Should -Be 20
        $m.Writes | Should -Be 30
        # 20 IOPS: 50 ms per I/O at best; each write+fdatasync takes at least one.
        $m.P50Ms | Should -BeGreaterThan 25
        $m.P50Ms | Should -BeGreaterThan (5 * $script:plainP50)
        $m.Verdict | Should -Not -Be 'Ok'
        $m.Advice | Should -Match "over etcd's 10 ms guidance|500 ms"
        Get-ProbeContainer | Should -BeNullOrEmpty
        Get-Scratch | Should -BeNullOrEmpty
    }

    It 'completes -Member with the members of the cluster on the line' {
        $line = "Measure-EtcdDisk -Cluster $($c.Name) -Member "
        $r = TabExpansion2 -inputScript $line -cursorColumn $line.Length
        $r.CompletionMatches.CompletionText | Should -Be @($member)
    }

    It 'refuses <Case> with <Id> (<Category>) and runs no probe' -ForEach @(
        @{ Case = 'a member the cluster does not have'; Arguments = @{ Member = 'no-such-member' }; Id = 'EtcdMemberNotFound'; Category = 'ObjectNotFound' }
        @{ Case = 'a throttle that is not DEVICE:IOPS'; Arguments = @{ ThrottleWriteIops = 'vda:many' }; Id = 'InvalidDiskThrottle'; Category = 'InvalidArgument' }
        @{ Case = 'a probe image that is not there'; Arguments = @{ ProbeImage = 'k3detcd/fio:not-here-p1' }; Id = 'DiskProbeImageNotFound'; Category = 'ObjectNotFound' }
    ) {
        $err = $null
        try { Measure-EtcdDisk -Cluster $c.Name -Count 10 @Arguments -ErrorAction Stop } catch { $err = $_ }
        $err | Should -Not -BeNullOrEmpty
        $err.FullyQualifiedErrorId | Should -BeLike "$Id,*"
        "$($err.CategoryInfo.Category)" | Should -Be $Category
        Get-ProbeContainer | Should -BeNullOrEmpty
        Get-Scratch | Should -BeNullOrEmpty
    }
}
