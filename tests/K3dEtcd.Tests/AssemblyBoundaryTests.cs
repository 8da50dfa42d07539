using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using K3dEtcd.Model;

namespace K3dEtcd.Tests;

/// <summary>
/// The cmdlet and model assemblies load in PowerShell's default context; any reference from them to
/// a third-party assembly would pull that assembly there and defeat the private load context.
/// </summary>
public sealed class AssemblyBoundaryTests
{
    private static readonly string[] Allowed = ["System", "netstandard", "mscorlib", "Microsoft.Win32", "System.Management.Automation", "K3dEtcd.Model", "K3dEtcd.Engine"];

    private static bool IsAllowed(string name) => Allowed.Any(a => name == a || name.StartsWith(a + ".", StringComparison.Ordinal));

    [Fact]
    public void The_cmdlet_assembly_references_no_third_party_assembly()
    {
        // Read the metadata rather than load the assembly: its cmdlet types need PowerShell itself.
        using var pe = new PEReader(File.OpenRead(Path.Combine(AppContext.BaseDirectory, "K3dEtcd.dll")));
        var md = pe.GetMetadataReader();
        var refs = md.AssemblyReferences.Select(h => md.GetString(md.GetAssemblyReference(h).Name)).ToList();
        Assert.Contains("K3dEtcd.Engine", refs);
        Assert.All(refs, r => Assert.True(IsAllowed(r), $"K3dEtcd.dll references {r}"));
    }

    [Fact]
    public void The_model_assembly_references_only_the_framework()
    {
        var refs = typeof(EtcdCluster).Assembly.GetReferencedAssemblies().Select(a => a.Name!).ToList();
        Assert.All(refs, r => Assert.True(r == "netstandard" || r.StartsWith("System", StringComparison.Ordinal), $"K3dEtcd.Model.dll references {r}"));
    }
}
