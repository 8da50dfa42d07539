#Requires -Version 7.4
<#
.SYNOPSIS
    The user's whole job in under a minute: an etcd cluster in Docker, data on every member, the
    leader's statistics (v3 and the classic v2 call), TLS with a k3s client certificate, the k3d
    command line, a leader kill, and everything removed again.
.DESCRIPTION
    Run by `./build.ps1 Demo` in a fresh pwsh that has imported the staged module. It removes what
    it created (and only that) in a finally block, so a failure half way or Ctrl+C leaves nothing.
.PARAMETER Prefix
    The stem of the demo's cluster names (tests give a unique one).
.PARAMETER FailAfter
    Tests only: throw after the named step, to prove the clean-up.
.PARAMETER PauseAfter
    Tests only: after the named step, print "PAUSED" and wait, so a test can send Ctrl+C (SIGINT).
#>
[CmdletBinding()]
param(
    [string] $Prefix = 'k3detcd-demo',
    [string] $FailAfter,
    [string] $PauseAfter
)
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
Set-StrictMode -Version Latest

$created = [Collections.Generic.List[string]]::new()    # cluster names this run made, for the clean-up
$tlsDirs = [Collections.Generic.List[string]]::new()
$certDir = Join-Path ([IO.Path]::GetTempPath()) "$Prefix-k3s-cert-$PID"

function Show([string] $Command) { Write-Host "`nPS> $Command" -ForegroundColor Cyan }
function Out-Table { $input | Format-Table -AutoSize | Out-String -Width 160 | ForEach-Object { $_.TrimEnd() } | Write-Host }
function Step([string] $Name) {
    if ($FailAfter -eq $Name) { throw "Demo stopped on purpose after step '$Name' (-FailAfter)." }
    if ($PauseAfter -eq $Name) { Write-Host 'PAUSED'; Start-Sleep -Seconds 300 }
}
# EtcdLatency is in seconds; a table would round a loopback round trip to 0.00, so show milliseconds.
function Format-Ms($Seconds) { if ($null -ne $Seconds) { '{0,12:0.000}' -f ($Seconds * 1000) } }
function Show-LeaderStats($Stats) {
    Write-Host "Leader: $($Stats.LeaderName) ($($Stats.LeaderId)), raft term $($Stats.RaftTerm), source: $($Stats.Source)"
    $Stats.Followers | Select-Object Name, Id, Reachable,
        @{ n = 'Latency (ms)'; e = { Format-Ms $_.Latency.Current } }, @{ n = 'Average (ms)'; e = { Format-Ms $_.Latency.Average } },
        @{ n = 'Success'; e = { $_.Counts.Success } }, @{ n = 'Fail'; e = { $_.Counts.Fail } } | Out-Table
}
function New-DemoCluster([string] $Name, [hashtable] $Options = @{}) {
    # Record the name only once it was created: a name taken by someone else is never ours to remove.
    $c = New-EtcdCluster $Name @Options
    $created.Add($Name)
    if ($c.Tls) { $tlsDirs.Add($c.Tls.Directory) }
    $c
}

