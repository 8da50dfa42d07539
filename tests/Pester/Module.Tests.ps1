BeforeDiscovery {
    . "$PSScriptRoot/TestHelpers.ps1"
    $script:cmdlets = @(Get-Command -Module K3dEtcd -CommandType Cmdlet | ForEach-Object { @{ Name = $_.Name } })
}

BeforeAll {
    . "$PSScriptRoot/TestHelpers.ps1"
    $script:manifestPath = Join-Path (Split-Path $script:ModulePath) 'K3dEtcd.psd1'
}

Describe 'Module manifest' {
    It 'passes Test-ModuleManifest' {
        $m = Test-ModuleManifest $manifestPath -ErrorAction Stop
        $m.Name | Should -Be 'K3dEtcd'
        $m.CompatiblePSEditions | Should -Be @('Core')
        $m.PowerShellVersion | Should -Be ([version]'7.4')
        $m.Tags | Should -Contain 'etcd'
        $m.Description | Should -Not -BeNullOrEmpty
    }

    It 'exports exactly the cmdlets it lists, with no wildcards' {
        $data = Import-PowerShellDataFile $manifestPath
        $data.CmdletsToExport | Should -Not -Contain '*'
        $data.FunctionsToExport | Should -BeNullOrEmpty
        $exported = (Get-Command -Module K3dEtcd -CommandType Cmdlet).Name | Sort-Object
        $exported | Should -Be ($data.CmdletsToExport | Sort-Object)
    }

    It 'ships help, format file and every dependency in the module folder' {
        $folder = Split-Path $manifestPath
        Test-Path "$folder/en-US/K3dEtcd.dll-Help.xml" | Should -BeTrue
        Test-Path "$folder/en-US/about_K3dEtcd.help.txt" | Should -BeTrue
        Test-Path "$folder/K3dEtcd.format.ps1xml" | Should -BeTrue
        Test-Path "$folder/K3dEtcd.dll", "$folder/K3dEtcd.Model.dll" | Should -Be @($true, $true)
        # Dependencies live apart, for the module's private load context.
        foreach ($dep in 'K3dEtcd.Engine.dll', 'Docker.DotNet.dll', 'dotnet-etcd.dll', 'Grpc.Net.Client.dll', 'Google.Protobuf.dll', 'CliWrap.dll') {
            Test-Path "$folder/dependencies/$dep" | Should -BeTrue -Because "$dep must ship with the module"
            Test-Path "$folder/$dep" | Should -BeFalse -Because "$dep must not load in the default context"
        }
        Test-Path "$folder/System.Management.Automation.dll" | Should -BeFalse -Because 'pwsh brings its own'
    }

    It 'uses approved verbs only' {
        $approved = (Get-Verb).Verb
        foreach ($c in Get-Command -Module K3dEtcd) { $approved | Should -Contain $c.Verb }
    }
}

Describe 'Help for <Name>' -ForEach $cmdlets {
    BeforeAll {
        $script:help = Get-Help $Name -Full
        $script:common = [System.Management.Automation.Internal.CommonParameters].GetProperties().Name
    }

    It 'has a synopsis and a description' {
        $help.Synopsis | Should -Not -BeNullOrEmpty
        $help.Synopsis | Should -Not -Match "^\s*$Name\s"   # not the auto-generated syntax line
        ($help.description.Text -join ' ') | Should -Not -BeNullOrEmpty
    }

    It 'has at least two examples with code and an explanation' {
        @($help.examples.example).Count | Should -BeGreaterOrEqual 2
        foreach ($e in $help.examples.example) {
            $e.code | Should -Match $Name -Because 'an example shows the cmdlet in use'
            ($e.remarks.Text -join '') | Should -Not -BeNullOrEmpty
        }
    }

    It 'describes every parameter' {
        $params = (Get-Command $Name).Parameters.Keys | Where-Object { $_ -notin $common }
        foreach ($p in $params) {
            $ph = Get-Help $Name -Parameter $p
            ($ph.description.Text -join '') | Should -Not -BeNullOrEmpty -Because "-$p needs a description"
        }
    }
}

