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
    # A docker command that failed prints nothing too: that must not read as "nothing left".
    $f = "label=io.k3detcd.cluster=$Cluster"
    $found = foreach ($list in @('ps', '-a'), @('volume', 'ls'), @('network', 'ls')) {
        $ids = docker @list -q --filter $f
        if ($LASTEXITCODE -ne 0) { throw "docker $($list -join ' ') failed ($LASTEXITCODE)" }
        $ids
    }
    @($found | Where-Object { $_ })
}

# The fake k3d (tests/FakeK3d, built to out/fake-k3d) first on PATH, with the environment it reads
# saved for Exit-FakeK3d; Use-FakeK3d gives each test a fresh fake world.
$script:FakeK3dVariables = 'PATH', 'KUBECONFIG', 'FAKE_K3D_VERSION', 'FAKE_K3D_STATE_DIR', 'FAKE_K3D_ARGV_LOG', 'FAKE_K3D_FAIL_CREATE', 'FAKE_K3D_CREATE_DELAY_MS'
function Enter-FakeK3d {
    $script:fakeDir = (Resolve-Path "$PSScriptRoot/../../out/fake-k3d").Path
    if (-not (Test-Path "$fakeDir/k3d")) { throw "The fake k3d is not built in $fakeDir (dotnet build K3dEtcd.sln builds it)." }
    $script:savedFakeK3dEnv = @{}
    foreach ($v in $script:FakeK3dVariables) { $savedFakeK3dEnv[$v] = [Environment]::GetEnvironmentVariable($v) }
    $env:PATH = "$fakeDir$([IO.Path]::PathSeparator)$env:PATH"
}
function Exit-FakeK3d {
    foreach ($kv in $script:savedFakeK3dEnv.GetEnumerator()) { [Environment]::SetEnvironmentVariable($kv.Key, $kv.Value) }
}
# A fresh fake k3d world: its version, its own state, argv log and kubeconfig.
function Use-FakeK3d([string] $Version = 'v5.8.3') {
    $dir = Join-Path ([IO.Path]::GetTempPath()) "fake-k3d-$([guid]::NewGuid().ToString('N'))"
    New-Item -ItemType Directory $dir | Out-Null
    $env:FAKE_K3D_VERSION = $Version
    $env:FAKE_K3D_STATE_DIR = "$dir/state"
    $env:FAKE_K3D_ARGV_LOG = "$dir/argv.jsonl"
    $env:KUBECONFIG = "$dir/kubeconfig"
    $env:FAKE_K3D_FAIL_CREATE = $null
}

# Bootstrap data sealed as k3s's encrypt() does (the format is cross-checked against openssl and
# Python's cryptography in xunit K3sTokenTests): "<16 hex salt>:" + base64(nonce | AES-256-GCM | tag),
# key PBKDF2-HMAC-SHA1(passphrase, salt text, 4096, 32).
function New-K3sBootstrapValue([string] $Passphrase, [string] $Plain) {
    $salt = [Convert]::ToHexString([Security.Cryptography.RandomNumberGenerator]::GetBytes(8)).ToLowerInvariant()
    $key = [Security.Cryptography.Rfc2898DeriveBytes]::Pbkdf2([Text.Encoding]::UTF8.GetBytes($Passphrase), [Text.Encoding]::UTF8.GetBytes($salt), 4096, [Security.Cryptography.HashAlgorithmName]::SHA1, 32)
    $nonce = [Security.Cryptography.RandomNumberGenerator]::GetBytes(12)
    $pt = [Text.Encoding]::UTF8.GetBytes($Plain)
    $ct = [byte[]]::new($pt.Length); $tag = [byte[]]::new(16)
    $gcm = [Security.Cryptography.AesGcm]::new($key, 16)
    try { $gcm.Encrypt($nonce, $pt, $ct, $tag) } finally { $gcm.Dispose() }
    "${salt}:" + [Convert]::ToBase64String([byte[]]($nonce + $ct + $tag))
}
