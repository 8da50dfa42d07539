<#
.SYNOPSIS
    Every path of the issue "ahead of the command-line tools", cold and warm, against its reference
    in the same run; prints one Markdown table of ratios to paste into bench/RESULTS.md.
.DESCRIPTION
    Paths: New-EtcdCluster -Size 3 to a healthy quorum (vs bench/cluster-start-reference.sh: three
    `docker run` and `etcdctl endpoint health` polling); piped Set-EtcdKey (vs one `etcdctl txn` of
    as many puts); Get-EtcdKey -Prefix at two sizes (vs `etcdctl get --prefix`); peak working set of
    the reading session at both sizes.
    warm: in one pwsh session that has already run the command once (untimed), -Runs timed runs
         alternating with the reference (so machine load hits both alike), medians compared.
    cold: a new pwsh per sample (the first command of a session, as a script or a new terminal gets
         it), timed by a Stopwatch inside that first command, so starting pwsh and importing the
         module are left out (bench/import-time.ps1 measures those); each sample alternates with a
         run of the reference. The references are whole processes, always cold.
    cold, precompiled pwsh: the same cold samples in a copy of the pwsh with PowerShell's own
         assemblies precompiled, as pwsh's installed packages ship them (bench/precompiled-pwsh.ps1;
         the pinned `dotnet pwsh` tool is IL only). Each sample alternates with the others.
    Every figure is a median; the load average (1 min) is read before every sample and shown as its
    range. -Quick runs tiny sizes once: a smoke test of this script (CI), not a measurement.
    Run: dotnet pwsh ./build.ps1 Bench         (builds, then runs this script)
         dotnet pwsh -NoProfile ./bench/bench.ps1 [-Runs 7] [-Quick]
#>
[CmdletBinding()]
param(
    [int] $Runs = 7,
    [int] $SmallRead = 10000,
    [int] $LargeRead = 100000,
    [int] $WriteKeys = 10000,
    [int] $ValueBytes = 100,
    [switch] $Quick,
    # The module manifest to measure (default: the staged build).
    [string] $Manifest,
    # pwsh.dll of a precompiled pwsh for the "cold, precompiled pwsh" column (default: made by
    # bench/precompiled-pwsh.ps1 on linux-x64; 'none' leaves the column out).
    [string] $PrecompiledPwsh
)
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$root = Split-Path $PSScriptRoot
if (-not $Manifest) {
    $version = (Import-PowerShellDataFile "$root/K3dEtcd.psd1").ModuleVersion
    $Manifest = "$root/out/K3dEtcd/$version/K3dEtcd.psd1"
}
if ($Quick) { $Runs = 1; $SmallRead = 200; $LargeRead = 2000; $WriteKeys = 500 }
if (-not $env:K3DETCD_ETCD_IMAGE) { $env:K3DETCD_ETCD_IMAGE = 'k3detcd/etcd:3.4.23' }
if (-not $env:K3DETCD_PULL_POLICY) { $env:K3DETCD_PULL_POLICY = 'Never' }
$env:ETCDCTL_API = '3'
$image = $env:K3DETCD_ETCD_IMAGE
Import-Module $Manifest
$self = [Environment]::ProcessPath
$prefix = @()
if ([IO.Path]::GetFileNameWithoutExtension($self) -eq 'dotnet') { $prefix = @(Join-Path $PSHOME 'pwsh.dll') }
$toolPwsh = @($self) + $prefix
if (-not $PrecompiledPwsh -and $IsLinux -and [Runtime.InteropServices.RuntimeInformation]::OSArchitecture -eq 'X64') {
    $PrecompiledPwsh = & "$PSScriptRoot/precompiled-pwsh.ps1"
}
$precompiled = if ($PrecompiledPwsh -and $PrecompiledPwsh -ne 'none') { @((Get-Command dotnet).Source, $PrecompiledPwsh) } else { $null }
$reference = Join-Path $PSScriptRoot 'cluster-start-reference.sh'
$tag = [guid]::NewGuid().ToString('N').Substring(0, 6)
$loads = @{}

