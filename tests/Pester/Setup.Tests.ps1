# The fresh-machine set-up (tests/prepare-docker.sh), run against a sandbox PATH: stub `docker`,
# `dockerd`, `apt-get` and `id` that record what they were asked, plus the few real tools the
# script needs. It proves the decisions (what is installed, what is started, when to give up)
# without touching the machine's own engine or packages.
BeforeAll {
    $script:script = if ($env:K3DETCD_PREPARE_SCRIPT) { $env:K3DETCD_PREPARE_SCRIPT } else { Join-Path $PSScriptRoot '../prepare-docker.sh' }
    $script:bash = (Get-Command bash -CommandType Application | Select-Object -First 1).Source

    # A sandbox: $bin holds links to real coreutils and the stubs; $log records the stubs' calls.
    function New-Sandbox {
        param([switch] $EngineAnswers, [switch] $Dockerd, [switch] $NoAptGet, [int] $Uid = 0, [switch] $Sudo, [string[]] $Missing = @())
        $root = Join-Path ([IO.Path]::GetTempPath()) "k3detcd-setup-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
        $bin = New-Item -ItemType Directory "$root/bin"
        $log = "$root/calls.log"
        New-Item -ItemType File $log | Out-Null
        foreach ($tool in 'env', 'seq', 'sleep', 'mktemp', 'mkdir', 'cp', 'cat', 'rm', 'chmod', 'touch', 'dirname') {
            $real = (Get-Command $tool -CommandType Application | Select-Object -First 1).Source
            New-Item -ItemType SymbolicLink "$bin/$tool" -Target $real | Out-Null
        }
        $stub = {
            param([string] $Name, [string] $Body)
            Set-Content "$bin/$Name" "#!$bash`n$Body`n" -NoNewline
            chmod +x "$bin/$Name"
        }
        # docker: the CLI is always there; `info` answers only once an engine runs (a marker file).
        & $stub docker @"
echo "docker `$*" >> '$log'
case "`$1" in
  info) [ -e '$root/engine-running' ] ;;
  image) exit 0 ;;
  *) exit 0 ;;
esac
"@
        $dockerdStub = "echo dockerd >> '$log'; touch '$root/engine-running'"
        $cronStub = "echo cron >> '$log'; touch '$root/cron-running'"
        if ($Dockerd) { & $stub dockerd $dockerdStub }
        if ($EngineAnswers) { New-Item -ItemType File "$root/engine-running" | Out-Null }
        if (-not $NoAptGet) {
            # Installing docker.io brings dockerd, as the Debian package does.
            & $stub apt-get @"
echo "apt-get `$*" >> '$log'
case " `$* " in *" docker.io "*) printf '#!$bash\n%s\n' "$($dockerdStub.Replace('"', '\"'))" > '$bin/dockerd'; chmod +x '$bin/dockerd' ;; esac
case " `$* " in *" cron "*) printf '#!$bash\n%s\n' "$($cronStub.Replace('"', '\"'))" > '$bin/cron'; chmod +x '$bin/cron' ;; esac
exit 0
"@
        }
        & $stub id "echo $Uid"
        if ($Sudo) { & $stub sudo "echo `"sudo `$*`" >> '$log'; `"`$@`"" }
        foreach ($tool in @('etcd', 'etcdctl', 'curl', 'openssl', 'ip', 'chromium', 'chromedriver', 'fio', 'crontab') | Where-Object { $_ -notin $Missing }) { & $stub $tool 'exit 0' }
        # cron: the daemon "runs" once started (a marker file pgrep looks for), as the Debian daemon detaches itself.
        if ('cron' -notin $Missing) { & $stub cron $cronStub }
        & $stub pgrep "[ -e '$root/cron-running' ]"
        [pscustomobject]@{ Root = $root; Bin = "$bin"; Log = $log }
    }

    function Invoke-Prepare($Sandbox) {
        $env:PATH, $saved = $Sandbox.Bin, $env:PATH
        try {
            $env:K3DETCD_DOCKERD_TIMEOUT = '5'
            $out = & $bash $script 2>&1
            [pscustomobject]@{ ExitCode = $LASTEXITCODE; Output = ($out -join "`n"); Calls = @(Get-Content $Sandbox.Log) }
        }
        finally {
            $env:PATH = $saved
            Remove-Item Env:K3DETCD_DOCKERD_TIMEOUT
            Remove-Item $Sandbox.Root -Recurse -Force
        }
    }
}

