using System.Globalization;
using System.Net;
using System.Net.Sockets;
using K3dEtcd.Common;
using K3dEtcd.Docker;

namespace K3dEtcd.Clusters;

/// <summary>Where one member of a multi-engine cluster runs and the address and ports it listens on and advertises.</summary>
public sealed record MemberPlacement(int Index, string Container, string Engine, string Address, int ClientPort, int PeerPort)
{
    public string ClientUrl(bool tls) => $"{EtcdClusterSpec.Scheme(tls)}://{UrlHost(Address)}:{ClientPort.ToString(CultureInfo.InvariantCulture)}";
    public string PeerUrl(bool tls) => $"{EtcdClusterSpec.Scheme(tls)}://{UrlHost(Address)}:{PeerPort.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>The Labels.Placement entry of this member.</summary>
    public string Serialize() => FormattableString.Invariant($"{Container}={Engine}|{Address}|{ClientPort}|{PeerPort}");

    public static IReadOnlyList<MemberPlacement> Parse(string? label)
    {
        var result = new List<MemberPlacement>();
        foreach (var (entry, index) in (label ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries).Select((e, i) => (e, i)))
        {
            var eq = entry.IndexOf('=');
            var parts = eq > 0 ? entry[(eq + 1)..].Split('|') : [];
            if (parts.Length == 4 && int.TryParse(parts[2], CultureInfo.InvariantCulture, out var client) && int.TryParse(parts[3], CultureInfo.InvariantCulture, out var peer))
            {
                result.Add(new MemberPlacement(index, entry[..eq], parts[0], parts[1], client, peer));
            }
        }
        return result;
    }

    internal static string UrlHost(string address) => address.Contains(':') ? $"[{address}]" : address;
}

/// <summary>
/// Places a cluster's members on the given Docker engines: member i on engine i mod n (one each,
/// or round-robin when there are fewer engines than members). Each member uses host networking on
/// its engine host's address, which is given (-AdvertiseAddress), or the IP in a tcp:// engine URL,
/// or (for a local unix socket or named pipe) this machine's address towards the other engines.
/// Members that share an address get distinct ports: client = base + 2k, peer = base + 2k + 1
/// (base 2379, so the first member on a host uses etcd's usual 2379 and 2380).
/// </summary>
public static class EnginePlacement
{
    public const int DefaultClientPort = 2379;

    public static IReadOnlyList<MemberPlacement> Plan(EtcdClusterSpec spec)
    {
        var engines = spec.DockerHosts.Select(h => DockerEngineSet.Key(DockerEndpointResolver.Parse(h, "-DockerHost"))).ToArray();
        if (engines.Length == 0) throw Invalid("-DockerHost names no engine.", "");
        if (engines.Distinct(StringComparer.Ordinal).Count() != engines.Length)
        {
            throw Invalid($"-DockerHost names an engine twice ({string.Join(", ", engines.GroupBy(e => e).Where(g => g.Count() > 1).Select(g => g.Key))}); list each engine once: members are placed round-robin.", engines);
        }
        if (spec.AdvertiseAddresses.Count > engines.Length)
        {
            throw Invalid($"-AdvertiseAddress has {spec.AdvertiseAddresses.Count} addresses for {engines.Length} engines: give one address per -DockerHost entry, in the same order.", spec.AdvertiseAddresses);
        }
        var addresses = new string[engines.Length];
        for (var i = 0; i < engines.Length; i++)
        {
            addresses[i] = i < spec.AdvertiseAddresses.Count && !string.IsNullOrWhiteSpace(spec.AdvertiseAddresses[i])
                ? CheckAddress(spec.AdvertiseAddresses[i].Trim())
                : AddressOf(new Uri(engines[i])) ?? "";
        }
        for (var i = 0; i < engines.Length; i++)
        {
            if (addresses[i].Length > 0) continue;
            // A local socket has no host in its URL: use this machine's address on the way to the remote engines.
            var remote = addresses.FirstOrDefault(a => a.Length > 0 && !IPAddress.IsLoopback(IPAddress.Parse(a)));
            addresses[i] = (remote is null ? null : LocalAddressTowards(IPAddress.Parse(remote)))
                ?? throw new K3dEtcdException(ErrorCatalog.EngineAddressRequired,
                    $"The engine {engines[i]} has no host address in its URL and no remote engine shows which address of this machine its peers reach: give it with -AdvertiseAddress (one address per -DockerHost entry, in order; for engines on one machine, distinct loopback addresses such as 127.0.0.11, 127.0.0.12).", engines[i]);
        }

        var basePort = spec.ClientPort ?? DefaultClientPort;
        var onAddress = new Dictionary<string, int>(StringComparer.Ordinal);
        var placements = new List<MemberPlacement>();
        for (var i = 0; i < spec.Size; i++)
        {
            var e = i % engines.Length;
            var k = onAddress.TryGetValue(addresses[e], out var n) ? n : 0;
            onAddress[addresses[e]] = k + 1;
            var client = basePort + 2 * k;
            if (client + 1 > 65535) throw new K3dEtcdException(ErrorCatalog.InvalidClientPort, $"Client and peer ports from {basePort} do not fit below 65536 for {spec.Size} members.", basePort);
            placements.Add(new MemberPlacement(i, EtcdClusterSpec.ContainerName(spec.Name, i), engines[e], addresses[e], client, client + 1));
        }
        return placements;
    }

    private static string CheckAddress(string value) =>
        IPAddress.TryParse(value, out var ip) && !ip.Equals(IPAddress.Any) && !ip.Equals(IPAddress.IPv6Any)
            ? ip.ToString()
            : throw Invalid($"'{value}' is not an address peers can reach: -AdvertiseAddress takes the IP address of each engine's host (not 0.0.0.0).", value);

    /// <summary>The IP of a tcp:// engine's host (a name is resolved here); null for a socket or pipe.</summary>
    internal static string? AddressOf(Uri engine)
    {
        if (engine.Scheme is not ("tcp" or "http" or "https")) return null;
        var host = engine.Host.Trim('[', ']');
        if (host == "localhost") return "127.0.0.1";
        if (IPAddress.TryParse(host, out var ip)) return ip.ToString();
        try
        {
            return Dns.GetHostAddresses(host).OrderBy(a => a.AddressFamily == AddressFamily.InterNetwork ? 0 : 1).First().ToString();
        }
        catch (Exception ex) when (ex is SocketException or InvalidOperationException)
        {
            throw Invalid($"The host '{host}' of engine {engine} does not resolve to an address ({ex.Message}); give its address with -AdvertiseAddress.", host);
        }
    }

    /// <summary>The local address the routing table picks to reach <paramref name="remote"/> (a UDP connect sends nothing).</summary>
    private static string? LocalAddressTowards(IPAddress remote)
    {
        try
        {
            using var socket = new Socket(remote.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            socket.Connect(new IPEndPoint(remote, 9));
            return ((IPEndPoint)socket.LocalEndPoint!).Address.ToString();
        }
        catch (SocketException) { return null; }
    }

    private static K3dEtcdException Invalid(string message, object target) => new(ErrorCatalog.InvalidEnginePlacement, message, target);
}
