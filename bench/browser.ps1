#!/usr/bin/env pwsh
# The etcd browser, measured in a real browser (Debian's chromium through chromedriver, driven
# with Selenium.WebDriver from the NuGet cache; nothing is downloaded):
#   - first paint of the tree over 100k keys laid out like k3s (/registry/<resource>/<ns>/<name>):
#     from the start of navigation (the token URL) to the tree on screen, several page loads of one
#     browser, and the first load of each of three new browsers (the keys not read yet);
#   - put to page: Set-EtcdKey of a new key while the page is open, until the activity feed and
#     the tree show it (a MutationObserver stamps Date.now(), the same clock as the put's start).
# Usage: dotnet pwsh bench/browser.ps1 [-Keys 100000] [-Loads 5] [-Puts 30]
param([int] $Keys = 100000, [int] $Loads = 5, [int] $Puts = 30, [int] $Members = 3)
$ErrorActionPreference = 'Stop'
if (-not $env:K3DETCD_ETCD_IMAGE) { $env:K3DETCD_ETCD_IMAGE = 'k3detcd/etcd:3.4.23' }
if (-not $env:K3DETCD_PULL_POLICY) { $env:K3DETCD_PULL_POLICY = 'Never' }
$root = Split-Path $PSScriptRoot
Import-Module (Resolve-Path "$root/out/K3dEtcd/*/K3dEtcd.psd1")
$selenium = Get-ChildItem "$HOME/.nuget/packages/selenium.webdriver/4.52.0/lib/net8.0/Selenium.WebDriver.dll" -ErrorAction Ignore
if (-not $selenium) { throw 'Selenium.WebDriver 4.52.0 is not in the NuGet cache: run "dotnet restore tests/K3dEtcd.Tests" first.' }
Add-Type -Path $selenium.FullName
$env:SE_OFFLINE = 'true'

function Get-Median([double[]] $v) { $s = $v | Sort-Object; if ($s.Count % 2) { $s[[int][math]::Floor($s.Count / 2)] } else { ($s[$s.Count / 2 - 1] + $s[$s.Count / 2]) / 2 } }

