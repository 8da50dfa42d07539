<#
.SYNOPSIS
    Data plane benchmarks, each against etcdctl measured in the same run:
      reads:  Get-EtcdKey -Prefix over 10k, 100k and 200k keys piped to Measure-Object, vs
              `etcdctl get --prefix` (wall time ratio, and peak memory of each process:
              ours must stay flat as the key count grows);
      writes: 10k objects piped into Set-EtcdKey, vs `etcdctl put` once per key (run for
              -EtcdctlPuts keys and extrapolated to 10k) and vs one `etcdctl txn` of 10k puts.
    Each size runs in a fresh real pwsh process that imports the staged module (as a user's session
    would), so peak working sets are per size; in it etcdctl (via bash, output to /dev/null) and
    Get-EtcdKey alternate so both see the same machine load. "first" is the first full-size
    Get-EtcdKey in that session (after one tiny Get-EtcdKey and one pipeline of as many integers
    into Measure-Object, which warms PowerShell's own pipeline code), "warm" the median of the
    -Runs repeats right after it, "steady" the median of -Runs more after -SteadyObjects objects
    have been read untimed (as in a session that has used the module for a while), each against
    the etcdctl runs of its own phase.
    -NoTieredCompilation runs the child sessions with DOTNET_TieredCompilation=0 (every method
    compiled optimized at first use): a diagnostic that shows how much of a fresh session's time is
    .NET's tiered JIT warming PowerShell's pipeline rather than the module's work.
    Run: dotnet pwsh -NoProfile -c './bench/data-plane.ps1 -ReadSizes 10000,100000 -Runs 3'
    (-c, not -File, so that array arguments bind).
#>
param(
    [int[]] $ReadSizes = @(10000, 100000, 200000),
    [int] $Runs = 5,
    [int] $WriteKeys = 10000,
    [int] $EtcdctlPuts = 1000,
    [int] $ValueBytes = 100,
    [switch] $NoTieredCompilation,
    # Objects read (untimed) between the early and the steady measurements.
    [int] $SteadyObjects = 400000
)
$ErrorActionPreference = 'Stop'
$root = Split-Path $PSScriptRoot
$version = (Import-PowerShellDataFile "$root/K3dEtcd.psd1").ModuleVersion
$manifest = "$root/out/K3dEtcd/$version/K3dEtcd.psd1"
if (-not $env:K3DETCD_ETCD_IMAGE) { $env:K3DETCD_ETCD_IMAGE = 'k3detcd/etcd:3.4.23' }
if (-not $env:K3DETCD_PULL_POLICY) { $env:K3DETCD_PULL_POLICY = 'Never' }
$env:ETCDCTL_API = '3'
Import-Module $manifest
$self = [Environment]::ProcessPath
$prefix = @()
if ([IO.Path]::GetFileNameWithoutExtension($self) -eq 'dotnet') { $prefix = @(Join-Path $PSHOME 'pwsh.dll') }

function Get-Median([double[]] $x) { $s = $x | Sort-Object; if ($s.Count % 2) { $s[[int][math]::Floor($s.Count / 2)] } else { ($s[$s.Count / 2 - 1] + $s[$s.Count / 2]) / 2 } }

# Runs a script in a fresh pwsh with the module imported; the script prints one JSON line.
function Invoke-Child([string] $script) {
    $env:DOTNET_TieredCompilation = if ($NoTieredCompilation) { '0' } else { $null }
    $out = & $self @prefix -NoProfile -NonInteractive -Command "`$ErrorActionPreference='Stop'; Import-Module '$manifest'; $script"
    if ($LASTEXITCODE -ne 0) { throw "child pwsh failed: $out" }
    $out | Select-Object -Last 1 | ConvertFrom-Json
}

# Wall seconds and peak RSS (KiB) of a shell command, from GNU time.
function Measure-Shell([string] $command) {
    $tmp = New-TemporaryFile
    try {
        /usr/bin/time -f '%e %M' -o $tmp bash -c $command
        if ($LASTEXITCODE -ne 0) { throw "failed: $command" }
        $e, $m = (Get-Content $tmp -Raw).Trim().Split(' ')
        [pscustomobject]@{ Seconds = [double]$e; PeakKiB = [long]$m }
    } finally { Remove-Item $tmp }
}

$name = "bench-dp-$([guid]::NewGuid().ToString('N').Substring(0, 6))"
Write-Host "Creating $name (3 members, --max-txn-ops=$WriteKeys so one etcdctl txn can hold every put)..."
$cluster = New-EtcdCluster $name -ExtraArgument "--max-txn-ops=$WriteKeys" -ProgressAction SilentlyContinue
try {
    $ep = $cluster.Endpoints[0]
    $value = 'v' * $ValueBytes
    $results = [ordered]@{ Date = (Get-Date).ToUniversalTime().ToString('yyyy-MM-dd HH:mm') + ' UTC'; Cluster = "3 x etcd $($cluster.Version)"; TieredCompilation = -not $NoTieredCompilation; Reads = @(); Writes = $null }

    # Reads: populate each prefix (not measured), then alternate etcdctl and our child runs.
    foreach ($n in $ReadSizes) {
        Write-Host "Writing $n keys under /r$n/ ..."
        # Through the module's own batched Set-EtcdKey (the services live in the module's private load context).
        & { for ($i = 0; $i -lt $n; $i++) { [pscustomobject]@{ Key = ('/r{0}/{1:D7}' -f $n, $i); Value = $value } } } |
            Set-EtcdKey -Endpoint $ep -TimeoutSeconds 60

        # One child session per size: a tiny warm-up call, then etcdctl and Get-EtcdKey alternate, so
        # both see the same machine load. etcdctl runs under GNU time (peak RSS), its output to /dev/null.
        $child = Invoke-Child @"
`$null = Get-EtcdKey -Endpoint '$ep' -Key /r$n/ -Prefix -Limit 10
# PowerShell's own pipeline, warmed without the module: the PowerShell .NET tool ships IL only (no
# ReadyToRun code), so its first 100k-object pipeline of any kind pays ~0.5 s of JIT.
`$null = (1..$n | Measure-Object).Count
`$tmp = [IO.Path]::GetTempFileName()

[GC]::Collect()
`$alloc0 = [GC]::GetTotalAllocatedBytes(`$true)
function Measure-Round([int] `$rounds, [switch] `$SkipFirstEtcdctl) {
    `$r = @{ Ctl = @(); Ours = @() }
    for (`$i = 0; `$i -lt `$rounds; `$i++) {
        `$sw = [Diagnostics.Stopwatch]::StartNew()
        /usr/bin/time -f '%M' -o `$tmp bash -c "exec etcdctl --endpoints $ep get /r$n/ --prefix > /dev/null"
        if (`$i -gt 0 -or -not `$SkipFirstEtcdctl) { `$r.Ctl += `$sw.Elapsed.TotalSeconds; `$script:ctlPeak += [long](Get-Content `$tmp -Raw).Trim() }
        `$sw.Restart()
        `$script:count = (Get-EtcdKey -Endpoint '$ep' -Key /r$n/ -Prefix | Measure-Object).Count
        `$r.Ours += `$sw.Elapsed.TotalSeconds
    }
    `$r
}
`$ctlPeak = @()
`$early = Measure-Round ($Runs + 1) -SkipFirstEtcdctl
`$allocPerKey = ([GC]::GetTotalAllocatedBytes(`$true) - `$alloc0) / (`$count * ($Runs + 1))
# Until about $SteadyObjects objects have gone through the pipeline: .NET's tiered JIT (with PGO) has
# then moved PowerShell's per-object pipeline code to optimized code (a 10k read drops from ~110
# to ~45 ms after some 26 calls here; with DOTNET_TieredCompilation=0 it is ~40 ms from the first).
for (`$seen = 0; `$seen -lt $SteadyObjects; `$seen += $n) { `$null = (Get-EtcdKey -Endpoint '$ep' -Key /r$n/ -Prefix | Measure-Object).Count }
`$steady = Measure-Round $Runs
Remove-Item `$tmp
`$p = [Diagnostics.Process]::GetCurrentProcess()
@{ Count = `$count; Ours = `$early.Ours; Etcdctl = `$early.Ctl; SteadyOurs = `$steady.Ours; SteadyEtcdctl = `$steady.Ctl; EtcdctlPeakKiB = `$ctlPeak; AllocPerKey = `$allocPerKey; PeakMiB = `$p.PeakWorkingSet64 / 1MB } | ConvertTo-Json -Compress
"@
        if ($child.Count -ne $n) { throw "Get-EtcdKey returned $($child.Count) keys, expected $n" }
        $first = $child.Ours[0]; $warm = Get-Median ($child.Ours | Select-Object -Skip 1)
        $ctlMedian = Get-Median $child.Etcdctl
        $steady = Get-Median $child.SteadyOurs; $steadyCtl = Get-Median $child.SteadyEtcdctl
        $row = [pscustomobject]@{
            Keys = $n; EtcdctlSeconds = [math]::Round($ctlMedian, 3); OursFirstSeconds = [math]::Round($first, 3); OursWarmSeconds = [math]::Round($warm, 3)
            RatioWarm = [math]::Round($warm / $ctlMedian, 2); RatioFirst = [math]::Round($first / $ctlMedian, 2)
            SteadyEtcdctlSeconds = [math]::Round($steadyCtl, 3); OursSteadySeconds = [math]::Round($steady, 3); RatioSteady = [math]::Round($steady / $steadyCtl, 2)
            OursPeakMiB = [math]::Round($child.PeakMiB, 1); EtcdctlPeakMiB = [math]::Round((Get-Median $child.EtcdctlPeakKiB) / 1024, 1)
            OursAllocBytesPerKey = [math]::Round($child.AllocPerKey)
        }
        $results.Reads += $row
        $row | Format-List | Out-String | Write-Host
    }

    # Writes.
    Write-Host "etcdctl put x $EtcdctlPuts ..."
    $perKey = Measure-Shell "for i in `$(seq 1 $EtcdctlPuts); do etcdctl --endpoints $ep put /e/`$i $value > /dev/null || exit 1; done"
    $txnFile = New-TemporaryFile
    try {
        $lines = [System.Collections.Generic.List[string]]::new()
        $lines.Add('')   # no compares
        for ($i = 1; $i -le $WriteKeys; $i++) { $lines.Add("put /t/$i $value") }
        $lines.Add(''); $lines.Add('')
        Set-Content $txnFile $lines
        Write-Host "etcdctl txn with $WriteKeys puts ..."
        $txn = Measure-Shell "etcdctl --endpoints $ep txn < $txnFile > /dev/null"
    } finally { Remove-Item $txnFile }
    Write-Host "Set-EtcdKey with $WriteKeys piped objects ..."
    $ours = Invoke-Child @"
1..200 | ForEach-Object { [pscustomobject]@{ Key = "/warm/`$_"; Value = 'x' } } | Set-EtcdKey -Endpoint '$ep'
`$sw = [Diagnostics.Stopwatch]::StartNew()
1..$WriteKeys | ForEach-Object { [pscustomobject]@{ Key = "/s/`$_"; Value = '$value' } } | Set-EtcdKey -Endpoint '$ep'
`$piped = `$sw.Elapsed.TotalSeconds
`$objects = 1..$WriteKeys | ForEach-Object { [pscustomobject]@{ Key = "/p/`$_"; Value = '$value' } }
`$sw.Restart()
`$objects | Set-EtcdKey -Endpoint '$ep'
@{ Piped = `$piped; Prebuilt = `$sw.Elapsed.TotalSeconds } | ConvertTo-Json -Compress
"@
    $count = (etcdctl --endpoints $ep get /s/ --prefix --keys-only -w json | ConvertFrom-Json).count
    if ($count -ne $WriteKeys) { throw "Set-EtcdKey wrote $count keys, expected $WriteKeys" }
    $perKeyExtrapolated = $perKey.Seconds * $WriteKeys / $EtcdctlPuts
    $results.Writes = [pscustomobject]@{
        Keys = $WriteKeys; EtcdctlPuts = $EtcdctlPuts; EtcdctlPutSeconds = $perKey.Seconds; EtcdctlPutExtrapolatedSeconds = $perKeyExtrapolated
        EtcdctlTxnSeconds = $txn.Seconds; OursPipedSeconds = $ours.Piped; OursPrebuiltSeconds = $ours.Prebuilt
        SpeedupVsPutPerKey = $perKeyExtrapolated / $ours.Piped; RatioVsOneTxn = $ours.Piped / $txn.Seconds
    }
    $results.Writes | Format-List | Out-String | Write-Host
    [pscustomobject]$results | ConvertTo-Json -Depth 4
} finally {
    Remove-EtcdCluster -Name $name -Force -Confirm:$false
}
