# demo/Demo.ps1 leaves nothing behind: when it completes, when it fails half way, and when it is
# stopped with Ctrl+C (SIGINT to its pwsh). Checked with the docker CLI, not the module.
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
