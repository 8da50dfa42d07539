<#
.SYNOPSIS
    Generates the module's MAML help (en-US/K3dEtcd.dll-Help.xml) from the cmdlets' XML doc comments.
.DESCRIPTION
    platyPS is not available everywhere we build, and help that lives next to the code cannot drift
    from it: parameter sets, types, positions, pipeline input and aliases come from the imported
    module (Get-Command), the prose from the C# doc comments:
      class   <summary>  synopsis (first paragraph) and description (the rest), or
              <para type="synopsis"> / <para type="description">; <remarks> adds to the description;
              <example> one per example: <code> is the command, the remaining text its explanation.
      property <summary> the parameter's description.
    Runs in a fresh pwsh so the freshly built assembly is never locked by the build's own process.
.EXAMPLE
    dotnet pwsh -NoProfile -File src/K3dEtcd/Help/New-MamlHelp.ps1 -ModuleFolder out/K3dEtcd/0.1.0 -DocFile src/K3dEtcd/bin/Debug/net8.0/K3dEtcd.xml
#>
param(
    [Parameter(Mandatory)] [string] $ModuleFolder,
    [Parameter(Mandatory)] [string] $DocFile
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$ModuleFolder = (Resolve-Path $ModuleFolder).Path
$module = Import-Module (Join-Path $ModuleFolder 'K3dEtcd.psd1') -PassThru -Force
[xml] $docs = Get-Content $DocFile -Raw
$members = @{}
foreach ($m in $docs.doc.members.member) { $members[$m.name] = $m }

function Get-Text($node) {
    if ($null -eq $node) { return '' }
    $text = $node.InnerXml -replace '<see cref="[A-Z]:([^"]+)"\s*/>', '$1' -replace '<paramref name="([^"]+)"\s*/>', '-$1' -replace '<c>(.*?)</c>', '$1' -replace '<[^>]+>', ''
    ($text -split "`n" | ForEach-Object { $_.Trim() }) -join ' ' -replace '\s{2,}', ' ' -replace '&lt;', '<' -replace '&gt;', '>' -replace '&amp;', '&' -replace '&quot;', '"'
}

function Get-Paragraphs($node) {
    if ($null -eq $node) { return @() }
    $paras = @($node.SelectNodes('para'))
    if ($paras.Count -eq 0) { return @((Get-Text $node).Trim()) | Where-Object { $_ } }
    return @($paras | ForEach-Object { (Get-Text $_).Trim() } | Where-Object { $_ })
}

$maml = 'http://schemas.microsoft.com/maml/2004/10'
$cmdNs = 'http://schemas.microsoft.com/maml/dev/command/2004/10'
$devNs = 'http://schemas.microsoft.com/maml/dev/2004/10'
$settings = [System.Xml.XmlWriterSettings]@{ Indent = $true; Encoding = [System.Text.UTF8Encoding]::new($false) }
$outDir = Join-Path $ModuleFolder 'en-US'
New-Item -ItemType Directory -Force $outDir | Out-Null
$writer = [System.Xml.XmlWriter]::Create((Join-Path $outDir 'K3dEtcd.dll-Help.xml'), $settings)

function Write-Para([string] $text) { $writer.WriteElementString('maml', 'para', $maml, $text) }

$common = [System.Management.Automation.Internal.CommonParameters].GetProperties().Name
$standardDescriptions = @{
    WhatIf  = 'Shows what would happen if the cmdlet runs. The cmdlet is not run.'
    Confirm = 'Prompts you for confirmation before running the cmdlet.'
}

# $p is a CommandParameterInfo (from one parameter set), which knows position, mandatory and pipeline input.
function Write-Parameter($cmd, $p, [bool] $inAllSets) {
    $type = $p.ParameterType
    $prop = $cmd.ImplementingType.GetProperty($p.Name)
    $doc = if ($prop) { $members["P:$($prop.DeclaringType.FullName).$($p.Name)"] } else { $null }
    $attrs = $p
    $pipeline = @()
    if ($attrs.ValueFromPipeline) { $pipeline += 'ByValue' }
    if ($attrs.ValueFromPipelineByPropertyName) { $pipeline += 'ByPropertyName' }
    $writer.WriteStartElement('command', 'parameter', $cmdNs)
    $writer.WriteAttributeString('required', "$($attrs.IsMandatory)".ToLower())
    $writer.WriteAttributeString('variableLength', "$($type.IsArray)".ToLower())
    $writer.WriteAttributeString('globbing', "$([bool]($prop -and $prop.GetCustomAttributes([System.Management.Automation.SupportsWildcardsAttribute], $true)))".ToLower())
    $writer.WriteAttributeString('pipelineInput', $(if ($pipeline) { "True ($($pipeline -join ', '))" } else { 'False' }))
    $writer.WriteAttributeString('position', $(if ($attrs.Position -ge 0) { "$($attrs.Position)" } else { 'named' }))
    $writer.WriteAttributeString('aliases', $(if ($p.Aliases.Count) { $p.Aliases -join ', ' } else { 'none' }))
    $writer.WriteElementString('maml', 'name', $maml, $p.Name)
    $writer.WriteStartElement('maml', 'description', $maml)
    foreach ($para in (Get-Paragraphs $(if ($doc) { $doc.SelectSingleNode('summary') }))) { Write-Para $para }
    if (-not $doc -and $standardDescriptions.ContainsKey($p.Name)) { Write-Para $standardDescriptions[$p.Name] }
    if ($type.IsEnum) { Write-Para "Accepted values: $([enum]::GetNames($type) -join ', ')." }
    $writer.WriteEndElement()
    if ($type -ne [System.Management.Automation.SwitchParameter]) {
        $writer.WriteStartElement('command', 'parameterValue', $cmdNs)
        $writer.WriteAttributeString('required', 'true')
        $writer.WriteAttributeString('variableLength', "$($type.IsArray)".ToLower())
        $writer.WriteString($type.Name)
        $writer.WriteEndElement()
    }
    $writer.WriteStartElement('dev', 'type', $devNs)
    $writer.WriteElementString('maml', 'name', $maml, $type.FullName)
    $writer.WriteEndElement()
    $writer.WriteElementString('dev', 'defaultValue', $devNs, 'None')
    $writer.WriteEndElement()
}

$writer.WriteStartDocument()
$writer.WriteStartElement('helpItems', 'http://msh')
$writer.WriteAttributeString('schema', 'maml')
foreach ($cmd in (Get-Command -Module $module.Name -CommandType Cmdlet | Sort-Object Name)) {
    $type = $cmd.ImplementingType
    $classDoc = $members["T:$($type.FullName)"]
    $synopsisNode = if ($classDoc) { $classDoc.SelectSingleNode('summary/para[@type="synopsis"]') } else { $null }
    $summaryParas = @(if ($classDoc) { Get-Paragraphs $classDoc.SelectSingleNode('summary') })
    $synopsis = if ($synopsisNode) { Get-Text $synopsisNode } elseif ($summaryParas) { $summaryParas[0] } else { '' }
    $description = @()
    if ($classDoc) {
        $typed = @($classDoc.SelectNodes('summary/para[@type="description"]'))
        $description += if ($typed) { $typed | ForEach-Object { Get-Text $_ } } elseif ($summaryParas.Count -gt 1) { $summaryParas[1..($summaryParas.Count - 1)] } else { @() }
        $description += Get-Paragraphs $classDoc.SelectSingleNode('remarks')
    }
    if (-not $description) { $description = @($synopsis) }

    $writer.WriteStartElement('command', 'command', $cmdNs)
    $writer.WriteAttributeString('xmlns', 'maml', $null, $maml)
    $writer.WriteAttributeString('xmlns', 'command', $null, $cmdNs)
    $writer.WriteAttributeString('xmlns', 'dev', $null, $devNs)
    $writer.WriteStartElement('command', 'details', $cmdNs)
    $writer.WriteElementString('command', 'name', $cmdNs, $cmd.Name)
    $writer.WriteElementString('command', 'verb', $cmdNs, $cmd.Verb)
    $writer.WriteElementString('command', 'noun', $cmdNs, $cmd.Noun)
    $writer.WriteStartElement('maml', 'description', $maml); Write-Para $synopsis; $writer.WriteEndElement()
    $writer.WriteEndElement()
    $writer.WriteStartElement('maml', 'description', $maml); foreach ($d in $description) { Write-Para $d }; $writer.WriteEndElement()

    $writer.WriteStartElement('command', 'syntax', $cmdNs)
    foreach ($set in $cmd.ParameterSets) {
        $writer.WriteStartElement('command', 'syntaxItem', $cmdNs)
        $writer.WriteElementString('maml', 'name', $maml, $cmd.Name)
        foreach ($p in $set.Parameters | Where-Object { $_.Name -notin $common }) { Write-Parameter $cmd $p $false }
        $writer.WriteEndElement()
    }
    $writer.WriteEndElement()

    $writer.WriteStartElement('command', 'parameters', $cmdNs)
    $seen = @{}
    foreach ($p in $cmd.ParameterSets.Parameters | Where-Object { $_.Name -notin $common } | Sort-Object Name) {
        if (-not $seen.ContainsKey($p.Name)) { $seen[$p.Name] = $true; Write-Parameter $cmd $p $true }
    }
    $writer.WriteEndElement()

    $inputs = @($cmd.ParameterSets.Parameters | Where-Object { $_.Name -notin $common -and ($_.ValueFromPipeline -or $_.ValueFromPipelineByPropertyName) } | ForEach-Object { $_.ParameterType.FullName } | Select-Object -Unique)
    $writer.WriteStartElement('command', 'inputTypes', $cmdNs)
    foreach ($i in $(if ($inputs) { $inputs } else { @('None') })) {
        $writer.WriteStartElement('command', 'inputType', $cmdNs)
        $writer.WriteStartElement('dev', 'type', $devNs); $writer.WriteElementString('maml', 'name', $maml, $i); $writer.WriteEndElement()
        $writer.WriteEndElement()
    }
    $writer.WriteEndElement()
    $writer.WriteStartElement('command', 'returnValues', $cmdNs)
    foreach ($o in $(if ($cmd.OutputType | Where-Object Name -ne 'System.Void') { $cmd.OutputType.Name } else { @('None') })) {
        $writer.WriteStartElement('command', 'returnValue', $cmdNs)
        $writer.WriteStartElement('dev', 'type', $devNs); $writer.WriteElementString('maml', 'name', $maml, $o); $writer.WriteEndElement()
        $writer.WriteEndElement()
    }
    $writer.WriteEndElement()

    $writer.WriteStartElement('command', 'examples', $cmdNs)
    $n = 0
    foreach ($ex in $(if ($classDoc) { @($classDoc.SelectNodes('example')) } else { @() })) {
        $n++
        $code = ($ex.SelectSingleNode('code').InnerText -split "`n" | ForEach-Object { $_.TrimEnd() } | Where-Object { $_ -ne '' }) -join "`n"
        $clone = $ex.CloneNode($true); $null = $clone.RemoveChild($clone.SelectSingleNode('code'))
        $writer.WriteStartElement('command', 'example', $cmdNs)
        $writer.WriteElementString('maml', 'title', $maml, "-------------------------- Example $n --------------------------")
        $writer.WriteElementString('dev', 'code', $devNs, $code.Trim())
        $writer.WriteStartElement('dev', 'remarks', $devNs); foreach ($r in (Get-Paragraphs $clone)) { Write-Para $r }; $writer.WriteEndElement()
        $writer.WriteEndElement()
    }
    $writer.WriteEndElement()
    $writer.WriteStartElement('command', 'relatedLinks', $cmdNs)
    $writer.WriteStartElement('maml', 'navigationLink', $maml); $writer.WriteElementString('maml', 'linkText', $maml, 'about_K3dEtcd'); $writer.WriteEndElement()
    $writer.WriteEndElement()
    $writer.WriteEndElement()
}
$writer.WriteEndElement()
$writer.WriteEndDocument()
$writer.Close()
Copy-Item (Join-Path $PSScriptRoot 'about_K3dEtcd.help.txt') $outDir -Force
