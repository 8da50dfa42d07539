# Save-EtcdSnapshot -Directory -Keep and the cron backup schedule (Register/Get/Unregister-EtcdBackup), against
# real Docker, the real crontab and the real cron daemon (tests/prepare-docker.sh installs and starts cron).
BeforeDiscovery { . $PSScriptRoot/TestHelpers.ps1 }

BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    # The user's crontab as it was (none: '' and no crontab), captured first and restored byte for byte in AfterAll.
    $script:crontabFile = Join-Path ([IO.Path]::GetTempPath()) (New-TestName 'k3detcd-bk-crontab')
    sh -c "crontab -l > '$script:crontabFile' 2>/dev/null"
    $script:hadCrontab = $LASTEXITCODE -eq 0
    $script:originalCrontab = if ($script:hadCrontab) { [IO.File]::ReadAllText($script:crontabFile) } else { '' }
    $script:crontabCaptured = $true
    Assert-DockerAvailable
    # A data home of its own: the job scripts and state files of this file only (the cluster's material too).
    $script:xdg = Join-Path ([IO.Path]::GetTempPath()) (New-TestName 'k3detcd-bk-xdg')
    New-Item -ItemType Directory $script:xdg | Out-Null
    $script:oldXdg = $env:XDG_DATA_HOME
    $env:XDG_DATA_HOME = $script:xdg
    $script:dir = Join-Path ([IO.Path]::GetTempPath()) (New-TestName 'k3detcd-bk')
    New-Item -ItemType Directory $script:dir | Out-Null
    $script:name = New-TestName 'bk'
    $script:c = New-EtcdCluster $script:name -Size 1
    Set-EtcdKey -Cluster $script:c -Key /bk/a -Value 1
    function Get-Crontab { $t = & crontab -l 2>$null | Out-String; if ($LASTEXITCODE -ne 0) { '' } else { $t } }
    function Set-Crontab([string] $Text) { $Text | & crontab - ; if ($LASTEXITCODE -ne 0) { throw 'crontab - failed' } }
    function Get-EtcdctlStatus([string] $File) { (etcdctl snapshot status $File -w json) | Where-Object { $_ -like '{*totalKey*' } | ConvertFrom-Json }
    function Get-Snapshots([string] $Dir) { Get-ChildItem -LiteralPath $Dir -File | Where-Object Name -match ('^' + [regex]::Escape($script:name) + '-r\d+-\d{8}T\d{6}Z\.db$') | Sort-Object Name }
}

AfterAll {
    if ($script:name) {
        try { Unregister-EtcdBackup -Cluster $script:name -Confirm:$false -ErrorAction Ignore } catch { }
        Remove-EtcdCluster $script:name -Force -ErrorAction Ignore
    }
    # Never touch a crontab that was not captured.
    if ($script:crontabCaptured) {
        if ($script:hadCrontab) { crontab $script:crontabFile } else { crontab -r 2>$null }
        Remove-Item -LiteralPath $script:crontabFile -ErrorAction Ignore
    }
    $env:XDG_DATA_HOME = $script:oldXdg
    Remove-Item -Recurse -Force $script:dir, $script:xdg -ErrorAction Ignore
}

