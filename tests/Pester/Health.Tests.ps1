# Get-EtcdHealth and Test-EtcdCluster -Detailed on real clusters; every figure cross-checked with curl on /metrics.
BeforeAll {
    . "$PSScriptRoot/TestHelpers.ps1"
    Assert-DockerAvailable
    $ProgressPreference = 'SilentlyContinue'
    function Get-Metric([string] $Url, [string] $Name) {
        $line = (& curl -s "$Url/metrics") -split "`n" | Where-Object { $_ -match "^$Name(\{[^}]*\})? " } | Select-Object -First 1
        [double]($line -split ' ')[-1]
    }
    function Verdict($Verdicts, [string] $Rule) { @($Verdicts | Where-Object Rule -eq $Rule) }
}

Describe 'Get-EtcdHealth on a one-member cluster with a 16 MiB quota' -Tag Docker {
    BeforeAll {
        $script:q = New-TestName 'hq'
        $script:qc = New-EtcdCluster $script:q -Size 1 -QuotaBackendBytes 16MB
        $script:qurl = $script:qc.Members[0].ClientUrl
    }
    AfterAll { Remove-EtcdCluster $script:q -Force -ErrorAction SilentlyContinue }

    It 'refuses a bad -Window with InvalidHealthWindow' -ForEach @(@{ W = '-00:00:01' }, @{ W = '02:00:00' }) {
        $err = $null
        try { Get-EtcdHealth $script:q -Window $W -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -Be 'InvalidHealthWindow,K3dEtcd.Commands.Etcd.GetEtcdHealthCommand'
        $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
    }

    It 'gives an Ok verdict for every rule of a fresh cluster (EndOfLife on 3.4) within 80 columns' {
        $v = Get-EtcdHealth $script:q
        ($v.Rule | Sort-Object -Unique).Count | Should -Be 12
        $notOk = @($v | Where-Object Severity -ne Ok)
        if ($script:qc.Version -like '3.4.*') { $notOk.Rule | Should -Be @('EndOfLife') } else { $notOk | Should -BeNullOrEmpty }
        $lines = ($v | Format-Table | Out-String -Width 80) -split "`r?`n" | Where-Object { $_.Trim() }
        $lines | ForEach-Object { $_.Length | Should -BeLessOrEqual 80 }
        $lines[0] | Should -Match '^Severity\s+Rule\s+Member\s+Value\s+Threshold\s+Advice'
    }

    It 'gives the Critical quota verdict past 95 % before NOSPACE, and Optimize-EtcdCluster clears it' {
        $quota = Get-Metric $script:qurl 'etcd_server_quota_backend_bytes'
        $quota | Should -Be 16MB
        $value = 'x' * 128KB
        $size = 0
        for ($i = 0; $i -lt 400 -and $size / $quota -le 0.955; $i++) {
            Set-EtcdKey -Cluster $script:qc -Key /fill -Value $value
            $size = Get-Metric $script:qurl 'etcd_mvcc_db_total_size_in_bytes'
        }
        $size / $quota | Should -BeGreaterThan 0.95
        # etcd has not raised NOSPACE: writes are still accepted.
        (Get-EtcdAlarm -Cluster $script:qc) | Should -BeNullOrEmpty
        $v = Verdict (Get-EtcdHealth $script:q) DatabaseQuota
        $v.Count | Should -Be 1
        $v[0].Severity | Should -Be Critical
        $v[0].Member | Should -Be $script:qc.Members[0].Name
        $v[0].Value | Should -Be ([math]::Round(100 * $size / $quota, 1))
        $v[0].Advice | Should -Be "Optimize-EtcdCluster -Cluster $($script:q)"
        # Test-EtcdCluster: plain -Quiet still only asks for a quorum; -Detailed -Quiet also for no Critical verdict.
        Test-EtcdCluster -Cluster $script:qc -Quiet | Should -BeTrue
        Test-EtcdCluster -Cluster $script:qc -Detailed -Quiet | Should -BeFalse
        (Test-EtcdCluster -Cluster $script:qc -Detailed | Where-Object Rule -eq DatabaseQuota).Severity | Should -Be Critical

        Optimize-EtcdCluster -Cluster $script:qc -Force | Out-Null
        $after = Get-Metric $script:qurl 'etcd_mvcc_db_total_size_in_bytes'
        $v = Verdict (Get-EtcdHealth $script:q) DatabaseQuota
        $v[0].Severity | Should -Be Ok
        $v[0].Value | Should -Be ([math]::Round(100 * $after / $quota, 1))
        Test-EtcdCluster -Cluster $script:qc -Detailed -Quiet | Should -BeTrue
    }
}

Describe 'Get-EtcdHealth on fragmentation' -Tag Docker {
    BeforeAll {
        $script:f = New-TestName 'hf'
        $script:fc = New-EtcdCluster $script:f -Size 1 -QuotaBackendBytes 1GB
        $script:furl = $script:fc.Members[0].ClientUrl
    }
    AfterAll { Remove-EtcdCluster $script:f -Force -ErrorAction SilentlyContinue }

    It 'warns when under half of a database over 100 MiB is in use, and defragmentation clears it' {
        $value = 'y' * 1MB
        1..110 | ForEach-Object { Set-EtcdKey -Cluster $script:fc -Key "/big/$_" -Value $value }
        # etcdctl deletes (Remove-EtcdKey's batches of 128 would carry 128 MiB of previous values back).
        $env:ETCDCTL_API = '3'
        (& etcdctl --endpoints $script:furl del --prefix /big/) | Should -Be 110
        Invoke-EtcdCompaction -Cluster $script:fc -Confirm:$false | Out-Null
        # etcd frees the compacted revisions in the background, in batches: wait for the in-use figure to drop.
        for ($i = 0; $i -lt 60; $i++) {
            $size = Get-Metric $script:furl 'etcd_mvcc_db_total_size_in_bytes'
            $inUse = Get-Metric $script:furl 'etcd_mvcc_db_total_size_in_use_in_bytes'
            if ($inUse / $size -lt 0.4) { break }
            Start-Sleep -Milliseconds 500
            Set-EtcdKey -Cluster $script:fc -Key /tick -Value $i   # a write commits bbolt's freed pages
        }
        $size | Should -BeGreaterThan 100MB
        $inUse / $size | Should -BeLessThan 0.5
        $v = Verdict (Get-EtcdHealth $script:fc) Fragmentation
        $v.Count | Should -Be 1
        $v[0].Severity | Should -Be Warning
        $v[0].Value | Should -Be ([math]::Round($inUse / $size, 3))

        Invoke-EtcdDefragmentation -Cluster $script:fc -Force -Confirm:$false | Out-Null
        (Get-Metric $script:furl 'etcd_mvcc_db_total_size_in_bytes') | Should -BeLessThan 100MB
        (Verdict (Get-EtcdHealth $script:fc) Fragmentation)[0].Severity | Should -Be Ok
    }
}

Describe 'Get-EtcdHealth on a three-member cluster' -Tag Docker {
    BeforeAll {
        $script:t = New-TestName 'h3'
        $script:tc = New-EtcdCluster $script:t -Size 3
    }
    AfterAll { Remove-EtcdCluster $script:t -Force -ErrorAction SilentlyContinue }

    It 'counts four Move-EtcdLeader calls as leader changes' {
        (Verdict (Get-EtcdHealth $script:t) LeaderChanges)[0].Severity | Should -Be Ok
        1..4 | ForEach-Object {
            $next = Get-EtcdMember -Cluster $script:tc | Where-Object { -not $_.IsLeader } | Select-Object -First 1
            Move-EtcdLeader -Cluster $script:tc -To $next.Name -Confirm:$false | Out-Null
        }
        $seen = $script:tc.Members | ForEach-Object { Get-Metric $_.ClientUrl 'etcd_server_leader_changes_seen_total' } | Measure-Object -Maximum
        $seen.Maximum | Should -BeGreaterOrEqual 4
        $v = Verdict (Get-EtcdHealth -Cluster $script:tc) LeaderChanges
        $v[0].Severity | Should -Be Warning
        $v[0].Value | Should -Be $seen.Maximum
        $v[0].Threshold | Should -Be 4
    }

    It 'reports a stopped member as MemberDown and nothing about the others' {
        $stopped = "$($script:t)2"
        Stop-EtcdMember -Cluster $script:t -Name $stopped -Confirm:$false | Out-Null
        try {
            $v = Get-EtcdHealth -Cluster $script:t -Window 00:00:02
            $down = Verdict $v MemberDown
            $down.Count | Should -Be 1
            $down[0].Severity | Should -Be Critical
            $down[0].Member | Should -Be $stopped
            (Verdict $v NoLeader)[0].Severity | Should -Be Ok
            # Independent check: the other two answer /metrics with a leader.
            "$($script:t)0", "$($script:t)1" | ForEach-Object {
                $url = ($script:tc.Members | Where-Object Name -eq $_).ClientUrl
                Get-Metric $url 'etcd_server_has_leader' | Should -Be 1
            }
            @($v | Where-Object { $_.Severity -ne 'Ok' -and $_.Member -and $_.Member -ne $stopped -and $_.Rule -ne 'EndOfLife' }) | Should -BeNullOrEmpty
        }
        finally { Start-EtcdMember -Cluster $script:t -Name $stopped | Out-Null }
    }
}
