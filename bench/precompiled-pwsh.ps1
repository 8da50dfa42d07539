<#
.SYNOPSIS
    A copy of the running pwsh with PowerShell's own assemblies precompiled (ReadyToRun), as the
    installed packages ship them; prints the path of its pwsh.dll.
.DESCRIPTION
    The `dotnet pwsh` tool this project pins is built framework-dependent without ReadyToRun, so a
    first command in it JIT-compiles PowerShell's engine (System.Management.Automation and the
    command assemblies) as well as the module: `pwsh -c 1` takes about 1.5 s there against 0.5 s
    with the same files precompiled. PowerShell's release build precompiles them
    (PublishReadyToRun in its Release configuration) for the self-contained and the optimized
    framework-dependent packages (deb, rpm, tar.gz, msi, pkg); the .NET tool is the exception. The
    benchmark's cold figures are measured in both, so the module's share is not hidden by the tool's.
    Uses the crossgen2 the module build restores (linux-x64, the SDK's runtime version). The copy is
    made once per pwsh version under out/pwsh-readytorun/<version>/.
#>
[CmdletBinding()]
param(
    [string] $Destination = (Join-Path (Split-Path $PSScriptRoot) "out/pwsh-readytorun/$($PSVersionTable.PSVersion)")
)
$ErrorActionPreference = 'Stop'
if (-not ($IsLinux -and [Runtime.InteropServices.RuntimeInformation]::OSArchitecture -eq 'X64')) {
    throw 'A precompiled pwsh is made on linux-x64 only (the crossgen2 package the build restores).'
}
$done = Join-Path $Destination '.readytorun-done'
$pwshDll = Join-Path $Destination 'pwsh.dll'
if (Test-Path $done) { return $pwshDll }

$runtime = [Environment]::Version.ToString()
$packages = if ($env:NUGET_PACKAGES) { $env:NUGET_PACKAGES } else { Join-Path $HOME '.nuget/packages' }
# The runtime's own version, else the newest of its major version (ReadyToRun code is valid within a major version).
$crossgen = Get-ChildItem (Join-Path $packages 'microsoft.netcore.app.crossgen2.linux-x64') -Directory -ErrorAction Ignore |
    Where-Object { $_.Name -eq $runtime -or $_.Name -like "$([Environment]::Version.Major).*" } |
    Sort-Object { $_.Name -ne $runtime }, { [version]($_.Name -replace '-.*') } -Descending:$false |
    ForEach-Object { Join-Path $_.FullName 'tools/crossgen2' } | Where-Object { Test-Path $_ } | Select-Object -First 1
if (-not $crossgen) {
    throw "No crossgen2 for .NET $([Environment]::Version.Major) under $packages; build the module first (dotnet build restores it)."
}
$framework = Split-Path ([object].Assembly.Location)

if (Test-Path $Destination) { Remove-Item $Destination -Recurse -Force }
$null = New-Item -ItemType Directory -Path (Split-Path $Destination) -Force
Copy-Item $PSHOME $Destination -Recurse
# PowerShell's engine, its command assemblies, the host, and what they load on every start.
$assemblies = 'System.Management.Automation', 'Microsoft.PowerShell.Commands.Utility', 'Microsoft.PowerShell.Commands.Management',
    'Microsoft.PowerShell.ConsoleHost', 'Microsoft.PowerShell.Security', 'Microsoft.PowerShell.SDK', 'pwsh', 'Newtonsoft.Json'
foreach ($name in $assemblies) {
    $source = Join-Path $PSHOME "$name.dll"
    if (-not (Test-Path $source)) { continue }
    $out = & $crossgen $source -o (Join-Path $Destination "$name.dll") -r "$framework/*.dll" -r "$PSHOME/*.dll" --targetos:linux --targetarch:x64 -O 2>&1
    if ($LASTEXITCODE -ne 0) { throw "crossgen2 failed for ${name}: $($out -join "`n")" }
}
Set-Content $done "pwsh $($PSVersionTable.PSVersion), runtime $runtime, from $PSHOME"
$pwshDll
