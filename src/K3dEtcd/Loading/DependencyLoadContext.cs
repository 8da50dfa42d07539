using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.Loader;

namespace K3dEtcd.Commands;

/// <summary>
/// Keeps the module's dependencies (Docker.DotNet, gRPC, Protobuf, CliWrap, Microsoft.Extensions.*)
/// out of PowerShell's default load context, so a session that already loaded other versions of
/// them (another module) and K3dEtcd each get their own. The pattern is Microsoft's "resolving
/// PowerShell module assembly dependency conflicts": the cmdlets (K3dEtcd.dll) and the output types
/// (K3dEtcd.Model.dll) load in the default context; K3dEtcd.Engine.dll and everything it needs
/// load from the module's dependencies/ folder into this private context. The cmdlet assembly never
/// references a dependency directly (a test checks its assembly references), so the default context
/// only ever asks for K3dEtcd.Engine, which this resolver hands to the private context.
/// </summary>
internal sealed class DependencyLoadContext : AssemblyLoadContext
{
    private static int _registered;

    private static readonly string ModuleDirectory = Path.GetDirectoryName(typeof(DependencyLoadContext).Assembly.Location)!;
    private static readonly string DependencyDirectory = Path.Combine(ModuleDirectory, "dependencies");
    private static readonly Lazy<DependencyLoadContext> Instance = new(() => new DependencyLoadContext());

    private DependencyLoadContext() : base("K3dEtcd.Dependencies", isCollectible: false) { }

    /// <summary>Runs when K3dEtcd.dll is loaded, before any cmdlet type is touched.</summary>
    // CA2255 warns that module initializers are for apps; registering a resolver before PowerShell
    // reflects over the cmdlet types is exactly the case they exist for.
#pragma warning disable CA2255
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Register()
    {
        // Only in the module layout: builds and tests load everything side by side in the usual way.
        if (Directory.Exists(DependencyDirectory) && Interlocked.Exchange(ref _registered, 1) == 0)
        {
            AssemblyLoadContext.Default.Resolving += ResolveFromDefault;
        }
    }

    private static Assembly? ResolveFromDefault(AssemblyLoadContext context, AssemblyName name)
    {
        if (name.Name == "K3dEtcd.Engine") return Instance.Value.LoadFromAssemblyPath(Path.Combine(DependencyDirectory, "K3dEtcd.Engine.dll"));
        if (name.Name == "K3dEtcd.Model") return context.LoadFromAssemblyPath(Path.Combine(ModuleDirectory, "K3dEtcd.Model.dll"));
        return null;
    }

    protected override Assembly? Load(AssemblyName name)
    {
        // The output types must be the very ones the cmdlets use: defer to the default context.
        if (name.Name is "K3dEtcd.Model" or "K3dEtcd") return null;
        var path = Path.Combine(DependencyDirectory, name.Name + ".dll");
        return File.Exists(path) ? LoadFromAssemblyPath(path) : null;
    }
}

/// <summary>PowerShell's own import hook: registers the resolver even if nothing touched the assembly yet.</summary>
public sealed class ModuleInitializer : System.Management.Automation.IModuleAssemblyInitializer
{
    public void OnImport() => DependencyLoadContext.Register();
}
