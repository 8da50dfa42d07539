BeforeAll {
    . "$PSScriptRoot/TestHelpers.ps1"
    $script:moduleFolder = Split-Path $script:ModulePath
    $script:version = (Import-PowerShellDataFile $script:ModulePath).ModuleVersion
    $script:nupkg = Join-Path $PSScriptRoot "../../out/package/K3dEtcd.$version.nupkg"
}

Describe 'Gallery package (build.ps1 Package)' {
    It 'contains exactly the module folder' {
        Test-Path $nupkg | Should -BeTrue -Because 'build.ps1 Test runs Package first'
        Add-Type -AssemblyName System.IO.Compression.FileSystem
        $zip = [IO.Compression.ZipFile]::OpenRead((Resolve-Path $nupkg))
        try {
            $packaged = $zip.Entries.FullName | Where-Object { $_ -notmatch '^(_rels/|package/|\[Content_Types\]\.xml$|K3dEtcd\.nuspec$)' } | Sort-Object
        }
        finally { $zip.Dispose() }
        $folder = Get-ChildItem $moduleFolder -Recurse -File | ForEach-Object { [IO.Path]::GetRelativePath($moduleFolder, $_.FullName).Replace('\', '/') } | Sort-Object
        $packaged | Should -Be $folder
    }

    It 'installs from a local file repository with Save-PSResource and imports from there' {
        $repoName = "k3detcd-test-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
        $repoDir = Join-Path ([IO.Path]::GetTempPath()) $repoName
        $dest = Join-Path ([IO.Path]::GetTempPath()) "$repoName-saved"
        New-Item -ItemType Directory $repoDir, $dest | Out-Null
        Copy-Item $nupkg $repoDir
        Register-PSResourceRepository -Name $repoName -Uri $repoDir -Trusted
        try {
            Save-PSResource -Name K3dEtcd -Repository $repoName -Path $dest -TrustRepository -ErrorAction Stop
            $saved = Join-Path $dest "K3dEtcd/$version/K3dEtcd.psd1"
            Test-Path $saved | Should -BeTrue
            $out = Invoke-FreshPwshWithModule $saved '(Get-Command -Module K3dEtcd).Count; (Get-Help New-EtcdCluster).Synopsis'
            [int]$out[0] | Should -Be @(Get-Command -Module K3dEtcd).Count
            $out[1] | Should -Match 'etcd cluster'
        }
        finally {
            Unregister-PSResourceRepository -Name $repoName
            Remove-Item $repoDir, $dest -Recurse -Force
        }
    }

    It 'writes -ProjectUri and -LicenseUri into the packaged manifest only' {
        $out = Join-Path ([IO.Path]::GetTempPath()) "k3detcd-links-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
        $extracted = "$out-x"
        $pwsh = Get-FreshPwsh; $self = $pwsh.File; $prefix = $pwsh.Prefix
        try {
            & $self @prefix -NoProfile -NonInteractive -File "$PSScriptRoot/../../build.ps1" Package -NoBuild -PackagePath $out `
                -ProjectUri 'https://example.org/k3detcd' -LicenseUri 'https://example.org/k3detcd/LICENSE' | Out-Null
            $LASTEXITCODE | Should -Be 0
            Expand-Archive (Join-Path $out "K3dEtcd.$version.nupkg") $extracted
            $nuspec = [xml](Get-Content "$extracted/K3dEtcd.nuspec" -Raw)
            $nuspec.package.metadata.projectUrl | Should -Be 'https://example.org/k3detcd'
            $nuspec.package.metadata.licenseUrl | Should -Be 'https://example.org/k3detcd/LICENSE'
            $manifest = Test-ModuleManifest "$extracted/K3dEtcd.psd1"
            $manifest.ProjectUri | Should -Be 'https://example.org/k3detcd'
            $manifest.LicenseUri | Should -Be 'https://example.org/k3detcd/LICENSE'
            @($manifest.ExportedCmdlets.Keys).Count | Should -Be @((Test-ModuleManifest $ModulePath).ExportedCmdlets.Keys).Count
            (Test-ModuleManifest $ModulePath).ProjectUri | Should -BeNullOrEmpty -Because 'the repository names no URL until the project has one'
        }
        finally { Remove-Item $out, $extracted -Recurse -Force -ErrorAction Ignore }
    }

    It 'refuses a link that is not an absolute http(s) URL' {
        $pwsh = Get-FreshPwsh; $self = $pwsh.File; $prefix = $pwsh.Prefix
        $err = & $self @prefix -NoProfile -NonInteractive -File "$PSScriptRoot/../../build.ps1" Package -NoBuild -PackagePath (Join-Path ([IO.Path]::GetTempPath()) "k3detcd-badlink-$PID") -ProjectUri 'k3detcd/readme' 2>&1
        $LASTEXITCODE | Should -Not -Be 0
        "$err" | Should -Match 'not an absolute http\(s\) URL'
    }
}
