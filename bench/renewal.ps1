<#
.SYNOPSIS
    Rolling certificate renewal of a 3-member TLS cluster (Update-EtcdCertificate): the longest
    write while it runs, against the longest write of the same poller on the same cluster right
    after it, for as long (the reference), in the same run.
.DESCRIPTION
    The poller writes with etcdctl (the cluster's client certificate, every member's client URL,
    a 5 s command timeout), one put after the other 20 ms apart, and records how long each took. Reference: the same poller for as long,
    on the same cluster, right after it. Target (issue 27): the longest write
    during a renewal <= 1 s. Uses the local image (K3DETCD_ETCD_IMAGE or k3detcd/etcd:3.5.16).
    -Authority: the CA rotation instead (three phases; every member recreated in place twice).
    Run: dotnet pwsh -NoProfile ./bench/renewal.ps1 [-Runs 3] [-Authority] [-Manifest out/K3dEtcd/0.1.0/K3dEtcd.psd1]
#>
param([int] $Runs = 3, [string] $Manifest, [switch] $Authority, [string] $Image = $(if ($env:K3DETCD_ETCD_IMAGE) { $env:K3DETCD_ETCD_IMAGE } else { 'k3detcd/etcd:3.5.16' }))
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$root = Split-Path $PSScriptRoot
if (-not $Manifest) { $Manifest = "$root/out/K3dEtcd/$((Import-PowerShellDataFile "$root/K3dEtcd.psd1").ModuleVersion)/K3dEtcd.psd1" }
Import-Module $Manifest

function Get-Median([double[]] $x) { $s = $x | Sort-Object; if ($s.Count % 2) { $s[[int][math]::Floor($s.Count / 2)] } else { ($s[$s.Count / 2 - 1] + $s[$s.Count / 2]) / 2 } }

# Write latencies (s) of a poller that runs until $Stop is set: one `etcdctl put` at a time over all
# members (etcdctl's own balancer picks a member that answers), 20 ms apart; a refused or timed-out
# write counts -1 (a failure, reported apart). Process start is in every figure, during and after alike.
$poll = {
    param([string[]] $Endpoints, [string] $Ca, [string] $Cert, [string] $Key, $Stop)
    $env:ETCDCTL_API = '3'
    $writes = [Collections.Generic.List[double]]::new()
    $n = 0
    while (-not $Stop.Value) {
        $n++
        $sw = [Diagnostics.Stopwatch]::StartNew()
        etcdctl --endpoints ($Endpoints -join ',') --cacert $Ca --cert $Cert --key $Key --dial-timeout 2s --command-timeout 5s put "/bench/renewal/$n" x 2>&1 | Out-Null
        $writes.Add($(if ($LASTEXITCODE -eq 0) { $sw.Elapsed.TotalSeconds } else { -1.0 }))
        Start-Sleep -Milliseconds 20
    }
    , $writes.ToArray()
}

$during = @(); $before = @(); $totals = @()
$what = if ($Authority) { 'CA rotation' } else { 'renewal' }
for ($i = 1; $i -le $Runs; $i++) {
    $name = "benchrenew$i-$PID"
    $c = New-EtcdCluster $name -Tls -Image $Image -PullPolicy Never
    try {
        $tls = @($c.Endpoints, $c.Tls.CaFile, $c.Tls.ClientCertFile, $c.Tls.ClientKeyFile)
        $stop = [ref] $false
        $job = Start-ThreadJob -ArgumentList ($tls + $stop) -ScriptBlock $poll
        Start-Sleep -Seconds 2
        $sw = [Diagnostics.Stopwatch]::StartNew()
        Update-EtcdCertificate -Cluster $name -Force -Authority:$Authority | Out-Null
        $total = $sw.Elapsed.TotalSeconds
        Start-Sleep -Seconds 1
        $stop.Value = $true
        $run = Receive-Job $job -Wait -AutoRemoveJob
        # The reference: the same poller on the same cluster, right after, for as long (a longer window would see a longer worst case).
        $stop = [ref] $false
        $job = Start-ThreadJob -ArgumentList ($tls + $stop) -ScriptBlock $poll
        Start-Sleep -Seconds (3 + $total)
        $stop.Value = $true
        $ref = Receive-Job $job -Wait -AutoRemoveJob
    }
    finally { Remove-EtcdCluster $name -Force }
    $failed = @($run | Where-Object { $_ -lt 0 }).Count + @($ref | Where-Object { $_ -lt 0 }).Count
    if ($failed) { Write-Warning "run ${i}: $failed writes failed" }
    $maxRef = ($ref | Where-Object { $_ -ge 0 } | Measure-Object -Maximum).Maximum; $maxRun = ($run | Where-Object { $_ -ge 0 } | Measure-Object -Maximum).Maximum
    $totals += $total; $before += $maxRef; $during += $maxRun
    '{0}: {7} {1:n1} s; longest write {2:n3} s during ({3} writes), {4:n3} s after ({5} writes); {6:n1}x' -f $i, $total, $maxRun, $run.Count, $maxRef, $ref.Count, ($maxRun / $maxRef), $what
}
$load = (Get-Content /proc/loadavg -ErrorAction Ignore) -split ' ' | Select-Object -First 1
'median: {5} {0:n1} s; longest write during {1:n3} s (target <= 1 s) vs {2:n3} s after; slowest during {3:n3} s; load {4}' -f (Get-Median $totals), (Get-Median $during), (Get-Median $before), ($during | Measure-Object -Maximum).Maximum, $load, $what
