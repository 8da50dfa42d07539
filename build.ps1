#Requires -Version 7.4
<#
.SYNOPSIS
    Builds, tests, demonstrates and packages the K3dEtcd module.
.DESCRIPTION
    Build   : dotnet build; stages the module folder out/K3dEtcd/<version>/
    Test    : Build, then xunit (dotnet test) and Pester (in a fresh pwsh importing the staged
              module); prints "Tests: N passed, N failed, N skipped" over both.
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

function Invoke-Test {
    Initialize-Docker
    Invoke-Build
    Invoke-Package -NoBuild   # the Pester suite checks the package round trip
    $results = Join-Path $root 'out/test-results'
    Remove-Item $results -Recurse -Force -ErrorAction Ignore
    New-Item -ItemType Directory $results | Out-Null

    # xunit: the services against real Docker and etcd.
    & dotnet test "$root/tests/K3dEtcd.Tests/K3dEtcd.Tests.csproj" -c $Configuration --no-build -nologo `
        --logger 'trx;LogFileName=xunit.trx' --logger 'console;verbosity=normal' --results-directory $results
    $trx = [xml](Get-Content (Join-Path $results 'xunit.trx') -Raw)
    $c = $trx.TestRun.ResultSummary.Counters
    $xunit = @{ Passed = [int]$c.passed; Failed = [int]$c.failed + [int]$c.error + [int]$c.timeout + [int]$c.aborted; Skipped = [int]$c.notExecuted }

    # Pester: every cmdlet as a user runs it, in a fresh pwsh importing the staged module.
    $pester = Get-PesterModulePath
    $summary = Join-Path $results 'pester-summary.json'
    $script = @"
`$ErrorActionPreference = 'Stop'
Import-Module '$pester'
`$config = New-PesterConfiguration
`$config.Run.Path = '$root/tests/Pester'
`$config.Run.PassThru = `$true
`$config.Output.Verbosity = 'Detailed'
`$config.TestResult.Enabled = `$true
`$config.TestResult.OutputFormat = 'NUnitXml'
`$config.TestResult.OutputPath = '$results/pester.xml'
$(if ($PesterTag) { "`$config.Filter.Tag = @('" + ($PesterTag -join "','") + "')" })
$(if (-not (Test-RealK3d)) { "`$config.Run.ExcludePath = @('$root/tests/Pester/RealK3d.Tests.ps1')" })
`$r = Invoke-Pester -Configuration `$config
@{ Passed = `$r.PassedCount; Failed = `$r.FailedCount + `$r.FailedBlocksCount + `$r.FailedContainersCount; Skipped = `$r.SkippedCount + `$r.NotRunCount } | ConvertTo-Json | Set-Content '$summary'
"@
    $pwsh = Get-PwshCommand
    $env:K3DETCD_MODULE_PATH = "$staged/K3dEtcd.psd1"
    & $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -Command $script
    $p = if (Test-Path $summary) { Get-Content $summary -Raw | ConvertFrom-Json } else { [pscustomobject]@{ Passed = 0; Failed = 1; Skipped = 0 } }

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
