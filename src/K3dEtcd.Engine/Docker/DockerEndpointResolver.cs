using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace K3dEtcd.Docker;

/// <summary>Where the Docker endpoint came from, so Verbose output and errors can say it.</summary>
public sealed record DockerEndpoint(Uri Uri, string Source);

/// <summary>
/// Finds the Docker engine with the docker CLI's precedence: an explicit host (Set-K3dEtcdOption),
/// DOCKER_HOST, DOCKER_CONTEXT or the current context of ~/.docker/config.json (its endpoint in
/// ~/.docker/contexts/meta/&lt;sha256(name)&gt;/meta.json), then the platform default: the named
/// pipe on Windows, Docker Desktop's per-user socket on macOS when present, /var/run/docker.sock.
/// </summary>
public static class DockerEndpointResolver
{
    public static DockerEndpoint Resolve(string? explicitHost, Func<string, string?>? environment = null, string? home = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        home ??= Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);

        if (!string.IsNullOrWhiteSpace(explicitHost)) return new(Parse(explicitHost, "Set-K3dEtcdOption -DockerHost"), "Set-K3dEtcdOption -DockerHost");
        if (environment("DOCKER_HOST") is { Length: > 0 } host) return new(Parse(host, "DOCKER_HOST"), "DOCKER_HOST");

        var configDir = environment("DOCKER_CONFIG") is { Length: > 0 } dc ? dc : Path.Combine(home, ".docker");
        var context = environment("DOCKER_CONTEXT") is { Length: > 0 } ctx ? ctx : ReadCurrentContext(configDir);
        if (!string.IsNullOrEmpty(context) && context != "default")
        {
            var endpoint = ReadContextEndpoint(configDir, context)
                ?? throw new Common.K3dEtcdException(Common.ErrorCatalog.DockerContextNotFound,
                    $"The Docker context '{context}' has no endpoint in {Path.Combine(configDir, "contexts", "meta")}.", context);
            return new(Parse(endpoint, $"Docker context '{context}'"), $"Docker context '{context}'");
        }

        if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows)) return new(new Uri("npipe://./pipe/docker_engine"), "default (Windows named pipe)");
        if (RuntimeInformation.IsOSPlatform(OSPlatform.OSX))
        {
            var desktop = Path.Combine(home, ".docker", "run", "docker.sock");
            if (File.Exists(desktop)) return new(new Uri($"unix://{desktop}"), "default (Docker Desktop socket)");
        }
        return new(new Uri("unix:///var/run/docker.sock"), "default (/var/run/docker.sock)");
    }

    /// <summary>A Docker endpoint URL this module can talk to; ssh:// (which the docker CLI tunnels) is refused with its own ErrorId.</summary>
    public static Uri Parse(string value, string source)
    {
        if (Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "unix" or "npipe" or "tcp" or "http" or "https") return uri;
        if (uri?.Scheme is "ssh")
        {
            throw new Common.K3dEtcdException(Common.ErrorCatalog.UnsupportedDockerScheme,
                $"'{value}' (from {source}) is an ssh:// Docker endpoint, which K3dEtcd cannot use (its Docker client has no ssh transport). Expose the engine on tcp:// with TLS (ca.pem, cert.pem, key.pem) or forward its socket: ssh -L /tmp/hostb.sock:/var/run/docker.sock user@hostb, then unix:///tmp/hostb.sock.", value);
        }
        throw new Common.K3dEtcdException(Common.ErrorCatalog.InvalidDockerHost,
            $"'{value}' (from {source}) is not a Docker endpoint: use unix:///path, npipe://./pipe/name or tcp://host:port.", value);
    }

    private static string? ReadCurrentContext(string configDir)
    {
        var config = Path.Combine(configDir, "config.json");
        if (!File.Exists(config)) return null;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(config));
            return doc.RootElement.TryGetProperty("currentContext", out var c) ? c.GetString() : null;
        }
        catch (JsonException) { return null; }
    }

    private static string? ReadContextEndpoint(string configDir, string context)
    {
        var id = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(context))).ToLowerInvariant();
        var meta = Path.Combine(configDir, "contexts", "meta", id, "meta.json");
        if (!File.Exists(meta)) return null;
        using var doc = JsonDocument.Parse(File.ReadAllText(meta));
        return doc.RootElement.TryGetProperty("Endpoints", out var eps) && eps.TryGetProperty("docker", out var d) && d.TryGetProperty("Host", out var h)
            ? h.GetString()
            : null;
    }
}
