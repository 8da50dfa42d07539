# demo/Demo.ps1 runs to completion, and leaves nothing behind: when it completes, when it fails half
# way, and when it is stopped with Ctrl+C (SIGINT to its pwsh). Checked with the docker CLI, not the module.
BeforeAll {
    . "$PSScriptRoot/TestHelpers.ps1"
    Assert-DockerAvailable
    $script:demo = Join-Path $PSScriptRoot '../../demo/Demo.ps1'

    # The demo in its own pwsh, its output going to a file (read while it runs); bash execs pwsh so
    # the process id is pwsh's own, for the SIGINT.
    function Start-Demo([string] $Prefix, [string[]] $DemoArgs) {
        $pwsh = Get-FreshPwsh
        $log = Join-Path ([IO.Path]::GetTempPath()) "$Prefix.log"
        $psi = [Diagnostics.ProcessStartInfo]::new('bash')
        $command = "Import-Module '$script:ModulePath'; & '$script:demo' -Prefix $Prefix $($DemoArgs -join ' ')"
        foreach ($a in @('-c', 'exec "$@" >"$K3DETCD_DEMO_LOG" 2>&1', 'bash', $pwsh.File) + @($pwsh.Prefix) + @('-NoProfile', '-NonInteractive', '-Command', $command)) { $psi.ArgumentList.Add($a) }
        $psi.Environment['K3DETCD_DEMO_LOG'] = $log
        [pscustomobject]@{ Process = [Diagnostics.Process]::Start($psi); Log = $log }
    }
    function Get-DemoOutput($Run) { if (Test-Path $Run.Log) { Get-Content $Run.Log } }

    # Everything of the demo's three clusters, asked of docker and the file system.
    function Get-DemoLeftover([string] $Prefix) {
        foreach ($name in $Prefix, "$Prefix-v2", "$Prefix-tls") {
            Get-LabelledDockerObject $name
            $data = if ($env:XDG_DATA_HOME -and [IO.Path]::IsPathRooted($env:XDG_DATA_HOME)) { $env:XDG_DATA_HOME } else { Join-Path $HOME '.local/share' }
            $dir = Join-Path $data "k3detcd/clusters/$name"
            if (Test-Path $dir) { $dir }
        }
    }
}

Describe 'demo/Demo.ps1' -Tag Docker {
    It 'runs every step to completion, shows follower latency in milliseconds, and removes what it created' {
        $prefix = New-TestName 'demo'
        $run = Start-Demo $prefix @()
        $run.Process.WaitForExit(420000) | Should -BeTrue
        $run.Process.WaitForExit()
        $lines = @(Get-DemoOutput $run | ForEach-Object { $_ -replace '\e\[[0-9;]*[A-Za-z]', '' })
        $text = $lines -join "`n"
        $run.Process.ExitCode | Should -Be 0 -Because $text
        foreach ($n in 1..7) { $text | Should -Match "(?m)^== $n\. " }
        $text | Should -Match 'Old leader \S+ was killed; the new leader is \S+\.'
        $text | Should -Match 'Nothing is left'
        $text | Should -Not -Match 'Left behind'
        # Step 3's two tables: every follower's average latency in milliseconds (the object holds seconds; a table
        # of seconds showed a loopback round trip as 0.00), above zero and under a second.
        foreach ($source in 'v2', 'metrics') {
            $at = [array]::FindIndex([string[]]$lines, [Predicate[string]] { param($l) $l -match "source: $source$" })
            $at | Should -BeGreaterOrEqual 0 -Because "the demo shows the $source leader stats"
            $header = $lines[($at + 1)..($at + 4)] | Where-Object { $_ -match 'Average \(ms\)' } | Select-Object -First 1
            $header | Should -Not -BeNullOrEmpty -Because 'the latency columns say their unit'
            $start = $header.IndexOf('Average (ms)'); $end = $start + 'Average (ms)'.Length
            $rows = @($lines[($at + 3)..($at + 6)] | Where-Object { $_ -match "^$([regex]::Escape($prefix))" })
            $rows | Should -HaveCount 2
            foreach ($row in $rows) {
                $cell = $row.PadRight($end).Substring($start, $end - $start).Trim()
                $cell | Should -Match '^\d+\.\d{3}$' -Because "the row reads '$row' under '$header'"
                [double]$cell | Should -BeGreaterThan 0
                [double]$cell | Should -BeLessThan 1000
            }
        }
        Get-DemoLeftover $prefix | Should -BeNullOrEmpty
    }

    It 'stops half way on a failure and removes what it created' {
        $prefix = New-TestName 'demo'
        $run = Start-Demo $prefix @('-FailAfter', 'tls')
        $run.Process.WaitForExit(300000) | Should -BeTrue
        $run.Process.WaitForExit()
        $text = (Get-DemoOutput $run) -join "`n"
        $run.Process.ExitCode | Should -Not -Be 0
        $text | Should -Match "stopped on purpose after step 'tls'"
        # It got as far as the TLS cluster (so there was something to remove) and removed all three.
        $text | Should -Match "New-EtcdCluster $prefix-tls -Tls"
        $text | Should -Match "Remove-EtcdCluster $prefix, $prefix-v2, $prefix-tls -Force"
        $text | Should -Match 'Nothing is left'
        Get-DemoLeftover $prefix | Should -BeNullOrEmpty
    }

    It 'removes what it created when stopped with Ctrl+C' {
        $prefix = New-TestName 'demo'
        $run = Start-Demo $prefix @('-PauseAfter', 'data')
        $deadline = [DateTime]::UtcNow.AddSeconds(90)
        while (-not ((Get-DemoOutput $run) -contains 'PAUSED') -and [DateTime]::UtcNow -lt $deadline -and -not $run.Process.HasExited) { Start-Sleep -Milliseconds 200 }
        Get-DemoOutput $run | Should -Contain 'PAUSED'
        @(docker ps -q --filter "label=io.k3detcd.cluster=$prefix").Count | Should -Be 3 -Because 'the cluster exists while the demo waits'
        kill -INT $run.Process.Id
        $run.Process.WaitForExit(60000) | Should -BeTrue
        $run.Process.WaitForExit()
        $text = (Get-DemoOutput $run) -join "`n"
        $text | Should -Match 'Nothing is left'
        $text | Should -Not -Match "New-EtcdCluster $prefix-v2"
        Get-DemoLeftover $prefix | Should -BeNullOrEmpty
    }
}