Describe 'about_K3dEtcd' {
    It 'explains the main flow' {
        $about = Get-Help about_K3dEtcd | Out-String
        $about | Should -Match 'New-EtcdCluster'
        $about | Should -Match 'New-K3dCluster'
        $about | Should -Match 'Remove-EtcdCluster'
    }
}

Describe 'Default views' -Tag Docker {
    BeforeAll {
        Assert-DockerAvailable
        $script:name = New-TestName 'view'
        $script:cluster = New-EtcdCluster $name -Size 1 -ProgressAction SilentlyContinue
    }
    AfterAll { Remove-EtcdCluster $name -Force -ErrorAction Ignore }

    It 'shows a cluster as a table with name, state, size, version, TlsUntil and endpoints' {
        $lines = ($cluster | Format-Table | Out-String -Width 80) -split "`r?`n" | Where-Object { $_.Trim() }
        $lines[0] | Should -Match '^Name\s+State\s+Size\s+Version\s+TlsUntil\s+Endpoints\s*$'
        $lines[2] | Should -Match ([regex]::Escape($name))
        foreach ($l in $lines) { $l.Length | Should -BeLessOrEqual 80 }
    }

    It 'shows members as a table with name, id, state and both URLs within 80 columns' {
        $lines = ($cluster.Members | Format-Table | Out-String -Width 80) -split "`r?`n" | Where-Object { $_.Trim() }
        $lines[0] | Should -Match '^Name\s+Id\s+State\s+ClientUrl\s+NetworkClientUrl\s*$'
        $lines[2] | Should -Match $cluster.Members[0].Id
        foreach ($l in $lines) { $l.Length | Should -BeLessOrEqual 80 }
    }
}

Describe 'Tab completion' -Tag Docker {
    BeforeAll {
        Assert-DockerAvailable
        $script:name = New-TestName 'tab'
        $null = New-EtcdCluster $name -Size 1 -ProgressAction SilentlyContinue
    }
    AfterAll { Remove-EtcdCluster $name -Force -ErrorAction Ignore }

    It 'completes cluster names from Docker labels for <Command>' -ForEach @(
        @{ Command = 'Get-EtcdCluster' }
        @{ Command = 'Remove-EtcdCluster' }
    ) {
        $line = "$Command $($name.Substring(0, 6))"
        $r = TabExpansion2 -inputScript $line -cursorColumn $line.Length
        $r.CompletionMatches.CompletionText | Should -Contain $name
    }
}

Describe 'Tab completion of members and keys' -Tag Docker {
    BeforeAll {
        Assert-DockerAvailable
        $script:name = New-TestName 'tabk'
        $script:c = New-EtcdCluster $name -Size 1 -ProgressAction SilentlyContinue
        Set-EtcdKey -Cluster $c -Key /registry/pods/default/web -Value x
        Set-EtcdKey -Cluster $c -Key /registry/services/default/web -Value x
        Set-EtcdKey -Cluster $c -Key /other -Value x
    }
    AfterAll { Remove-EtcdCluster $name -Force -ErrorAction Ignore }

    It 'completes member names of the cluster named on the line (<Command>)' -ForEach @(
        @{ Command = 'Stop-EtcdMember' }, @{ Command = 'Remove-EtcdMember' }
    ) {
        $line = "$Command -Cluster $name -Name "
        $r = TabExpansion2 -inputScript $line -cursorColumn $line.Length
        $r.CompletionMatches.CompletionText | Should -Be @("${name}0")
    }

    It 'completes keys one path segment at a time' {
        $line = "Get-EtcdKey -Cluster $name -Key /reg"
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Be @('/registry/')
        $line = "Get-EtcdKey -Cluster $name -Key /registry/"
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Be @('/registry/pods/', '/registry/services/')
        $line = "Remove-EtcdKey -Endpoint $($c.Endpoints[0]) -Key /o"
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Be @('/other')
    }

    It 'completes nothing, quickly, when the cluster does not exist' {
        $sw = [Diagnostics.Stopwatch]::StartNew()
        $line = 'Get-EtcdKey -Cluster no-such-cluster-k3detcd -Key /'
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches | Should -BeNullOrEmpty
        $sw.Elapsed.TotalSeconds | Should -BeLessThan 5
    }
}