Describe 'Save-EtcdSnapshot -Directory -Keep' -Tag Docker, Backup {
    It 'names the file CLUSTER-rREVISION-UTCTIME.db and etcdctl snapshot status agrees' {
        $d = Join-Path $dir 'named'; New-Item -ItemType Directory $d | Out-Null
        $before = [DateTime]::UtcNow.AddSeconds(-1)
        $s = Save-EtcdSnapshot -Cluster $name -Directory $d
        $file = Split-Path -Leaf $s.Path
        $file | Should -Match ('^' + [regex]::Escape($name) + "-r$($s.Revision)-\d{8}T\d{6}Z\.db$")
        $t = [DateTime]::ParseExact($file.Split('-')[-1].Substring(0, 16), "yyyyMMdd'T'HHmmss'Z'", [Globalization.CultureInfo]::InvariantCulture, 'AssumeUniversal,AdjustToUniversal')
        $t | Should -BeGreaterOrEqual $before.AddTicks(-$before.Ticks % 10000000)
        $t | Should -BeLessOrEqual ([DateTime]::UtcNow)
        $st = Get-EtcdctlStatus $s.Path
        $st.revision | Should -Be $s.Revision
        $st.totalKey | Should -Be $s.TotalKeys
    }

    It 'keeps at most N valid ones: an invalid file is never counted or deleted, other names are never touched' {
        $d = Join-Path $dir 'prune'; New-Item -ItemType Directory $d | Out-Null
        $good = Save-EtcdSnapshot -Cluster $name -Directory $d
        $bytes = [IO.File]::ReadAllBytes($good.Path)
        Remove-Item $good.Path
        $old1 = Join-Path $d "$name-r1-20200101T000000Z.db"; [IO.File]::WriteAllBytes($old1, $bytes)
        $old2 = Join-Path $d "$name-r1-20200102T000000Z.db"; [IO.File]::WriteAllBytes($old2, $bytes)
        # Damaged, and newer than both valid ones: it must not take a place of the N.
        $bad = Join-Path $d "$name-r9-20250101T000000Z.db"; [IO.File]::WriteAllBytes($bad, $bytes[0..($bytes.Length - 1001)])
        $others = @("notes.txt", "$name-r1-20190101T000000Z.db.bak", "other-$name-r1-20190101T000000Z.db", "x$name-r1-20190101T000000Z.db") | ForEach-Object {
            $p = Join-Path $d $_; [IO.File]::WriteAllBytes($p, $bytes); $p }
        $hashes = $others | ForEach-Object { (Get-FileHash $_).Hash }
        Save-EtcdSnapshot -Cluster $name -Directory $d -Keep 2 -WhatIf
        (Get-ChildItem $d -File).Count | Should -Be 7
        $new = Save-EtcdSnapshot -Cluster $name -Directory $d -Keep 2 -WarningVariable w 3>$null
        Test-Path $new.Path | Should -BeTrue
        Test-Path $old2 | Should -BeTrue      # the newest older valid one stays
        Test-Path $old1 | Should -BeFalse     # the oldest valid one goes
        Test-Path $bad | Should -BeTrue       # damaged: left in place, with a warning
        ($w -join ' ') | Should -BeLike "*$([IO.Path]::GetFileName($bad))*"
        $others | ForEach-Object { (Get-FileHash $_).Hash } | Should -Be $hashes
        # Keep 1: only the new one of the valid ones.
        $newest = Save-EtcdSnapshot -Cluster $name -Directory $d -Keep 1 3>$null
        (Get-Snapshots $d).FullName | Should -Be (@($bad, $newest.Path) | Sort-Object)
    }

    It 'refuses -Path with -Directory and -Keep without -Directory' {
        $err = $null; try { Save-EtcdSnapshot -Cluster $name -Directory $dir -Path (Join-Path $dir 'x.db') -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -Be 'SnapshotTargetConflict,K3dEtcd.Commands.Etcd.SaveEtcdSnapshotCommand'
        $err = $null; try { Save-EtcdSnapshot -Cluster $name -Path (Join-Path $dir 'x.db') -Keep 2 -ErrorAction Stop } catch { $err = $_ }
        $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
        Test-Path (Join-Path $dir 'x.db') | Should -BeFalse
    }
}

Describe 'Register-EtcdBackup, Get-EtcdBackup, Unregister-EtcdBackup (cron)' -Tag Docker, Backup {
    BeforeAll {
        $script:sched = Join-Path $dir 'scheduled'; New-Item -ItemType Directory $script:sched | Out-Null
        # A line of the user's own, without a final newline trouble: it must survive byte for byte.
        $script:marker = "# k3detcd test marker $name (user line)`n17 3 * * * /bin/true # user's own job`n"
        Set-Crontab ($script:originalCrontab + $script:marker)
        $script:userCrontab = Get-Crontab
    }

    It 'refuses an interval cron cannot repeat exactly, naming the nearest valid ones, and -WhatIf changes nothing' {
        $err = $null; try { Register-EtcdBackup -Cluster $name -Directory $sched -Every 00:07:00 -Keep 2 -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -Be 'BackupIntervalInvalid,K3dEtcd.Commands.Etcd.RegisterEtcdBackupCommand'
        $err.Exception.Message | Should -BeLike '*00:06:00 or 00:10:00*'
        Register-EtcdBackup -Cluster $name -Directory $sched -Every 00:01:00 -Keep 2 -WhatIf
        Get-Crontab | Should -BeExactly $userCrontab
        Test-Path (Join-Path $xdg "k3detcd/backups/$name.ps1") | Should -BeFalse
    }

    It 'runs after the registering pwsh exited: three runs give three verified snapshots, -Keep 2 leaves the newest two; a run with the cluster down records why and prunes nothing' {
        # Registered from a child pwsh that exits at once.
        Invoke-FreshPwsh "Register-EtcdBackup -Cluster '$name' -Directory '$sched' -Every 00:01:00 -Keep 2 | Out-Null" | Out-Null
        $tab = Get-Crontab
        $tab.StartsWith($userCrontab) | Should -BeTrue
        $line = ($tab.Substring($userCrontab.Length) -split "`n" | Where-Object { $_ })
        @($line).Count | Should -Be 1
        $line | Should -BeLike "* * * * * *-NoProfile -NonInteractive -File *$name.ps1* # k3detcd-backup $name"
        $err = $null; try { Register-EtcdBackup -Cluster $name -Directory $sched -Every 00:01:00 -Keep 2 -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -Be 'BackupScheduleExists,K3dEtcd.Commands.Etcd.RegisterEtcdBackupCommand'

        $state = Join-Path $xdg "k3detcd/backups/$name.state.json"
        $seen = [System.Collections.Generic.List[string]]::new()
        $deadline = [DateTime]::UtcNow.AddMinutes(4)
        while ($seen.Count -lt 3 -and [DateTime]::UtcNow -lt $deadline) {
            Start-Sleep -Seconds 3
            if (-not (Test-Path $state)) { continue }
            $s = Get-Content $state -Raw | ConvertFrom-Json
            if ($s.Result -eq 'Succeeded' -and $s.File -and -not $seen.Contains($s.File)) {
                # Verified by a client that is not ours, before a later run may prune it.
                (Get-EtcdctlStatus $s.File).revision | Should -Be $s.Revision
                $seen.Add($s.File)
                Set-EtcdKey -Cluster $name -Key "/bk/run$($seen.Count)" -Value x
            }
        }
        $seen.Count | Should -Be 3
        (Get-Snapshots $sched).FullName | Should -Be @($seen[1], $seen[2])
        $b = Get-EtcdBackup -Cluster $name
        $b.LastResult | Should -Be 'Succeeded'
        $b.Scheduled | Should -BeTrue
        $b.NewestFile | Should -Be $seen[2]
        $b.Overdue | Should -BeFalse

        # The cluster down: the next run fails, says why, and removes nothing.
        $before = (Get-Snapshots $sched).FullName
        $last = (Get-Content $state -Raw | ConvertFrom-Json).Time
        docker stop -t 2 $c.Members[0].ContainerName | Out-Null
        try {
            $deadline = [DateTime]::UtcNow.AddSeconds(100)
            do { Start-Sleep -Seconds 3; $s = Get-Content $state -Raw | ConvertFrom-Json } while ($s.Time -eq $last -and [DateTime]::UtcNow -lt $deadline)
            $s.Result | Should -Be 'Failed'
            $s.Error | Should -Not -BeNullOrEmpty
            (Get-Snapshots $sched).FullName | Should -Be $before
            (Get-EtcdBackup -Cluster $name).LastError | Should -Be $s.Error
        }
        finally { docker start $c.Members[0].ContainerName | Out-Null }
    }

    It 'Unregister leaves no cron line and no job script, and the user''s lines byte for byte' {
        Unregister-EtcdBackup -Cluster $name -WhatIf
        Get-Crontab | Should -BeLike "*# k3detcd-backup $name*"
        Unregister-EtcdBackup -Cluster $name -Confirm:$false
        Get-Crontab | Should -BeExactly $userCrontab
        Get-ChildItem (Join-Path $xdg 'k3detcd/backups') -Filter "$name*" | Should -BeNullOrEmpty
        Get-EtcdBackup -Cluster $name | Should -BeNullOrEmpty
        $err = $null; try { Unregister-EtcdBackup -Cluster $name -Confirm:$false -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -Be 'BackupScheduleNotFound,K3dEtcd.Commands.Etcd.UnregisterEtcdBackupCommand'
    }

    It 'reports a schedule whose newest good snapshot is older than two intervals, in Get-EtcdBackup and Test-EtcdCluster' {
        $stale = Join-Path $dir 'stale'; New-Item -ItemType Directory $stale | Out-Null
        $s = Save-EtcdSnapshot -Cluster $name -Directory $stale
        $oldName = "$name-r$($s.Revision)-$([DateTime]::UtcNow.AddHours(-3).ToString("yyyyMMdd'T'HHmmss'Z'")).db"
        Move-Item $s.Path (Join-Path $stale $oldName)
        # Hourly: cron runs it only at minute 0, so nothing runs during this test.
        Register-EtcdBackup -Cluster $name -Directory $stale -Every 01:00:00 -Keep 3 | Out-Null
        try {
            $b = Get-EtcdBackup -Cluster $name
            $b.Overdue | Should -BeTrue
            $b.NewestFile | Should -Be (Join-Path $stale $oldName)
            $null = Test-EtcdCluster -Cluster $name -WarningVariable w 3>$null
            ($w -join ' ') | Should -BeLike "*backups of '$name' are overdue*"
        }
        finally { Unregister-EtcdBackup -Cluster $name -Confirm:$false }
        Get-Crontab | Should -BeExactly $userCrontab
    }
}