Describe 'prepare-docker.sh on a fresh machine' {
    It 'installs and starts the engine when only the docker CLI is there' {
        $r = Invoke-Prepare (New-Sandbox -Missing etcd, etcdctl)
        $r.ExitCode | Should -Be 0 -Because $r.Output
        $install = $r.Calls | Where-Object { $_ -like 'apt-get install*' }
        $install | Should -Match '\bdocker\.io\b'
        $install | Should -Match '\betcd-server\b'
        $install | Should -Match '\betcd-client\b'
        $r.Calls | Should -Contain 'dockerd'
        $r.Output | Should -Match 'engine ready'
    }

    It 'installs iproute2 when ip is missing (the multi-engine tests make bridges with it)' {
        $r = Invoke-Prepare (New-Sandbox -EngineAnswers -Missing ip)
        $r.ExitCode | Should -Be 0 -Because $r.Output
        $install = $r.Calls | Where-Object { $_ -like 'apt-get install*' }
        $install | Should -Match '\biproute2\b'
        $install | Should -Not -Match '\bdocker\.io\b'
    }

    It 'installs fio and cron when they are missing, and starts the cron daemon (scheduled backups)' {
        $r = Invoke-Prepare (New-Sandbox -EngineAnswers -Missing fio, crontab, cron)
        $r.ExitCode | Should -Be 0 -Because $r.Output
        $install = $r.Calls | Where-Object { $_ -like 'apt-get install*' }
        $install | Should -Match '\bfio\b'
        $install | Should -Match '\bcron\b'
        $install | Should -Not -Match '\bdocker\.io\b'
        $r.Calls | Should -Contain 'cron'
    }

    It 'starts the cron daemon when it is installed but not running' {
        $r = Invoke-Prepare (New-Sandbox -EngineAnswers)
        $r.ExitCode | Should -Be 0 -Because $r.Output
        $r.Calls | Should -Contain 'cron'
        $r.Output | Should -Match 'starting cron'
    }

    It 'starts an installed engine without installing it again' {
        $r = Invoke-Prepare (New-Sandbox -Dockerd)
        $r.ExitCode | Should -Be 0 -Because $r.Output
        $r.Calls | Where-Object { $_ -like 'apt-get*' } | Should -BeNullOrEmpty
        $r.Calls | Should -Contain 'dockerd'
    }

    It 'uses an engine that already answers and installs nothing' {
        $r = Invoke-Prepare (New-Sandbox -EngineAnswers)
        $r.ExitCode | Should -Be 0 -Because $r.Output
        $r.Calls | Where-Object { $_ -like 'apt-get*' -or $_ -eq 'dockerd' } | Should -BeNullOrEmpty
        $r.Calls | Should -Contain 'docker info'
    }

    It 'installs through sudo when not root' {
        $r = Invoke-Prepare (New-Sandbox -Uid 1000 -Sudo)
        $r.ExitCode | Should -Be 0 -Because $r.Output
        $r.Calls | Where-Object { $_ -like 'sudo apt-get install*' } | Should -Match '\bdocker\.io\b'
        $r.Calls | Should -Contain 'sudo dockerd'
    }

    It 'fails fast with one sentence when it cannot install (<Case>)' -ForEach @(
        @{ Case = 'not Debian/Ubuntu'; Options = @{ NoAptGet = $true }; Says = 'not a Debian/Ubuntu machine.*Docker Desktop' }
        @{ Case = 'not root, no sudo'; Options = @{ Uid = 1000 }; Says = "needs root or sudo: run 'sudo apt-get install -y docker\.io" }
    ) {
        $sandbox = New-Sandbox @Options
        $r = Invoke-Prepare $sandbox
        $r.ExitCode | Should -Be 1
        $r.Output | Should -Match $Says
        $r.Output | Should -Not -Match 'command not found'
        @($r.Output -split "`n" | Where-Object { $_ }).Count | Should -Be 1
        $r.Calls | Where-Object { $_ -like '*dockerd*' -or $_ -like 'apt-get*' } | Should -BeNullOrEmpty
    }
}
