# Shared by every *.Tests.ps1: import the staged module exactly as a user would, unique names,
# and a way to ask a brand-new pwsh process.
$script:ModulePath = if ($env:K3DETCD_MODULE_PATH) { $env:K3DETCD_MODULE_PATH } else {
    $version = (Import-PowerShellDataFile "$PSScriptRoot/../../K3dEtcd.psd1").ModuleVersion
    Join-Path $PSScriptRoot "../../out/K3dEtcd/$version/K3dEtcd.psd1"
}
Import-Module $script:ModulePath -Force

if (-not $env:K3DETCD_ETCD_IMAGE) { $env:K3DETCD_ETCD_IMAGE = 'k3detcd/etcd:3.4.23' }
if (-not $env:K3DETCD_PULL_POLICY) { $env:K3DETCD_PULL_POLICY = 'Never' }

function New-TestName([string] $Stem) { "$Stem-p$([guid]::NewGuid().ToString('N').Substring(0, 7))" }

# Docker is required: when CI=true and it is missing these tests fail, never skip.
function Assert-DockerAvailable {
    docker info *> $null
    if ($LASTEXITCODE -ne 0) { throw 'Docker is not available; the Docker-tagged tests need a running engine.' }
}

# Runs a script in a new pwsh process that imports the staged module; returns its output lines.
function Invoke-FreshPwsh([string] $Script) { Invoke-FreshPwshWithModule $script:ModulePath $Script }

# How to start a new pwsh like this one: pwsh itself, or `dotnet <pwsh.dll>` for the .NET tool.
function Get-FreshPwsh {
    $self = [Environment]::ProcessPath
    $prefix = if ([IO.Path]::GetFileNameWithoutExtension($self) -eq 'dotnet') { , @(Join-Path $PSHOME 'pwsh.dll') } else { , @() }
    [pscustomobject]@{ File = $self; Prefix = $prefix }
}

function Invoke-FreshPwshWithModule([string] $Manifest, [string] $Script) {
    $pwsh = Get-FreshPwsh; $self = $pwsh.File; $prefix = $pwsh.Prefix
    $full = "`$ErrorActionPreference='Stop'; Import-Module '$Manifest'; $Script"
    $out = & $self @prefix -NoProfile -NonInteractive -Command $full
    if ($LASTEXITCODE -ne 0) { throw "fresh pwsh failed ($LASTEXITCODE): $out" }
    $out
}

# Names of everything in Docker that carries the cluster label (independent check with the docker CLI).
function Get-LabelledDockerObject([string] $Cluster) {
    $f = "label=io.k3detcd.cluster=$Cluster"
    @(docker ps -aq --filter $f) + @(docker volume ls -q --filter $f) + @(docker network ls -q --filter $f) | Where-Object { $_ }
}