$watch = [Diagnostics.Stopwatch]::StartNew()
try {
    Write-Host '== 1. A three-member etcd cluster in Docker (the docker-compose file, replaced) =='
    Show "`$c = New-EtcdCluster $Prefix"
    $c = New-DemoCluster $Prefix
    $c | Out-Table
    Show '$c.Members | Format-Table Name, Id, ClientUrl, NetworkClientUrl, State'
    Write-Host 'ClientUrl is what this host reaches; NetworkClientUrl is what k3s servers on the Docker network use.'
    $c.Members | Select-Object Name, Id, ClientUrl, NetworkClientUrl, State | Out-Table
    Step 'cluster'

    Write-Host "`n== 2. Write /foo once, read it back from every member separately (curl per member, replaced) =="
    Show 'Set-EtcdKey -Cluster $c /foo bar'
    Set-EtcdKey -Cluster $c /foo bar
    Show '$c.Members | ForEach-Object { Get-EtcdKey /foo -Endpoint $_.ClientUrl }'
    $c.Members | ForEach-Object {
        $kv = Get-EtcdKey /foo -Endpoint $_.ClientUrl
        [pscustomobject]@{ Member = $_.Name; Endpoint = $_.ClientUrl; Key = $kv.Key; Value = $kv.Value; ModRevision = $kv.ModRevision }
    } | Out-Table
    Step 'data'

    Write-Host "`n== 3. The leader and each follower's latency and counts =="
    Show "`$v2 = New-EtcdCluster $Prefix-v2 -EnableV2; Get-EtcdLeaderStats -Cluster `$v2    # as the classic curl `$leader/v2/stats/leader showed"
    $v2 = New-DemoCluster "$Prefix-v2" @{ EnableV2 = $true }
    Set-EtcdKey -Cluster $v2 /foo bar    # some raft traffic for the followers' counts
    Show-LeaderStats (Get-EtcdLeaderStats -Cluster $v2)
    Show 'Get-EtcdLeaderStats -Cluster $c     # etcd 3.4+ serves no v2 stats by default: the v3 API and the leader''s /metrics'
    Show-LeaderStats (Get-EtcdLeaderStats -Cluster $c)
    Step 'stats'

    Write-Host "`n== 4. A TLS cluster, and a client certificate for k3s made from its CA =="
    Show "`$t = New-EtcdCluster $Prefix-tls -Tls -Size 1"
    $t = New-DemoCluster "$Prefix-tls" @{ Tls = $true; Size = 1 }
    $t | Out-Table
    Write-Host "CA and client files: $($t.Tls.Directory)"
    Show "New-EtcdClientCertificate -Cluster `$t -CommonName k3s-demo -OutputDirectory $certDir"
    $cert = New-EtcdClientCertificate -Cluster $t -CommonName k3s-demo -OutputDirectory $certDir
    $cert | Select-Object CommonName, CertFile, KeyFile, CaFile, NotAfter | Format-List | Out-String | ForEach-Object { $_.Trim() } | Write-Host
    Show 'Get-EtcdKey -Cluster $t /foo   # over TLS with the cluster''s client certificate'
    Set-EtcdKey -Cluster $t /foo bar-over-tls
    (Get-EtcdKey -Cluster $t /foo).Value | Write-Host
    Step 'tls'

    Write-Host "`n== 5. The k3d cluster on that datastore =="
    $k3d = Get-Command k3d -CommandType Application -ErrorAction Ignore | Select-Object -First 1
    $k3s = $k3d -and (docker image ls --format '{{.Repository}}' 2>$null | Where-Object { $_ -match '(^|/)rancher/k3s$' })
    Show "`$t | New-K3dCluster topgun -Servers 3 -Agents 5 -WhatIf"
    $t | New-K3dCluster topgun -Servers 3 -Agents 5 -WhatIf 3>&1 | ForEach-Object { Write-Host "$_" }
    if ($k3s) {
        $k3dName = "$Prefix-k3s"
        Show "`$c | New-K3dCluster $k3dName -Servers 1    # a real k3d and a k3s image are here"
        try {
            $k = $c | New-K3dCluster $k3dName -Servers 1
            $k | Out-Table
            Show 'Get-EtcdKey -Cluster $c -Prefix /registry/ -KeysOnly | Group-Object Resource'
            Get-EtcdKey -Cluster $c -Prefix /registry/ -KeysOnly | Group-Object Resource | Sort-Object Count -Descending | Select-Object Count, Name | Out-Table
        }
        finally {
            Remove-K3dCluster $k3dName -Force -ErrorAction Continue
        }
    }
    else {
        Write-Host 'No real k3d with a rancher/k3s image on this machine: the line above is what New-K3dCluster runs; install k3d to run it.'
    }
    Step 'k3d'

    Write-Host "`n== 6. Kill the leader, watch a new one take over =="
    $old = (Get-EtcdLeaderStats -Cluster $c).LeaderName
    Show 'Stop-EtcdMember -Cluster $c -Leader -Kill -Force'
    Stop-EtcdMember -Cluster $c -Leader -Kill -Force
    $deadline = [DateTime]::UtcNow.AddSeconds(30)
    do {
        Start-Sleep -Milliseconds 200
        $new = try { (Get-EtcdLeaderStats -Cluster $c -ErrorAction Stop).LeaderName } catch { $null }
    } until (($new -and $new -ne $old) -or [DateTime]::UtcNow -gt $deadline)
    if (-not $new -or $new -eq $old) { throw "No new leader after killing $old." }
    Write-Host "Old leader $old was killed; the new leader is $new."
    Show 'Get-EtcdKey -Cluster $c /foo   # still there, served by the surviving quorum'
    (Get-EtcdKey -Cluster $c /foo).Value | Write-Host
    Step 'failover'
}
finally {
    # Runs on success, on failure and on Ctrl+C: remove exactly what this run created.
    if ($created.Count) {
        Write-Host "`n== 7. Remove everything =="
        Show "Remove-EtcdCluster $($created -join ', ') -Force"
        foreach ($name in $created) { Remove-EtcdCluster $name -Force -ErrorAction Continue }
    }
    Remove-Item $certDir -Recurse -Force -ErrorAction Ignore
    $left = foreach ($name in $created) {
        $f = "label=io.k3detcd.cluster=$name"
        docker ps -aq --filter $f; docker volume ls -q --filter $f; docker network ls -q --filter $f
    }
    $left = @($left | Where-Object { $_ }) + @($tlsDirs + $certDir | Where-Object { Test-Path $_ })
    if ($left.Count) { Write-Host "Left behind: $($left -join ', ')" -ForegroundColor Red }
    else { Write-Host "Nothing is left: no container, volume, network or TLS directory of the demo ($([int]$watch.Elapsed.TotalSeconds) s)." }
}
