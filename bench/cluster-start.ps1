<#
.SYNOPSIS
    Time to a healthy 3-member cluster: New-EtcdCluster vs a bare shell script doing three
    `docker run` and polling `etcdctl endpoint health` (bench/cluster-start-reference.sh).
.DESCRIPTION
    Runs the two alternately (so machine load affects both alike) and prints the medians and
    their ratio. Uses K3DETCD_ETCD_IMAGE (default the local k3detcd/etcd:3.4.23); never pulls.
    Run: dotnet pwsh -NoProfile ./bench/cluster-start.ps1 [-Runs 5]
#>
param([int] $Runs = 5)
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$root = Split-Path $PSScriptRoot
$version = (Import-PowerShellDataFile "$root/K3dEtcd.psd1").ModuleVersion
Import-Module "$root/out/K3dEtcd/$version/K3dEtcd.psd1"
$image = if ($env:K3DETCD_ETCD_IMAGE) { $env:K3DETCD_ETCD_IMAGE } else { 'k3detcd/etcd:3.4.23' }
$ref = Join-Path $PSScriptRoot 'cluster-start-reference.sh'

function Get-Median([double[]] $x) { $s = $x | Sort-Object; if ($s.Count % 2) { $s[[int][math]::Floor($s.Count / 2)] } else { ($s[$s.Count / 2 - 1] + $s[$s.Count / 2]) / 2 } }

$ours = @(); $theirs = @()
for ($i = 1; $i -le $Runs; $i++) {
    $name = "bench$i-$PID"
    $sw = [Diagnostics.Stopwatch]::StartNew()
    $null = New-EtcdCluster $name -Image $image -PullPolicy Never
    $ours += $sw.Elapsed.TotalSeconds
    Remove-EtcdCluster $name -Force

    $sw.Restart()
    bash $ref "ref$i-$PID" $image
    if ($LASTEXITCODE -ne 0) { throw 'reference script failed' }
    $theirs += $sw.Elapsed.TotalSeconds
    bash $ref --rm "ref$i-$PID"
    '{0}: New-EtcdCluster {1:n2} s, shell script {2:n2} s' -f $i, $ours[-1], $theirs[-1]
}
$mo = Get-Median $ours; $mt = Get-Median $theirs
'median New-EtcdCluster {0:n2} s; median shell script {1:n2} s; ratio {2:n2}x' -f $mo, $mt, ($mo / $mt)
