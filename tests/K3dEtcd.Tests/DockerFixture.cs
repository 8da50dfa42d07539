using System.Diagnostics;
using Docker.DotNet;
using K3dEtcd.Common;
using K3dEtcd.Docker;
using K3dEtcd.Clusters;

namespace K3dEtcd.Tests;

/// <summary>
/// One Docker connection per test collection. Docker is required: without it these tests fail
/// (never skip), so CI cannot pass by accident.
/// </summary>
public sealed class DockerFixture : IAsyncLifetime
{
    public DockerClient Docker { get; private set; } = null!;
    public string Image { get; } = Environment.GetEnvironmentVariable(EtcdClusterSpec.ImageEnvironmentVariable) is { Length: > 0 } i ? i : "k3detcd/etcd:3.4.23";
    public string RunId { get; } = $"t{Guid.NewGuid():N}"[..9];

    public async Task InitializeAsync() => Docker = await DockerClientFactory.ConnectAsync(null, CancellationToken.None);

    /// <summary>The runtime boundary over this fixture's engine (services take it, never a Docker.DotNet client).</summary>
    public DockerAdapter Adapter(IOperationLog? log = null) => new(Docker, log ?? NullOperationLog.Instance);

    public EtcdClusterService Service(IOperationLog? log = null) => new(Adapter(log), log ?? NullOperationLog.Instance);

    public string UniqueName(string stem) => $"{stem}-{RunId}";

    public EtcdClusterSpec Spec(string stem, int size = 3) => new()
    {
        Name = UniqueName(stem),
        Size = size,
        Image = Image,
        PullPolicy = ImagePullPolicy.Never,
        Timeout = TimeSpan.FromSeconds(60),
    };

    public async Task DisposeAsync()
    {
        // Sweep anything this run left, even after failures: everything carries the run id in its cluster name.
        foreach (var cluster in await Service().ListAsync(CancellationToken.None))
        {
            if (cluster.Name.EndsWith(RunId, StringComparison.Ordinal)) await Service().RemoveAsync(cluster.Name, keepData: false, CancellationToken.None);
        }
        Docker.Dispose();
    }
}

/// <summary>
/// The Docker tests in two collections that run side by side (xunit runs collections in parallel,
/// the tests of one collection one after the other). Each collection has its own fixture and run
/// id, every test names what it makes uniquely and checks only what it made, so the two share no
/// state on the engine; a class goes to whichever keeps the two about as long.
/// </summary>
[CollectionDefinition(Name)]
public sealed class DockerCollection : ICollectionFixture<DockerFixture>
{
    public const string Name = "docker";
}

/// <summary>The second of the two Docker collections (see <see cref="DockerCollection"/>).</summary>
[CollectionDefinition(Name)]
public sealed class DockerServicesCollection : ICollectionFixture<DockerFixture>
{
    public const string Name = "docker-services";
}

/// <summary>Runs an independent client (etcdctl, docker, curl, openssl) and returns its output.</summary>
public static class Cli
{
    /// <summary>Runs the client and fails the test when it exits non-zero; returns its output.</summary>
    public static string Checked(string file, params string[] args)
    {
        var (exit, output) = Run(file, args);
        Assert.True(exit == 0, $"{file} {string.Join(' ', args)}: {output}");
        return output;
    }

    public static (int ExitCode, string Output) Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["ETCDCTL_API"] = "3";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(60_000)) { p.Kill(true); throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish"); }
        return (p.ExitCode, stdout.Result + stderr.Result);
    }
}
