<#
.SYNOPSIS
    A 3-member rolling upgrade (Update-EtcdCluster 3.4.23 -> 3.5.16): its total time, and the
    longest window in which no write was answered (no leader served), measured by a poller in the
    same run.
.DESCRIPTION
    The poller writes through etcd's own HTTP gateway (/v3/kv/put) to every member's client URL at
    once, every 20 ms with a 1 s timeout, and records when a write was answered by any member; the
    longest gap between two answered rounds is the window in which the cluster served no write.
    Target (issue 28): <= 2 s. Uses the local images k3detcd/etcd:3.4.23 and :3.5.16; never pulls.
    Run: dotnet pwsh -NoProfile ./bench/upgrade.ps1 [-Runs 3] [-Manifest out/K3dEtcd/0.1.0/K3dEtcd.psd1]
#>
param([int] $Runs = 3, [string] $Manifest, [string] $From = 'k3detcd/etcd:3.4.23', [string] $To = '3.5.16')
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$root = Split-Path $PSScriptRoot
if (-not $Manifest) { $Manifest = "$root/out/K3dEtcd/$((Import-PowerShellDataFile "$root/K3dEtcd.psd1").ModuleVersion)/K3dEtcd.psd1" }
Import-Module $Manifest

function Get-Median([double[]] $x) { $s = $x | Sort-Object; if ($s.Count % 2) { $s[[int][math]::Floor($s.Count / 2)] } else { ($s[$s.Count / 2 - 1] + $s[$s.Count / 2]) / 2 } }

$totals = @(); $gaps = @()
for ($i = 1; $i -le $Runs; $i++) {
    $name = "benchupg$i-$PID"
    $c = New-EtcdCluster $name -Image $From -PullPolicy Never
    $stop = [ref] $false
    $poller = Start-ThreadJob -ArgumentList @($c.Endpoints, $stop) -ScriptBlock {
        param([string[]] $Endpoints, $Stop)
        $answered = [Collections.Generic.List[double]]::new()
        $clock = [Diagnostics.Stopwatch]::StartNew()
        $http = [Net.Http.HttpClient]::new(); $http.Timeout = [TimeSpan]::FromSeconds(1)
        $n = 0
        while (-not $Stop.Value) {
            $n++
            # To every member at once: a member that is restarting and holds the request must not hide one that answers.
            $calls = foreach ($ep in $Endpoints) {
                $body = '{"key":"' + [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes("/bench/upgrade/$n")) + '","value":"eA=="}'
                $http.PostAsync("$ep/v3/kv/put", [Net.Http.StringContent]::new($body))
            }
            $deadline = [Diagnostics.Stopwatch]::StartNew()
            while ($deadline.Elapsed.TotalSeconds -lt 1) {
                if (@($calls | Where-Object { $_.IsCompletedSuccessfully -and $_.Result.IsSuccessStatusCode }).Count -gt 0) { $answered.Add($clock.Elapsed.TotalSeconds); break }
                if (@($calls | Where-Object { -not $_.IsCompleted }).Count -eq 0) { break }
                Start-Sleep -Milliseconds 5
            }
            Start-Sleep -Milliseconds 20
        }
        , $answered.ToArray()
    }
    Start-Sleep -Seconds 2
    $sw = [Diagnostics.Stopwatch]::StartNew()
    $r = Update-EtcdCluster -Cluster $name -Version $To -SkipSnapshot -Force
    $total = $sw.Elapsed.TotalSeconds
    Start-Sleep -Seconds 1
    $stop.Value = $true
    $times = Receive-Job $poller -Wait -AutoRemoveJob
    $gap = 0.0
    for ($k = 1; $k -lt $times.Count; $k++) { $gap = [math]::Max($gap, $times[$k] - $times[$k - 1]) }
    Remove-EtcdCluster $name -Force
    if ($r.ClusterVersion -notlike "$(($To -split '\.')[0..1] -join '.').*") { throw "run $i ended at cluster version $($r.ClusterVersion)" }
    $totals += $total; $gaps += $gap
    '{0}: upgrade {1:n1} s; longest window without an answered write {2:n2} s ({3} writes answered)' -f $i, $total, $gap, $times.Count
}
$load = (Get-Content /proc/loadavg -ErrorAction Ignore) -split ' ' | Select-Object -First 1
'median: upgrade {0:n1} s, longest unanswered window {1:n2} s (target <= 2 s), slowest window {2:n2} s; load {3}' -f (Get-Median $totals), (Get-Median $gaps), ($gaps | Measure-Object -Maximum).Maximum, $load
