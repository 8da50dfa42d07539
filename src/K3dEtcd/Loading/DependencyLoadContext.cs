using System.Management.Automation;
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
///
/// The build writes dependencies/K3dEtcd.dependencies.txt: the name and version of every assembly it
/// staged. Only those names load, and only at those versions: a file replaced by another version
/// (a hand-copied DLL, a half-updated install) is refused at import with one clear sentence instead
/// of failing later with a MissingMethodException deep inside a call.
/// </summary>
internal sealed class DependencyLoadContext : AssemblyLoadContext
{
    internal const string ListFileName = "K3dEtcd.dependencies.txt";

    private static int _registered;

    private static readonly string ModuleDirectory = Path.GetDirectoryName(typeof(DependencyLoadContext).Assembly.Location)!;
    private static readonly string DependencyDirectory = Path.Combine(ModuleDirectory, "dependencies");
    private static readonly Lazy<DependencyLoadContext> Instance = new(() => new DependencyLoadContext());
    private static readonly Lazy<IReadOnlyDictionary<string, Version>> Expected = new(ReadList);

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

    /// <summary>
    /// Remove-Module: the default context must stop asking us (a later import of another copy of the
    /// module registers its own resolver; two would race). Importing again registers again.
    /// </summary>
    internal static void Unregister()
    {
        if (Interlocked.Exchange(ref _registered, 0) == 1)
        {
            AssemblyLoadContext.Default.Resolving -= ResolveFromDefault;
        }
    }

    internal static bool IsRegistered => Volatile.Read(ref _registered) == 1;

    /// <summary>
    /// Checks every staged assembly against the list the build wrote; throws with the file, the
    /// version found and the version expected. Reads only metadata (no assembly is loaded).
    /// </summary>
    internal static void Verify()
    {
        if (!Directory.Exists(DependencyDirectory)) return;
        foreach (var (name, expected) in Expected.Value)
        {
            var path = PathOf(name);
            if (!File.Exists(path))
                throw new FileNotFoundException($"K3dEtcd cannot load: '{path}' is missing. The module folder is incomplete; reinstall the module.", path);
            var found = AssemblyName.GetAssemblyName(path).Version;
            if (found != expected)
                throw new FileLoadException(WrongVersion(path, found, expected), path);
        }
    }

    private static string WrongVersion(string path, Version? found, Version expected) =>
        $"K3dEtcd cannot load '{path}': it is version {found}, but this module was built with version {expected}. " +
        "Replace the file with the one the module shipped with (reinstall the module).";

    private static string PathOf(string name) =>
        name == "K3dEtcd.Model" ? Path.Combine(ModuleDirectory, name + ".dll") : Path.Combine(DependencyDirectory, name + ".dll");

    private static IReadOnlyDictionary<string, Version> ReadList()
    {
        var list = Path.Combine(DependencyDirectory, ListFileName);
        if (!File.Exists(list))
            throw new FileNotFoundException($"K3dEtcd cannot load: '{list}' is missing. The module folder is incomplete; reinstall the module.", list);
        var result = new Dictionary<string, Version>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in File.ReadLines(list))
        {
            var parts = line.Split('|', StringSplitOptions.TrimEntries);
            if (parts.Length == 2 && parts[0].Length > 0 && Version.TryParse(parts[1], out var v)) result[parts[0]] = v;
        }
        return result;
    }

    /// <summary>The path of a listed assembly at the expected version, or null for names we do not ship.</summary>
    private static string? Checked(string? name)
    {
        if (name is null || !Expected.Value.TryGetValue(name, out var expected)) return null;
        var path = PathOf(name);
        if (!File.Exists(path)) return null;
        var found = AssemblyName.GetAssemblyName(path).Version;
        return found == expected ? path : throw new FileLoadException(WrongVersion(path, found, expected), path);
    }

    private static Assembly? ResolveFromDefault(AssemblyLoadContext context, AssemblyName name)
    {
        if (name.Name == "K3dEtcd.Engine" && Checked(name.Name) is { } engine) return Instance.Value.LoadFromAssemblyPath(engine);
        if (name.Name == "K3dEtcd.Model" && Checked(name.Name) is { } model) return context.LoadFromAssemblyPath(model);
        return null;
    }

    protected override Assembly? Load(AssemblyName name)
    {
        // The output types must be the very ones the cmdlets use: defer to the default context.
        if (name.Name is "K3dEtcd.Model" or "K3dEtcd") return null;
        return Checked(name.Name) is { } path ? LoadFromAssemblyPath(path) : null;
    }
}

/// <summary>
/// PowerShell's own import and remove hooks: the import checks the staged dependencies and registers
/// the resolver (even if nothing touched the assembly yet); Remove-Module unhooks it.
/// </summary>
public sealed class ModuleInitializer : IModuleAssemblyInitializer, IModuleAssemblyCleanup
{
    public void OnImport()
    {
        try
        {
            DependencyLoadContext.Verify();
            DependencyLoadContext.Register();
        }
        catch
        {
            // A refused import must not leave a resolver behind that serves the wrong files.
            DependencyLoadContext.Unregister();
            throw;
        }
    }

    // One cleanup for the whole assembly: PowerShell runs only one IModuleAssemblyCleanup, and a second
    // one made the resolver miss its re-registration on `Import-Module -Force`.
    public void OnRemove(PSModuleInfo psModuleInfo)
    {
        // The session's etcd browsers stop and free their ports before the resolver goes.
        Commands.Etcd.EtcdBrowserSessions.StopAll();
        DependencyLoadContext.Unregister();
    }
}
