using System.Security.Cryptography;
using System.Text;
using K3dEtcd.Common;
using K3dEtcd.Docker;

namespace K3dEtcd.Tests;

public sealed class DockerEndpointResolverTests : IDisposable
{
    private readonly string _home = Directory.CreateTempSubdirectory("k3detcd-home").FullName;

    private Func<string, string?> Env(Dictionary<string, string?> values) => name => values.GetValueOrDefault(name);

    private void WriteContext(string name, string host, bool current)
    {
        var id = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(name))).ToLowerInvariant();
        var dir = Path.Combine(_home, ".docker", "contexts", "meta", id);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "meta.json"), "{\"Name\":\"" + name + "\",\"Metadata\":{},\"Endpoints\":{\"docker\":{\"Host\":\"" + host + "\",\"SkipTLSVerify\":false}}}");
        if (current) File.WriteAllText(Path.Combine(_home, ".docker", "config.json"), $$"""{"auths":{},"currentContext":"{{name}}"}""");
    }

    [Fact]
    public void An_explicit_host_wins_over_everything()
    {
        WriteContext("desk", "unix:///ctx.sock", current: true);
        var e = DockerEndpointResolver.Resolve("tcp://127.0.0.1:2375", Env(new() { ["DOCKER_HOST"] = "unix:///env.sock" }), _home);
        Assert.Equal("tcp://127.0.0.1:2375/", e.Uri.ToString());
        Assert.Contains("Set-K3dEtcdOption", e.Source);
    }

    [Fact]
    public void DOCKER_HOST_wins_over_the_current_context()
    {
        WriteContext("desk", "unix:///ctx.sock", current: true);
        var e = DockerEndpointResolver.Resolve(null, Env(new() { ["DOCKER_HOST"] = "unix:///env.sock" }), _home);
        Assert.Equal("unix:///env.sock", e.Uri.ToString());
        Assert.Equal("DOCKER_HOST", e.Source);
    }

    [Fact]
    public void The_current_context_of_config_json_gives_its_endpoint()
    {
        WriteContext("desk", "unix:///home/u/.docker/desktop/docker.sock", current: true);
        var e = DockerEndpointResolver.Resolve(null, Env(new()), _home);
        Assert.Equal("unix:///home/u/.docker/desktop/docker.sock", e.Uri.ToString());
        Assert.Equal("Docker context 'desk'", e.Source);
    }

    [Fact]
    public void DOCKER_CONTEXT_selects_another_context()
    {
        WriteContext("desk", "unix:///desk.sock", current: true);
        WriteContext("remote", "tcp://127.0.0.1:2376", current: false);
        var e = DockerEndpointResolver.Resolve(null, Env(new() { ["DOCKER_CONTEXT"] = "remote" }), _home);
        Assert.Equal("tcp://127.0.0.1:2376/", e.Uri.ToString());
    }

    [Fact]
    public void A_context_without_metadata_is_a_clear_error()
    {
        var ex = Assert.Throws<K3dEtcdException>(() => DockerEndpointResolver.Resolve(null, Env(new() { ["DOCKER_CONTEXT"] = "nope" }), _home));
        Assert.Equal("DockerContextNotFound", ex.ErrorId);
    }

    [Fact]
    public void Without_settings_the_platform_default_is_used()
    {
        var e = DockerEndpointResolver.Resolve(null, Env(new()), _home);
        Assert.Equal(OperatingSystem.IsWindows() ? "npipe://./pipe/docker_engine" : "unix:///var/run/docker.sock", e.Uri.ToString());
        Assert.StartsWith("default", e.Source);
    }

    [Theory]
    [InlineData("not a uri")]
    [InlineData("ftp://host/")]
    public void A_malformed_host_is_refused(string host)
    {
        var ex = Assert.Throws<K3dEtcdException>(() => DockerEndpointResolver.Resolve(null, Env(new() { ["DOCKER_HOST"] = host }), _home));
        Assert.Equal("InvalidDockerHost", ex.ErrorId);
        Assert.Equal(FailureKind.InvalidArgument, ex.Kind);
    }

    [Theory]
    [InlineData("unix:///var/run/docker.sock", true)]
    [InlineData("npipe://./pipe/docker_engine", true)]
    [InlineData("tcp://127.0.0.1:2375", true)]
    [InlineData("tcp://[::1]:2375", true)]
    [InlineData("tcp://localhost:2375", true)]
    [InlineData("tcp://10.0.0.5:2376", false)]
    [InlineData("https://docker.example.org:2376", false)]
    public void Only_an_engine_on_this_machine_gets_host_ports_chosen_here(string engine, bool local) =>
        Assert.Equal(local, DockerConnection.IsLocal(new Uri(engine)));

    [Fact]
    public void Chosen_host_ports_are_free_and_never_handed_out_twice()
    {
        var taken = new HashSet<int>();
        var ports = Enumerable.Range(0, 5).Select(_ => DockerAdapter.PickHostPort("127.0.0.1", taken)).ToList();
        Assert.All(ports, p => Assert.NotNull(p));
        Assert.Equal(5, ports.Distinct().Count());
        foreach (var p in ports)
        {
            // Free when chosen: this machine can listen on it.
            using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, p!.Value);
            listener.Start();
        }
    }

    [Fact]
    public void No_host_port_is_chosen_for_an_address_this_machine_does_not_have() =>
        Assert.Null(DockerAdapter.PickHostPort("192.0.2.1", new HashSet<int>()));   // TEST-NET-1

    public void Dispose() => Directory.Delete(_home, recursive: true);
}
