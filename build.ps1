#Requires -Version 7.4
<#
.SYNOPSIS
    Builds, tests, demonstrates and packages the K3dEtcd module.
.DESCRIPTION
    Build   : dotnet build; stages the module folder out/K3dEtcd/<version>/
    Test    : Build, then xunit (dotnet test) and Pester (fresh pwsh workers importing the staged
              module, K3DETCD_PESTER_WORKERS of them, 2 by default, one more once xunit ends) side by side, each part's log
              printed at the end; prints "Tests: N passed, N failed, N skipped" over all of them.
    Demo    : Build, then runs demo/Demo.ps1 in a fresh pwsh: the whole flow (clusters, data on every
              member, leader statistics, TLS, the k3d command line, a leader kill), then removes it all.
    Bench   : Build, then bench/bench.ps1 in a fresh pwsh: every benchmarked path cold and warm against
              its command-line reference, one Markdown table of ratios (paste it into bench/RESULTS.md,
              or add -Record). -Quick: tiny sizes, one run (a smoke test of the task, not a measurement).
    Package : Build, then makes the PowerShell Gallery .nupkg under out/package/ (or -PackagePath).
              -ProjectUri and -LicenseUri go into the packaged manifest only: the repository's
              manifest names no URL until the project has a public one.
.EXAMPLE
    dotnet tool restore; dotnet pwsh ./build.ps1 Test
.EXAMPLE
    ./build.ps1 Package -ProjectUri https://github.com/OWNER/K3dEtcd -LicenseUri https://github.com/OWNER/K3dEtcd/blob/main/LICENSE
