<#
.SYNOPSIS
    Cold Import-Module time: `pwsh -NoProfile -c 'Import-Module K3dEtcd'` minus `pwsh -NoProfile -c 1`,
    median of N alternating runs (target <= 0.5 s).
    Run: dotnet pwsh -NoProfile ./bench/import-time.ps1 [-Runs 10]
#>
param([int] $Runs = 10)
$ErrorActionPreference = 'Stop'
$root = Split-Path $PSScriptRoot
$version = (Import-PowerShellDataFile "$root/K3dEtcd.psd1").ModuleVersion
$manifest = "$root/out/K3dEtcd/$version/K3dEtcd.psd1"
$self = [Environment]::ProcessPath
$prefix = @()
if ([IO.Path]::GetFileNameWithoutExtension($self) -eq 'dotnet') { $prefix = @(Join-Path $PSHOME 'pwsh.dll') }

function Measure-Pwsh([string] $command) {
    $sw = [Diagnostics.Stopwatch]::StartNew()
    & $self @prefix -NoProfile -NonInteractive -Command $command | Out-Null
    if ($LASTEXITCODE -ne 0) { throw "pwsh failed: $command" }
    $sw.Elapsed.TotalSeconds
}
function Get-Median([double[]] $x) { $s = $x | Sort-Object; if ($s.Count % 2) { $s[[int][math]::Floor($s.Count / 2)] } else { ($s[$s.Count / 2 - 1] + $s[$s.Count / 2]) / 2 } }

# One warm-up of each so the OS file cache is equal for both.
$null = Measure-Pwsh '1'; $null = Measure-Pwsh "Import-Module '$manifest'"
$bare = @(); $import = @()
for ($i = 0; $i -lt $Runs; $i++) {
    $bare += Measure-Pwsh '1'
    # Touch a cmdlet so the import is complete (format data, assembly and its first type loads).
    $import += Measure-Pwsh "Import-Module '$manifest'; `$null = Get-Command New-EtcdCluster"
}
$mb = Get-Median $bare; $mi = Get-Median $import
'pwsh -c 1: median {0:n3} s; with Import-Module: median {1:n3} s; import cost {2:n3} s (target <= 0.5 s)' -f $mb, $mi, ($mi - $mb)