# Progress to stderr: stdout is the table.
function Write-Step([string] $text) { [Console]::Error.WriteLine($text) }
function Get-Median([double[]] $x) { $s = @($x | Sort-Object); if ($s.Count % 2) { $s[[int][math]::Floor($s.Count / 2)] } else { ($s[$s.Count / 2 - 1] + $s[$s.Count / 2]) / 2 } }
function Get-Load { [double]((Get-Content /proc/loadavg -Raw).Split(' ')[0]) }
function Add-Load([string] $path) { if (-not $loads[$path]) { $loads[$path] = [Collections.Generic.List[double]]::new() }; $loads[$path].Add((Get-Load)) }
function Format-Load([string] $path) { $l = $loads[$path] | Measure-Object -Minimum -Maximum; '{0:0.#}-{1:0.#}' -f $l.Minimum, $l.Maximum }

# A fresh pwsh that imports the module and runs $Script; its last output line is JSON.
function Invoke-Child([string] $Script, [string[]] $Pwsh = $toolPwsh) {
    $out = & $Pwsh[0] @($Pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -Command "`$ErrorActionPreference='Stop'; `$ProgressPreference='SilentlyContinue'; Import-Module '$Manifest'; $Script"
    if ($LASTEXITCODE -ne 0) { throw "child pwsh failed: $($out -join "`n")" }
    $out | Select-Object -Last 1 | ConvertFrom-Json
}

function Measure-Bash([string] $command) {
    $sw = [Diagnostics.Stopwatch]::StartNew()
    bash -c $command
    if ($LASTEXITCODE -ne 0) { throw "failed: $command" }
    $sw.Elapsed.TotalSeconds
}

# One cold sample in the precompiled pwsh too, when there is one.
function Invoke-PrecompiledChild([string] $Script) { if ($precompiled) { (Invoke-Child $Script -Pwsh $precompiled).T } }

function New-Row([string] $Path, [string] $Reference, [double[]] $WarmOurs, [double[]] $WarmRef, [double[]] $ColdOurs, [double[]] $ColdRef, [string] $TargetWarm, [string] $TargetCold, [string] $WarmExtra, [double[]] $ColdPrecompiled) {
    $wo = Get-Median $WarmOurs; $wr = Get-Median $WarmRef; $co = Get-Median $ColdOurs; $cr = Get-Median $ColdRef
    $cp = if ($ColdPrecompiled) { Get-Median $ColdPrecompiled }
    [pscustomobject]@{
        Path = $Path; Reference = $Reference
        Warm = ('{0:n2}x ({1:n2} s vs {2:n2} s){3}' -f ($wo / $wr), $wo, $wr, $WarmExtra)
        Cold = ('{0:n2}x ({1:n2} s vs {2:n2} s)' -f ($co / $cr), $co, $cr)
        ColdPrecompiled = if ($cp) { '{0:n2}x ({1:n2} s vs {2:n2} s)' -f ($cp / $cr), $cp, $cr } else { 'not measured' }
        TargetWarm = $TargetWarm; TargetCold = $TargetCold; Load = Format-Load $Path
        WarmRatio = $wo / $wr; ColdRatio = $co / $cr
    }
}

$rows = [Collections.Generic.List[object]]::new()
$started = Get-Date

# ---------------------------------------------------------------- cluster start
$path = 'New-EtcdCluster -Size 3 to a healthy quorum'
Write-Step "$path ..."
function Invoke-Reference([string] $name) {
    $t = Measure-Bash "bash '$reference' '$name' '$image'"
    bash $reference --rm $name
    $t
}
# Warm: this session has created (and removed) a cluster once before the timed runs.
$null = New-EtcdCluster "bench-w0-$tag" -Image $image -PullPolicy Never
Remove-EtcdCluster "bench-w0-$tag" -Force
$wOurs = @(); $wRef = @(); $cOurs = @(); $cRef = @(); $pOurs = @()
for ($i = 1; $i -le $Runs; $i++) {
    Add-Load $path
    $sw = [Diagnostics.Stopwatch]::StartNew()
    $null = New-EtcdCluster "bench-w$i-$tag" -Image $image -PullPolicy Never
    $wOurs += $sw.Elapsed.TotalSeconds
    Remove-EtcdCluster "bench-w$i-$tag" -Force
    $wRef += Invoke-Reference "bench-rw$i-$tag"
    Add-Load $path
    $cold = "`$sw = [Diagnostics.Stopwatch]::StartNew(); `$null = New-EtcdCluster 'bench-c$i-$tag' -Image '$image' -PullPolicy Never; `$t = `$sw.Elapsed.TotalSeconds; Remove-EtcdCluster 'bench-c$i-$tag' -Force; @{ T = `$t } | ConvertTo-Json -Compress"
    $cOurs += (Invoke-Child $cold).T
    $cRef += Invoke-Reference "bench-rc$i-$tag"
    $pOurs += Invoke-PrecompiledChild $cold
}
$slowest = ($wOurs | Measure-Object -Maximum).Maximum
$rows.Add((New-Row $path '3 `docker run` + health polling (bench/cluster-start-reference.sh)' $wOurs $wRef $cOurs $cRef "≤ 1.0x, slowest of $Runs ≤ 1.3x the median" '≤ 1.3x' `
    ('; slowest of {0} {1:n2} s = {2:n2}x the median' -f $Runs, $slowest, ($slowest / (Get-Median $wOurs))) $pOurs))

# ---------------------------------------------------------------- data plane
$name = "bench-dp-$tag"
Write-Step "Creating $name (--max-txn-ops=$WriteKeys so one etcdctl txn can hold every put) ..."
$cluster = New-EtcdCluster $name -Image $image -PullPolicy Never -ExtraArgument "--max-txn-ops=$WriteKeys"
try {
    $ep = $cluster.Endpoints[0]
    $value = 'v' * $ValueBytes

    # Writes.
    $path = "$WriteKeys piped Set-EtcdKey"
    Write-Step "$path ..."
    $txnFile = Join-Path ([IO.Path]::GetTempPath()) "k3detcd-bench-txn-$tag.txt"
    Set-Content $txnFile (@('') + (1..$WriteKeys | ForEach-Object { "put /t/$_ $value" }) + @('', ''))
    $txn = "etcdctl --endpoints $ep txn < '$txnFile' > /dev/null"
    $pipe = "1..$WriteKeys | ForEach-Object { [pscustomobject]@{ Key = `"/s/`$_`"; Value = '$value' } } | Set-EtcdKey -Endpoint '$ep'"
    Add-Load $path
    $warm = Invoke-Child @"
$pipe
`$r = @{ Ours = @(); Ref = @() }
for (`$i = 0; `$i -lt $Runs; `$i++) {
    `$sw = [Diagnostics.Stopwatch]::StartNew(); bash -c "$txn"; `$r.Ref += `$sw.Elapsed.TotalSeconds
    `$sw.Restart(); $pipe; `$r.Ours += `$sw.Elapsed.TotalSeconds
}
`$r | ConvertTo-Json -Compress
"@
    $cOurs = @(); $cRef = @(); $pOurs = @()
    $cold = "`$sw = [Diagnostics.Stopwatch]::StartNew(); $pipe; @{ T = `$sw.Elapsed.TotalSeconds } | ConvertTo-Json -Compress"
    for ($i = 0; $i -lt $Runs; $i++) {
        Add-Load $path
        $cRef += Measure-Bash $txn
        $cOurs += (Invoke-Child $cold).T
        $pOurs += Invoke-PrecompiledChild $cold
    }
    Remove-Item $txnFile
    $written = (etcdctl --endpoints $ep get /s/ --prefix --keys-only -w json | ConvertFrom-Json).count
    if ($written -ne $WriteKeys) { throw "Set-EtcdKey wrote $written keys, expected $WriteKeys" }
    $rows.Add((New-Row $path "one ``etcdctl txn`` of $WriteKeys puts" $warm.Ours $warm.Ref $cOurs $cRef '≤ 1.0x' '≤ 1.3x' '' $pOurs))

    # Reads, large then small; each size's warm session also gives the peak working set.
    # The peak working set grows with the objects a session has read until the GC reaches its steady
    # heap (measured: 10k keys read 40 times peaks like 100k keys read 4 times), so the small session
    # also reads on, untimed, to as many objects as the large one: its peak then and after its timed
    # reads are both shown.
    $peaks = @{}
    $largeObjects = 0
    foreach ($size in $LargeRead, $SmallRead) {
        $path = "Get-EtcdKey -Prefix, $size keys"
        Write-Step "${path}: writing the keys ..."
        & { for ($i = 0; $i -lt $size; $i++) { [pscustomobject]@{ Key = ('/r{0}/{1:D7}' -f $size, $i); Value = $value } } } | Set-EtcdKey -Endpoint $ep -TimeoutSeconds 60
        $ctl = "etcdctl --endpoints $ep get /r$size/ --prefix > /dev/null"
        $read = "(Get-EtcdKey -Endpoint '$ep' -Key /r$size/ -Prefix | Measure-Object).Count"
        Add-Load $path
        $warm = Invoke-Child @"
`$null = Get-EtcdKey -Endpoint '$ep' -Key /r$size/ -Prefix -Limit 10
`$p = [Diagnostics.Process]::GetCurrentProcess(); `$p.Refresh(); `$base = `$p.PeakWorkingSet64
if ($read -ne $size) { throw 'wrong count' }
`$r = @{ Ours = @(); Ref = @(); BaseMiB = `$base / 1MB }
for (`$i = 0; `$i -lt $Runs; `$i++) {
    `$sw = [Diagnostics.Stopwatch]::StartNew(); bash -c "$ctl"; `$r.Ref += `$sw.Elapsed.TotalSeconds
    `$sw.Restart(); `$null = $read; `$r.Ours += `$sw.Elapsed.TotalSeconds
}
`$p.Refresh(); `$r.PeakMiB = `$p.PeakWorkingSet64 / 1MB
for (`$seen = ($Runs + 1) * $size; `$seen -lt $largeObjects; `$seen += $size) { `$null = $read }
`$p.Refresh(); `$r.PeakSameObjectsMiB = `$p.PeakWorkingSet64 / 1MB
`$r | ConvertTo-Json -Compress
"@
        $peaks[$size] = $warm
        if ($size -eq $LargeRead) { $largeObjects = ($Runs + 1) * $size }
        $cOurs = @(); $cRef = @(); $pOurs = @()
        $cold = "`$sw = [Diagnostics.Stopwatch]::StartNew(); `$n = $read; `$t = `$sw.Elapsed.TotalSeconds; if (`$n -ne $size) { throw 'wrong count' }; @{ T = `$t } | ConvertTo-Json -Compress"
        for ($i = 0; $i -lt $Runs; $i++) {
            Add-Load $path
            $cRef += Measure-Bash $ctl
            $cOurs += (Invoke-Child $cold).T
            $pOurs += Invoke-PrecompiledChild $cold
        }
        $targets = if ($size -eq $LargeRead) { '≤ 1.0x', '≤ 2.0x' } else { '≤ 1.5x', '≤ 3x' }
        $rows.Add((New-Row $path '`etcdctl get --prefix`' $warm.Ours $warm.Ref $cOurs $cRef $targets[0] $targets[1] '' $pOurs))
    }
    $small = $peaks[$SmallRead]; $large = $peaks[$LargeRead]
    $growth = ($large.PeakMiB - $small.PeakSameObjectsMiB) / $small.PeakSameObjectsMiB
    $rawGrowth = ($large.PeakMiB - $small.PeakMiB) / $small.PeakMiB
    $rows.Add([pscustomobject]@{
        Path = 'peak memory of the reading session'; Reference = "its own $SmallRead figure"
        Warm = ('{0:n0} MiB at {1}, {2:n0} MiB at {3} ({4:+0;-0}%), after as many objects ({5:n0}); after {6} reads each: {7:n0} MiB at {1} ({8:+0;-0}%); baseline {9:n0} MiB (pwsh, module, a 10-key read)' -f `
            $small.PeakSameObjectsMiB, $SmallRead, $large.PeakMiB, $LargeRead, (100 * $growth), $largeObjects, ($Runs + 1), $small.PeakMiB, (100 * $rawGrowth), $small.BaseMiB)
        Cold = ''; ColdPrecompiled = ''; TargetWarm = '≤ +20% from 10k to 100k, baseline stated'; TargetCold = ''; Load = ''; WarmRatio = 1 + $growth; ColdRatio = $null
    })
} finally {
    Remove-EtcdCluster -Name $name -Force -Confirm:$false
}

# ---------------------------------------------------------------- the table
$cores = [Environment]::ProcessorCount
$finished = Get-Date
"## $($started.ToUniversalTime().ToString('yyyy-MM-dd HH:mm')) UTC, $cores cores, $image$(if ($Quick) { ', QUICK (smoke test, not a measurement)' })"
''
"Command: ``$(if ($env:K3DETCD_BENCH_COMMAND) { $env:K3DETCD_BENCH_COMMAND } else { "bench/bench.ps1 -Runs $Runs$(if ($Quick) { ' -Quick' })" })``; $Runs runs per figure; $([math]::Round(($finished - $started).TotalMinutes, 1)) min; load average (1 min) per row."
''
'| path | reference | warm | cold | cold, precompiled pwsh | target warm | target cold | load |'
'|---|---|---|---|---|---|---|---|'
foreach ($r in $rows) { "| $($r.Path) | $($r.Reference) | $($r.Warm) | $($r.Cold) | $($r.ColdPrecompiled) | $($r.TargetWarm) | $($r.TargetCold) | $($r.Load) |" }