#>
[CmdletBinding()]
param(
    [Parameter(Position = 0)]
    [ValidateSet('Build', 'Test', 'Demo', 'Package', 'Bench')]
    [string] $Task = 'Build',
    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',
    # Pester tests to run (all when empty); a path or a filter on tags.
    [string[]] $PesterTag = @(),
    # Package: the Gallery's project and license links, written into the packaged manifest.
    [ValidateScript({ $_.IsAbsoluteUri -and $_.Scheme -in 'https', 'http' }, ErrorMessage = '{0} is not an absolute http(s) URL.')]
    [uri] $ProjectUri,
    [ValidateScript({ $_.IsAbsoluteUri -and $_.Scheme -in 'https', 'http' }, ErrorMessage = '{0} is not an absolute http(s) URL.')]
    [uri] $LicenseUri,
    # Package: the folder for the .nupkg (default out/package).
    [string] $PackagePath,
    # Package, Bench: use the staged module folder as it is.
    [switch] $NoBuild,
    # Bench: tiny sizes and one run (a smoke test of the task).
    [switch] $Quick,
    # Bench: timed runs per figure.
    [ValidateRange(1, 99)]
    [int] $Runs = 7,
    # Bench: also append the table to bench/RESULTS.md.
    [switch] $Record
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$root = $PSScriptRoot
$version = (Import-PowerShellDataFile "$root/K3dEtcd.psd1").ModuleVersion
$staged = Join-Path $root "out/K3dEtcd/$version"
$testImage = 'k3detcd/etcd:3.4.23'
$testImage35 = 'k3detcd/etcd:3.5.16'

function Invoke-Native([string] $File, [string[]] $Arguments) {
    & $File @Arguments
    if ($LASTEXITCODE -ne 0) { throw "$File $($Arguments -join ' ') failed with exit code $LASTEXITCODE" }
}

# A fresh pwsh: the one running this script, whether installed or the `dotnet pwsh` tool.
function Get-PwshCommand {
    $self = [Environment]::ProcessPath
    if ([IO.Path]::GetFileNameWithoutExtension($self) -eq 'dotnet') { return @($self, (Join-Path $PSHOME 'pwsh.dll')) }
    return @($self)
}

function Invoke-Build {
    Invoke-Native dotnet @('build', "$root/K3dEtcd.sln", '-c', $Configuration, '-nologo', '-v', 'q', '-clp:NoSummary')
    if (-not (Test-Path "$staged/K3dEtcd.psd1")) { throw "The module was not staged at $staged" }
    Write-Host "Module staged at $staged"
}

# Docker engine plus the local etcd image; never pulls (see tests/prepare-docker.sh).
function Initialize-Docker {
    if (-not $env:K3DETCD_ETCD_IMAGE) { $env:K3DETCD_ETCD_IMAGE = $testImage }
    $ready = $false
    if (Get-Command docker -ErrorAction Ignore) {
        # Both local images (3.4 and the 3.5 with etcdutl); a CLI without an engine fails here too.
        docker image inspect $env:K3DETCD_ETCD_IMAGE $testImage35 *> $null
        $ready = $LASTEXITCODE -eq 0
    }
    if (-not $ready) {
        if (-not $IsLinux) { throw "Docker with the image $env:K3DETCD_ETCD_IMAGE is needed; set K3DETCD_ETCD_IMAGE to an etcd image you have." }
        Invoke-Native bash @("$root/tests/prepare-docker.sh")
    }
    if (-not $env:K3DETCD_PULL_POLICY) { $env:K3DETCD_PULL_POLICY = 'Never' }
}

# Test tools from NuGet into .tools/: Pester 5 (unless one is installed) and the old Google.Protobuf
# that the dependency-isolation test loads first.
function Get-PesterModulePath {
    Invoke-Native dotnet @('restore', "$root/tests/Pester/tools.proj", '--packages', "$root/.tools", '-nologo', '-v', 'q')
    $installed = Get-Module Pester -ListAvailable | Where-Object { $_.Version.Major -eq 5 } | Sort-Object Version -Descending | Select-Object -First 1
    if ($installed) { return $installed.Path }
    return (Get-ChildItem "$root/.tools/pester/5.*/tools/Pester.psd1" | Select-Object -First 1).FullName
}

# The RealK3d tests need a real k3d (not the test fake) and a rancher/k3s image; without them the
# file is left out of the run (so it is neither run nor counted as skipped).
function Test-RealK3d {
    $k3d = Get-Command k3d -CommandType Application -ErrorAction Ignore | Select-Object -First 1
    if (-not $k3d -or $k3d.Source -like '*fake-k3d*') { return $false }
    if ($env:K3DETCD_K3S_IMAGE) { return $true }
    return [bool](docker image ls --format '{{.Repository}}' 2>$null | Where-Object { $_ -match '(^|/)rancher/k3s$' })
}

# Pester files, longest first (as measured by a CI run: out/test-results/pester-times.txt), so
# that the workers that take them from one list end close together; files not named here follow.
$pesterOrder = @('Backup', 'Certificates', 'Health', 'FaultMatrix', 'Recovery', 'Safety', 'K3d', 'Bench', 'MultiEngine', 'EtcdData',
    'K3dToken', 'Demo', 'EtcdMember', 'CaRotation', 'EtcdOperations', 'EtcdDisk', 'SnapshotDrill', 'Tls', 'Module', 'Leftovers', 'EtcdUpgrade',
    'EtcdBrowser', 'EtcdCluster', 'Isolation', 'Package', 'RealK3d', 'Setup', 'DockerEndpoint')

# One Pester worker: takes the next file nobody has claimed (a claim is a file created exclusively),
# runs it in this pwsh, and writes its counts and time beside its NUnit result.
$pesterWorker = @'
param([string] $Pester, [string] $Results, [string] $ListFile, [string] $Worker, [string[]] $Tag)
$ErrorActionPreference = 'Stop'
$PSStyle.OutputRendering = 'PlainText'
$Tag = @($Tag -split ',' | Where-Object { $_ })
Import-Module $Pester
New-Item -ItemType Directory "$Results/claims" -Force | Out-Null
foreach ($file in Get-Content $ListFile) {
    $base = [IO.Path]::GetFileNameWithoutExtension($file) -replace '\.Tests$', ''
    try { [IO.File]::Open("$Results/claims/$base", 'CreateNew').Dispose() } catch [IO.IOException] { continue }
    Write-Host "[$Worker] === $base ==="
    $config = New-PesterConfiguration
    $config.Run.Path = $file
    $config.Run.PassThru = $true
    $config.Output.Verbosity = 'Detailed'
    $config.Output.RenderMode = 'Plaintext'
    $config.TestResult.Enabled = $true
    $config.TestResult.OutputFormat = 'NUnitXml'
    $config.TestResult.OutputPath = "$Results/pester-$base.xml"
    if ($Tag) { $config.Filter.Tag = $Tag }
    $sw = [Diagnostics.Stopwatch]::StartNew()
    $r = Invoke-Pester -Configuration $config
    @{ File = $base; Worker = $Worker; Seconds = [math]::Round($sw.Elapsed.TotalSeconds, 1); Passed = $r.PassedCount
       Failed = $r.FailedCount + $r.FailedBlocksCount + $r.FailedContainersCount; Skipped = $r.SkippedCount + $r.NotRunCount } |
        ConvertTo-Json | Set-Content "$Results/pester-$base.json"
}
'@

# xunit and the Pester files run side by side: the tests wait on Docker and etcd far more than they
# compute, and every test names what it makes uniquely (shared-engine rules), so no two parts share
# state. Each part writes its own log (out/test-results/<part>.log), printed whole at the end.
function Invoke-Test {
    Initialize-Docker
    Invoke-Build
    Invoke-Package -NoBuild   # the Pester suite checks the package round trip
    $results = Join-Path $root 'out/test-results'
    Remove-Item $results -Recurse -Force -ErrorAction Ignore
    New-Item -ItemType Directory $results | Out-Null
    $clock = [Diagnostics.Stopwatch]::StartNew()

    # Pester: every cmdlet as a user runs it, in fresh pwsh processes importing the staged module.
    $pester = Get-PesterModulePath
    $all = Get-ChildItem "$root/tests/Pester" -Filter *.Tests.ps1 | Where-Object { $_.Name -ne 'RealK3d.Tests.ps1' -or (Test-RealK3d) }
    $rank = { $i = [array]::IndexOf($pesterOrder, ($_.Name -replace '\.Tests\.ps1$', '')); if ($i -lt 0) { 1000 } else { $i } }
    $files = @($all | Sort-Object $rank, Name | ForEach-Object FullName)
    $listFile = Join-Path $results 'pester-files.txt'
    Set-Content $listFile $files
    $workerScript = Join-Path $results 'pester-worker.ps1'
    Set-Content $workerScript $pesterWorker
    $workers = if ($env:K3DETCD_PESTER_WORKERS) { [int]$env:K3DETCD_PESTER_WORKERS } else { 2 }
    $env:K3DETCD_MODULE_PATH = "$staged/K3dEtcd.psd1"
    $pwsh = Get-PwshCommand

    $parts = [Collections.Generic.List[object]]::new()
    function Start-Part([string] $Name, [string] $File, [string[]] $Arguments) {
        $log = Join-Path $results "$Name.log"
        $p = Start-Process -FilePath $File -ArgumentList $Arguments -RedirectStandardOutput $log -RedirectStandardError "$log.err" -PassThru -NoNewWindow
        $parts.Add([pscustomobject]@{ Name = $Name; Process = $p; Log = $log; Seconds = $null; ExitCode = $null })
    }
    # xunit: the services against real Docker and etcd.
    Start-Part 'xunit' 'dotnet' @('test', "`"$root/tests/K3dEtcd.Tests/K3dEtcd.Tests.csproj`"", '-c', $Configuration, '--no-build', '-nologo',
        '--logger', '"trx;LogFileName=xunit.trx"', '--logger', '"console;verbosity=normal"', '--results-directory', "`"$results`"")
    function Start-PesterWorker([int] $Number) {
        $a = @($pwsh | Select-Object -Skip 1) + @('-NoProfile', '-NonInteractive', '-File', "`"$workerScript`"", '-Pester', "`"$pester`"",
            '-Results', "`"$results`"", '-ListFile', "`"$listFile`"", '-Worker', "pester-$Number")
        if ($PesterTag) { $a += @('-Tag', ($PesterTag -join ',')) }
        Start-Part "pester-$Number" $pwsh[0] $a
    }
    for ($w = 1; $w -le $workers; $w++) { Start-PesterWorker $w }
    Write-Host "Running xunit and $workers Pester workers ($($files.Count) files) side by side; logs in $results"
    $nextNote = 60
    while ($parts | Where-Object { $null -eq $_.ExitCode }) {
        Start-Sleep -Milliseconds 500
        foreach ($part in $parts | Where-Object { $null -eq $_.ExitCode -and $_.Process.HasExited }) {
            $part.Process.WaitForExit()
            $part.ExitCode = $part.Process.ExitCode
            $part.Seconds = [math]::Round($clock.Elapsed.TotalSeconds)
            Write-Host "$($part.Name) finished after $($part.Seconds) s (exit code $($part.ExitCode))"
            # xunit's share of the machine goes to one more Pester worker while files are left to claim.
            $claimed = @(Get-ChildItem "$results/claims" -ErrorAction Ignore).Count
            if ($part.Name -eq 'xunit' -and $claimed -lt $files.Count) {
                $workers++
                Write-Host "starting pester-$workers for the $($files.Count - $claimed) Pester files not yet taken"
                Start-PesterWorker $workers
            }
        }
        if ($clock.Elapsed.TotalSeconds -ge $nextNote) {
            $done = @(Get-ChildItem $results -Filter 'pester-*.json').Count
            Write-Host "... $([math]::Round($clock.Elapsed.TotalSeconds)) s: running $(($parts | Where-Object { $null -eq $_.ExitCode }).Name -join ', '); Pester files done: $done/$($files.Count)"
            $nextNote += 60
        }
    }

    foreach ($part in $parts) {
        Write-Host ''
        Write-Host "======== $($part.Name): $($part.Seconds) s, exit code $($part.ExitCode) ========"
        foreach ($f in $part.Log, "$($part.Log).err") { if ((Test-Path $f) -and (Get-Item $f).Length -gt 0) { Get-Content $f | ForEach-Object { Write-Host "[$($part.Name)] $_" } } }
    }

    $trxFile = Join-Path $results 'xunit.trx'
    $xunit = if (Test-Path $trxFile) {
        $c = ([xml](Get-Content $trxFile -Raw)).TestRun.ResultSummary.Counters
        @{ Passed = [int]$c.passed; Failed = [int]$c.failed + [int]$c.error + [int]$c.timeout + [int]$c.aborted; Skipped = [int]$c.notExecuted }
    } else { @{ Passed = 0; Failed = 1; Skipped = 0 } }
    if (($parts | Where-Object Name -EQ 'xunit').ExitCode -ne 0 -and $xunit.Failed -eq 0) { $xunit.Failed = 1 }   # dotnet test failed without a failed test
    $p = @{ Passed = 0; Failed = 0; Skipped = 0 }
    $times = foreach ($file in $files) {
        $base = [IO.Path]::GetFileNameWithoutExtension($file) -replace '\.Tests$', ''
        $json = Join-Path $results "pester-$base.json"
        if (Test-Path $json) {
            $r = Get-Content $json -Raw | ConvertFrom-Json
            $p.Passed += $r.Passed; $p.Failed += $r.Failed; $p.Skipped += $r.Skipped
            "{0,-16} {1,7:0.0} s  {2,-9} {3} passed, {4} failed, {5} skipped" -f $r.File, $r.Seconds, $r.Worker, $r.Passed, $r.Failed, $r.Skipped
        }
        else {
            $p.Failed += 1   # a worker died before it reported this file
            "{0,-16}    none    no result (the file did not finish)" -f $base
        }
    }
    Set-Content (Join-Path $results 'pester-times.txt') $times
    Write-Host ''
    Write-Host 'Pester files (time, worker, counts):'
    $times | ForEach-Object { Write-Host "  $_" }
    foreach ($part in $parts) { Write-Host ("{0,-9} {1,5} s" -f $part.Name, $part.Seconds) }
    Write-Host "all parts: $([math]::Round($clock.Elapsed.TotalSeconds)) s side by side"

    $passed = $xunit.Passed + $p.Passed
    $failed = $xunit.Failed + $p.Failed
    $skipped = $xunit.Skipped + $p.Skipped
    Write-Host "xunit:  $($xunit.Passed) passed, $($xunit.Failed) failed, $($xunit.Skipped) skipped"
    Write-Host "Pester: $($p.Passed) passed, $($p.Failed) failed, $($p.Skipped) skipped"
    Write-Host "Tests: $passed passed, $failed failed, $skipped skipped"
    if ($failed -gt 0 -or $passed -eq 0) { exit 1 }
}

function Invoke-Demo {
    Initialize-Docker
    Invoke-Build
    $pwsh = Get-PwshCommand
    # A fresh pwsh imports the staged module as a user would; demo/Demo.ps1 cleans up after itself.
    & $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -Command "Import-Module '$staged/K3dEtcd.psd1'; & '$root/demo/Demo.ps1'"
    if ($LASTEXITCODE -ne 0) { throw "The demo failed (exit code $LASTEXITCODE)" }
}

function Invoke-Package([switch] $NoBuild) {
    if (-not $NoBuild) { Invoke-Build }
    $out = if ($PackagePath) { $PackagePath } else { Join-Path $root 'out/package' }
    Remove-Item $out -Recurse -Force -ErrorAction Ignore
    New-Item -ItemType Directory $out | Out-Null
    # Compress-PSResource wants the folder named like the module.
    $pkgSource = Join-Path ([IO.Path]::GetTempPath()) "k3detcd-pkg-$PID/K3dEtcd"
    Remove-Item (Split-Path $pkgSource) -Recurse -Force -ErrorAction Ignore
    New-Item -ItemType Directory $pkgSource | Out-Null
    Copy-Item "$staged/*" $pkgSource -Recurse
    Set-ManifestLink "$pkgSource/K3dEtcd.psd1" @{ ProjectUri = $ProjectUri; LicenseUri = $LicenseUri }
    Compress-PSResource -Path $pkgSource -DestinationPath $out
    Remove-Item (Split-Path $pkgSource) -Recurse -Force
    Get-ChildItem $out -Filter *.nupkg | ForEach-Object { Write-Host "Package: $($_.FullName)" }
}

# Adds links to the PSData block of a copy of the manifest, keeping the rest of the file as written.
function Set-ManifestLink([string] $Manifest, [hashtable] $Links) {
    $lines = foreach ($name in 'ProjectUri', 'LicenseUri') {
        if ($Links[$name]) { "            $($name.PadRight(12)) = '$($Links[$name].AbsoluteUri.Replace("'", "''"))'" }
    }
    if (-not $lines) { return }
    $text = Get-Content $Manifest -Raw
    $anchor = [regex]::Match($text, '(?m)^\s*PSData\s*=\s*@\{\r?\n')
    if (-not $anchor.Success) { throw "No PSData block in $Manifest." }
    $at = $anchor.Index + $anchor.Length
    Set-Content $Manifest ($text.Substring(0, $at) + (($lines -join "`n") + "`n") + $text.Substring($at)) -NoNewline
    $checked = Test-ModuleManifest $Manifest
    foreach ($name in 'ProjectUri', 'LicenseUri') {
        if ($Links[$name] -and $checked.$name -ne $Links[$name]) { throw "$name did not reach $Manifest." }
    }
}

function Invoke-Bench {
    Initialize-Docker
    if (-not $NoBuild) { Invoke-Build }
    $pwsh = Get-PwshCommand
    $env:K3DETCD_BENCH_COMMAND = if ($Quick) { 'build.ps1 Bench -Quick' } else { "build.ps1 Bench -Runs $Runs" }
    $table = & $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -File "$root/bench/bench.ps1" -Runs $Runs -Quick:$Quick -Manifest "$staged/K3dEtcd.psd1"
    if ($LASTEXITCODE -ne 0) { throw "The benchmarks failed (exit code $LASTEXITCODE)" }
    # The table's lines only (a warning of the child would land on the same stream).
    $table = @($table | Where-Object { $_ -is [string] -and $_ -match '^(\||## |Command: |$)' })
    Write-Host ''
    $table | ForEach-Object { Write-Host $_ }
    if ($Record) { Add-Content "$root/bench/RESULTS.md" (@('') + $table) }
}

switch ($Task) {
    'Build' { Invoke-Build }
    'Test' { Invoke-Test }
    'Demo' { Invoke-Demo }
    'Package' { Invoke-Package -NoBuild:$NoBuild }
    'Bench' { Invoke-Bench }
}
