#Requires -Version 7.4
<#
.SYNOPSIS
    Failover benchmark: Measure-EtcdFailover on a fresh 3-member cluster, N leader kills.
.DESCRIPTION
    Builds nothing: run `dotnet pwsh ./build.ps1 Build` first. Creates a uniquely named cluster,
    kills its leader -Iterations times while writing, prints the per-iteration table and the
    summary, and writes the "Failover" section of bench/RESULTS.md (replacing only that section).
    The reference is etcd's election timeout (1000 ms by default): the median election time is
    printed as a ratio of it. Do not run it in parallel with the test suites.
.EXAMPLE
    dotnet pwsh ./bench/failover.ps1 -Iterations 5
#>
[CmdletBinding()]
param(
    [ValidateRange(1, 100)] [int] $Iterations = 5,
    [string] $Image = $(if ($env:K3DETCD_ETCD_IMAGE) { $env:K3DETCD_ETCD_IMAGE } else { 'k3detcd/etcd:3.4.23' }),
    [switch] $NoResultsFile
)
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$root = Split-Path $PSScriptRoot
$version = (Import-PowerShellDataFile "$root/K3dEtcd.psd1").ModuleVersion
Import-Module "$root/out/K3dEtcd/$version/K3dEtcd.psd1" -Force

$electionTimeoutMs = 1000   # etcd's default --election-timeout; the cluster is created with defaults
$name = "bench-failover-$([guid]::NewGuid().ToString('N').Substring(0, 6))"
$cluster = New-EtcdCluster $name -Size 3 -Image $Image -PullPolicy Never
try {
    $out = Measure-EtcdFailover -Cluster $cluster -Iterations $Iterations
}
finally {
    Remove-EtcdCluster $name -Force
}
$runs = $out | Where-Object { $_ -is [K3dEtcd.Model.EtcdFailoverIteration] }
$summary = $out | Where-Object { $_ -is [K3dEtcd.Model.EtcdFailoverSummary] }
$runs | Format-Table | Out-String -Width 80 | Write-Host
$summary | Format-List | Out-String | Write-Host
$ratio = [math]::Round($summary.MedianElectionMs / $electionTimeoutMs, 2)
Write-Host "Median election / election timeout: $ratio x ($($summary.MedianElectionMs) ms / $electionTimeoutMs ms)"

if ($NoResultsFile) { return }
$cpu = (Get-Content /proc/cpuinfo -ErrorAction Ignore | Where-Object { $_ -like 'model name*' } | Select-Object -First 1) -replace '^model name\s*:\s*', ''
$docker = (docker version --format '{{.Server.Version}}' 2>$null)
$rows = foreach ($r in $runs) {
    "| $($r.Iteration) | $($r.OldLeader -replace [regex]::Escape($name), 'etcd') | $($r.NewLeader -replace [regex]::Escape($name), 'etcd') | $($r.ElectionMs) | $($r.ResumedMs) | $($r.UnavailableMs) | $($r.RejoinMs) | $($r.WritesAcknowledged) | $($r.WritesFailed) | $($r.WritesLost) |"
}
$section = @"
<!-- failover:begin -->
## Failover (Measure-EtcdFailover, $Iterations iterations)

Run $(Get-Date -AsUTC -Format 'yyyy-MM-dd HH:mm') UTC with ``dotnet pwsh ./bench/failover.ps1 -Iterations $Iterations``.
Machine: $([Environment]::ProcessorCount) cores ($cpu), Docker $docker, image ``$Image`` (etcd $($cluster.Version)), 3 members, default
election timeout $electionTimeoutMs ms / heartbeat 100 ms. Each iteration: 4 writers put sequenced keys (1 s deadline per put), the
leader gets SIGKILL, the old leader is started again, then every member's own store is read (serializable) for every
acknowledged key. Election time runs from the kill request, so it includes Docker's kill latency (~0.2 s here);
writes stuck on the killed member or on a leaderless follower wait for their 1 s deadline, which is why the window
without any acknowledgement is about two deadlines long rather than one election.

| # | killed | elected | election ms | writes resumed ms | no-ack window ms | rejoin ms | acked | failed | lost |
|---|--------|---------|------------:|------------------:|-----------------:|----------:|------:|-------:|-----:|
$($rows -join "`n")

Summary: median election **$($summary.MedianElectionMs) ms** (max $($summary.MaxElectionMs) ms; $ratio x the election timeout),
median no-ack window **$($summary.MedianUnavailableMs) ms** (max $($summary.MaxUnavailableMs) ms), median time to the first
acknowledged write issued after the kill $($summary.MedianResumedMs) ms; $($summary.WritesAcknowledged) writes acknowledged,
$($summary.WritesFailed) failed (deadline or no leader, never acknowledged), **$($summary.WritesLost) acknowledged writes lost**.
<!-- failover:end -->
"@
$file = Join-Path $PSScriptRoot 'RESULTS.md'
$text = if (Test-Path $file) { Get-Content $file -Raw } else { "# Benchmark results`n" }
$pattern = '(?s)<!-- failover:begin -->.*?<!-- failover:end -->'
$text = if ($text -match $pattern) { [regex]::Replace($text, $pattern, { $section.Trim() }) } else { $text.TrimEnd() + "`n`n" + $section.Trim() + "`n" }
Set-Content $file $text -NoNewline
Write-Host "Wrote the Failover section of $file"