$name = "bench-browser-$([guid]::NewGuid().ToString('N').Substring(0, 6))"
$cluster = New-EtcdCluster $name -Size $Members -ProgressAction SilentlyContinue
$driver = $null; $browser = $null
try {
    $resources = 20; $namespaces = 50; $perNs = [math]::Ceiling($Keys / ($resources * $namespaces))
    Write-Host "Writing $Keys keys (/registry/<20 resources>/<50 namespaces>/<$perNs objects>) ..."
    $value = 'k8s' + [char]0 + ('x' * 300)
    $sw = [Diagnostics.Stopwatch]::StartNew()
    & { foreach ($r in 1..$resources) { foreach ($n in 1..$namespaces) { foreach ($o in 1..$perNs) {
        [pscustomobject]@{ Key = "/registry/res$r/ns-$n/obj-$o"; Value = $value } } } } } |
        Select-Object -First $Keys | Set-EtcdKey -Cluster $cluster | Out-Null
    Write-Host ("  written in {0:0.0} s" -f $sw.Elapsed.TotalSeconds)

    $browser = Start-EtcdBrowser -Cluster $cluster -NoBrowser
    $options = [OpenQA.Selenium.Chrome.ChromeOptions]::new()
    $options.BinaryLocation = '/usr/bin/chromium'
    $options.AddArguments('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--window-size=1500,950')
    $service = [OpenQA.Selenium.Chrome.ChromeDriverService]::CreateDefaultService('/usr/bin', 'chromedriver')
    $service.SuppressInitialDiagnosticInformation = $true
    $driver = [OpenQA.Selenium.Chrome.ChromeDriver]::new($service, $options, [TimeSpan]::FromSeconds(120))

    function Measure-Paint([string] $Url) {
        $driver.Navigate().GoToUrl($Url)   # a new navigation each time: token, cookie, redirect, page, tree
        $t = $null
        for ($w = 0; $w -lt 600 -and $null -eq $t; $w++) {
            $t = $driver.ExecuteScript("const m = performance.getEntriesByName('k3detcd-tree-ready'); return m.length ? m[0].startTime : null;")
            if ($null -eq $t) { Start-Sleep -Milliseconds 20 }
        }
        if ($null -eq $t) { throw 'the tree did not appear within 12 s' }
        [double]$t
    }
    # The first load after Start-EtcdBrowser reads the keys (and JITs the server): shown on its own.
    $first = Measure-Paint $browser.Url
    $paint = @(foreach ($i in 1..$Loads) { Measure-Paint $browser.Url })
    $shown = $driver.ExecuteScript("return document.querySelectorAll('#tree .row[data-key]').length;")
    $total = $driver.ExecuteScript("return document.getElementById('total').textContent;")
    Write-Host ("First paint over {0}: median {1:0} ms (runs: {2}); {3} rows shown; first load after Start-EtcdBrowser {4:0} ms" -f $total, (Get-Median $paint), (($paint | ForEach-Object { '{0:0}' -f $_ }) -join ', '), $shown, $first)
    # A new browser each time (the server code is JIT-compiled by now, but nothing of the keys is
    # known yet): the first paint as a user sees it after Start-EtcdBrowser.
    $cold = @(foreach ($i in 1..3) {
        Stop-EtcdBrowser $browser -Confirm:$false
        $browser = Start-EtcdBrowser -Cluster $cluster -NoBrowser
        Measure-Paint $browser.Url
    })
    Write-Host ("First paint of a new browser (nothing read yet): median {0:0} ms (runs: {1})" -f (Get-Median $cold), (($cold | ForEach-Object { '{0:0}' -f $_ }) -join ', '))

    $driver.ExecuteScript(@'
window.__seen = {};
new MutationObserver((records) => {
  const now = Date.now();
  for (const r of records) for (const n of r.addedNodes) {
    if (!(n instanceof Element)) continue;
    for (const row of [n, ...n.querySelectorAll('[data-key]')]) {
      if (!row.dataset || row.dataset.key === undefined) continue;
      const where = row.closest('#feed') ? 'feed:' : 'tree:';
      if (!window.__seen[where + row.dataset.key]) window.__seen[where + row.dataset.key] = now;
    }
  }
}).observe(document.body, { childList: true, subtree: true });
'@) | Out-Null
    Set-EtcdKey -Cluster $cluster -Key /bench-warm -Value 1 | Out-Null   # connection and JIT warm
    Start-Sleep -Milliseconds 500
    $feed = @(); $tree = @(); $putOnly = @()
    foreach ($i in 1..$Puts) {
        # A new resource folder under /registry/ (open on the page): the tree shows a new row.
        $key = "/registry/new$i"
        $before = [DateTimeOffset]::UtcNow.ToUnixTimeMilliseconds()
        Set-EtcdKey -Cluster $cluster -Key "$key/ns/obj" -Value 'v' | Out-Null
        $putOnly += [DateTimeOffset]::UtcNow.ToUnixTimeMilliseconds() - $before
        $f = $null; $t = $null
        for ($w = 0; $w -lt 500 -and ($null -eq $f -or $null -eq $t); $w++) {
            $f = $driver.ExecuteScript("return window.__seen['feed:$key/ns/obj'] || null;")
            $t = $driver.ExecuteScript("return window.__seen['tree:$key/'] || null;")
            if ($null -eq $f -or $null -eq $t) { Start-Sleep -Milliseconds 10 }
        }
        if ($null -eq $f -or $null -eq $t) { throw "$key did not show within 5 s" }
        $feed += [double]$f - $before; $tree += [double]$t - $before
        Start-Sleep -Milliseconds 150
    }
    Write-Host ("Put to page ({0} puts): feed median {1:0} ms (p90 {2:0}), tree median {3:0} ms (p90 {4:0}); Set-EtcdKey itself median {5:0} ms" -f $Puts,
        (Get-Median $feed), ($feed | Sort-Object)[[int]($Puts * 0.9) - 1], (Get-Median $tree), ($tree | Sort-Object)[[int]($Puts * 0.9) - 1], (Get-Median $putOnly))
    Write-Host ("Load average: {0}" -f (Get-Content /proc/loadavg))
}
finally {
    if ($driver) { $driver.Quit() }
    if ($browser) { Stop-EtcdBrowser $browser -Confirm:$false }
    Remove-EtcdCluster $name -Force -ProgressAction SilentlyContinue
}
