<#
.SYNOPSIS
    Snapshot save and restore against the etcd tools: Save-EtcdSnapshot vs `etcdctl snapshot
    save` on the same cluster, our peak memory at two database sizes, and Restore-EtcdSnapshot
    (3 members to a healthy quorum) vs bench/restore-reference.sh (the image's tools and docker run).
.DESCRIPTION
    Fills a 3-member cluster with -SizeMB of 8 KiB values (in two steps, a quarter first, for the
    memory figure), then alternates the runs so machine load affects both sides alike. Peak
    memory of a save is the peak working set of a fresh pwsh that imports the module and saves
    once (pwsh alone is measured the same way for the baseline). Never pulls images.
    Run: dotnet pwsh -NoProfile ./bench/snapshot.ps1 [-SizeMB 100] [-Runs 3]
#>
param([int] $SizeMB = 100, [int] $Runs = 3)
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$root = Split-Path $PSScriptRoot
$version = (Import-PowerShellDataFile "$root/K3dEtcd.psd1").ModuleVersion
$manifest = "$root/out/K3dEtcd/$version/K3dEtcd.psd1"
Import-Module $manifest
$image = if ($env:K3DETCD_ETCD_IMAGE) { $env:K3DETCD_ETCD_IMAGE } else { 'k3detcd/etcd:3.4.23' }
$env:ETCDCTL_API = '3'
$dir = (New-Item -ItemType Directory -Path (Join-Path ([IO.Path]::GetTempPath()) "snapbench-$PID")).FullName
$name = "snapbench-$PID"
$pwshExe = [Environment]::ProcessPath
$pwshPrefix = @(if ([IO.Path]::GetFileNameWithoutExtension($pwshExe) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' })

function Get-Median([double[]] $x) { $s = $x | Sort-Object; if ($s.Count % 2) { $s[[int][math]::Floor($s.Count / 2)] } else { ($s[$s.Count / 2 - 1] + $s[$s.Count / 2]) / 2 } }
function Add-Data([int] $From, [int] $To) {
    $value = 'v' * 8192
    $From..($To - 1) | ForEach-Object { [pscustomobject]@{ Key = "/bench/{0:D7}" -f $_; Value = $value } } | Set-EtcdKey -Cluster $name
}
# Peak working set (MiB) of a fresh pwsh that runs $Script (after importing the module when $Module).
function Measure-FreshPeak([string] $Script, [switch] $Module) {
    $import = if ($Module) { "Import-Module '$manifest'; " } else { '' }
    $out = & $pwshExe @pwshPrefix -NoProfile -NonInteractive -Command "`$ProgressPreference='SilentlyContinue'; $import$Script; [Diagnostics.Process]::GetCurrentProcess().PeakWorkingSet64"
    if ($LASTEXITCODE -ne 0) { throw "fresh pwsh failed: $out" }
    [math]::Round([long]($out | Select-Object -Last 1) / 1MB)
}

try {
    $c = New-EtcdCluster $name -Size 3 -Image $image -PullPolicy Never
    $keys = [int]($SizeMB * 1024 / 8)
    $quarter = [int]($keys / 4)
    Add-Data 0 $quarter
    $small = Save-EtcdSnapshot -Cluster $name -Path "$dir/small.db"
    $peakSmall = Measure-FreshPeak "Save-EtcdSnapshot -Cluster $name -Path '$dir/peak-small.db' | Out-Null" -Module
    Add-Data $quarter $keys
    $endpoint = $c.Endpoints[0]

    $ours = @(); $theirs = @()
    for ($i = 1; $i -le $Runs; $i++) {
        $sw = [Diagnostics.Stopwatch]::StartNew()
        $snap = Save-EtcdSnapshot -Cluster $name -Path "$dir/ours-$i.db"
        $ours += $sw.Elapsed.TotalSeconds
        $sw.Restart()
        $out = etcdctl --endpoints $endpoint snapshot save "$dir/etcdctl-$i.db" 2>&1
        if ($LASTEXITCODE -ne 0) { throw "etcdctl snapshot save failed: $out" }
        $theirs += $sw.Elapsed.TotalSeconds
        'save {0}: Save-EtcdSnapshot {1:n2} s, etcdctl snapshot save {2:n2} s ({3:n0} MiB)' -f $i, $ours[-1], $theirs[-1], ($snap.Size / 1MB)
        if ($i -lt $Runs) { Remove-Item "$dir/ours-$i.db", "$dir/etcdctl-$i.db" }
    }
    $peakLarge = Measure-FreshPeak "Save-EtcdSnapshot -Cluster $name -Path '$dir/peak-large.db' | Out-Null" -Module
    $peakBase = Measure-FreshPeak "Import-Module '$manifest'; Get-EtcdMember -Cluster $name | Out-Null"
    $mo = Get-Median $ours; $mt = Get-Median $theirs
    'save median: ours {0:n2} s, etcdctl {1:n2} s, ratio {2:n2}x; snapshot {3:n0} MiB' -f $mo, $mt, ($mo / $mt), ($snap.Size / 1MB)
    'save peak working set: {0} MiB at {1:n0} MiB, {2} MiB at {3:n0} MiB (pwsh + module + Get-EtcdMember: {4} MiB)' -f $peakSmall, ($small.Size / 1MB), $peakLarge, ($snap.Size / 1MB), $peakBase

    $snapshotFile = $snap.Path
    Remove-EtcdCluster $name -Force
    $ref = Join-Path $PSScriptRoot 'restore-reference.sh'
    $rOurs = @(); $rTheirs = @()
    for ($i = 1; $i -le $Runs; $i++) {
        $sw = [Diagnostics.Stopwatch]::StartNew()
        $null = Restore-EtcdSnapshot $snapshotFile -Name "rb$i-$PID" -Size 3 -Image $image -PullPolicy Never
        $rOurs += $sw.Elapsed.TotalSeconds
        Remove-EtcdCluster "rb$i-$PID" -Force
        $sw.Restart()
        bash $ref "rr$i-$PID" $image $snapshotFile
        if ($LASTEXITCODE -ne 0) { throw 'reference script failed' }
        $rTheirs += $sw.Elapsed.TotalSeconds
        bash $ref --rm "rr$i-$PID"
        'restore {0}: Restore-EtcdSnapshot {1:n2} s, shell script {2:n2} s' -f $i, $rOurs[-1], $rTheirs[-1]
    }
    $mo = Get-Median $rOurs; $mt = Get-Median $rTheirs
    'restore median: ours {0:n2} s, shell script {1:n2} s, ratio {2:n2}x' -f $mo, $mt, ($mo / $mt)
}
finally {
    Remove-EtcdCluster $name -Force -ErrorAction Ignore
    Get-EtcdCluster | Where-Object Name -like "rb*-$PID" | Remove-EtcdCluster -Force -ErrorAction Ignore
    for ($i = 1; $i -le $Runs; $i++) { bash (Join-Path $PSScriptRoot 'restore-reference.sh') --rm "rr$i-$PID" }
    Remove-Item -Recurse -Force $dir -ErrorAction Ignore
}
