using System.Text.Json;
using K3dEtcd.Common;
using K3dEtcd.K3d;

namespace K3dEtcd.Tests;

/// <summary>
/// The fake k3d (tests/FakeK3d, built to out/fake-k3d/) with its own state directory, argv log and
/// kubeconfig, passed to the k3d CLI wrapper as environment variables so parallel tests never share state.
/// </summary>
public sealed class FakeK3dHarness : IDisposable
{
    public FakeK3dHarness(string version = "v5.8.3")
    {
        Version = version;
        Directory.CreateDirectory(Root);
        Environment = new Dictionary<string, string?>
        {
            ["FAKE_K3D_VERSION"] = version,
            ["FAKE_K3D_STATE_DIR"] = System.IO.Path.Combine(Root, "state"),
            ["FAKE_K3D_ARGV_LOG"] = ArgvLog,
            ["KUBECONFIG"] = System.IO.Path.Combine(Root, "kubeconfig"),
            ["FAKE_K3D_FAIL_CREATE"] = null,
            ["FAKE_K3D_CREATE_DELAY_MS"] = null,
        };
    }

    public string Version { get; }
    public string Root { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"fake-k3d-{Guid.NewGuid():N}");
    public string ArgvLog => System.IO.Path.Combine(Root, "argv.jsonl");
    public Dictionary<string, string?> Environment { get; }

    public static string Executable
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(System.IO.Path.Combine(dir.FullName, "K3dEtcd.sln"))) dir = dir.Parent;
            var exe = System.IO.Path.Combine(dir?.FullName ?? ".", "out", "fake-k3d", OperatingSystem.IsWindows() ? "k3d.exe" : "k3d");
            Assert.True(File.Exists(exe), $"The fake k3d is not built at {exe} (dotnet build K3dEtcd.sln builds it).");
            return exe;
        }
    }

    public K3dCli Cli(IOperationLog? log = null) => new(Executable, log ?? NullOperationLog.Instance, Environment);

    public async Task<K3dClusterService> ServiceAsync(IOperationLog? log = null, DatastoreProbe? probe = null)
    {
        var cli = Cli(log);
        return new K3dClusterService(cli, await cli.GetVersionAsync(CancellationToken.None), probe, log ?? NullOperationLog.Instance);
    }

    /// <summary>Every argv the fake was called with, in order.</summary>
    public List<string[]> Calls() => !File.Exists(ArgvLog) ? [] :
        File.ReadAllLines(ArgvLog).Where(l => l.Length > 0)
            .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("argv").EnumerateArray().Select(a => a.GetString()!).ToArray()).ToList();

    public List<string[]> Calls(string command, string sub) => Calls().Where(a => a.Length >= 2 && a[0] == command && a[1] == sub).ToList();

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}
