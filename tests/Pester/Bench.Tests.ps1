BeforeAll {
    . "$PSScriptRoot/TestHelpers.ps1"
    Assert-DockerAvailable
}

# A smoke test of the benchmark task (tiny sizes, one run): the full `build.ps1 Bench` is run by
# hand on a quiet machine, but it must never break unnoticed.
Describe 'build.ps1 Bench -Quick' -Tag Docker {
    It 'prints one table with every benchmarked path, cold (also in a precompiled pwsh) and warm, and leaves nothing in Docker' {
        $pwsh = Get-FreshPwsh
        # The names bench/bench.ps1 gives (its clusters and the reference script's containers).
        $ours = '^bench-((w|c|rw|rc)\d+|dp)-[0-9a-f]{6}'
        $before = @(docker ps -a --format '{{.Names}}' | Where-Object { $_ -match $ours })
        $out = & $pwsh.File @($pwsh.Prefix) -NoProfile -NonInteractive -File "$PSScriptRoot/../../build.ps1" Bench -Quick -NoBuild 2>$null
        $LASTEXITCODE | Should -Be 0 -Because ($out -join "`n")
        $lines = @($out | ForEach-Object { "$_" })
        $lines | Should -Contain '| path | reference | warm | cold | cold, precompiled pwsh | target warm | target cold | load |'
        $rows = @($lines | Where-Object { $_ -like '| *' -and $_ -notlike '| path |*' })
        $rows | Should -HaveCount 5 -Because ($lines -join "`n")
        $rows[0] | Should -BeLike '| New-EtcdCluster -Size 3 to a healthy quorum | 3 ?docker run?*| *x (* s vs * s); slowest of 1 * | *x (* s vs * s) | *x (* s vs * s) |*'
        $rows[1] | Should -BeLike '| 500 piped Set-EtcdKey | one ?etcdctl txn? of 500 puts | *x (* s vs * s) | *x (* s vs * s) | *x (* s vs * s) |*'
        $rows[2] | Should -BeLike '| Get-EtcdKey -Prefix, 2000 keys | ?etcdctl get --prefix? | *x (* s vs * s) | *x (* s vs * s) | *x (* s vs * s) |*'
        $rows[3] | Should -BeLike '| Get-EtcdKey -Prefix, 200 keys | ?etcdctl get --prefix? | *x (* s vs * s) | *x (* s vs * s) | *x (* s vs * s) |*'
        $rows[4] | Should -BeLike '| peak memory of the reading session | its own 200 figure | * MiB at 200, * MiB at 2000 (*%), after as many objects (4,000); after 2 reads each: * MiB at 200 (*%); baseline * MiB*'
        $lines | Where-Object { $_ -like '## * UTC, * cores, *QUICK*' } | Should -HaveCount 1
        @(docker ps -a --format '{{.Names}}' | Where-Object { $_ -match $ours }) | Should -Be $before
    }
}
