using System.Globalization;
using Docker.DotNet.Models;
using K3dEtcd.Model;
using K3dEtcd.Pki;

namespace K3dEtcd.Docker;

/// <summary>
/// Reads a cluster back from its containers' labels (Docker is the only store of what a cluster
/// is): labels -> <see cref="EtcdCluster"/> and its members, with the URLs this host reaches them at.
/// </summary>
public static class ClusterModel
{
    public static EtcdCluster ToCluster(string name, IList<ContainerListResponse> containers)
    {
        var ordered = containers.OrderBy(c => int.TryParse(Label(c.Labels, Labels.MemberIndex), out var i) ? i : int.MaxValue).ToList();
        var members = ordered.Select(c =>
        {
            var containerName = c.Names.FirstOrDefault()?.TrimStart('/') ?? c.Labels[Labels.Member];
            var published = c.Ports?.FirstOrDefault(p => p.PrivatePort == 2379 && p.PublicPort != 0);
            var tls = Label(c.Labels, Labels.Tls) == "true";
            var scheme = EtcdClusterSpec.Scheme(tls);
            return new EtcdClusterMember
            {
                ClusterName = name,
                Name = c.Labels[Labels.Member],
                Id = Label(c.Labels, Labels.MemberId) ?? "",
                ContainerName = containerName,
                ContainerId = c.ID,
                ClientUrl = published is null ? null : $"{scheme}://{HostForUrl(published.IP)}:{published.PublicPort}",
                NetworkClientUrl = EtcdClusterSpec.NetworkClientUrl(containerName, tls),
                PeerUrl = EtcdClusterSpec.PeerUrl(containerName, tls),
                State = c.State,
                Volume = c.Mounts?.FirstOrDefault(m => m.Destination == "/var/lib/etcd")?.Name ?? "",
            };
        }).ToArray();
        var running = members.Count(m => m.State == "running");
        var first = ordered[0].Labels;
        return new EtcdCluster
        {
            Name = name,
            State = running == members.Length ? EtcdClusterState.Running : running == 0 ? EtcdClusterState.Stopped : EtcdClusterState.Degraded,
            Image = ordered[0].Image,
            Version = Label(first, Labels.Version),
            Network = Label(first, Labels.Network) ?? "",
            ClusterToken = Label(first, Labels.Token) ?? EtcdClusterSpec.DefaultClusterToken,
            V2Enabled = Label(first, Labels.EnableV2) == "true",
            Tls = Label(first, Labels.TlsDir) is { Length: > 0 } tlsDir ? ClusterTlsStore.Read(tlsDir) : null,
            Created = DateTimeOffset.TryParse(Label(first, Labels.Created), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var t) ? t.UtcDateTime : null,
            Members = members,
        };
    }

    internal static string? Label(IDictionary<string, string>? labels, string key) =>
        labels is not null && labels.TryGetValue(key, out var value) ? value : null;

    private static string HostForUrl(string? ip) => ip switch
    {
        null or "" or "0.0.0.0" => "127.0.0.1",
        "::" => "[::1]",
        _ when ip.Contains(':') => $"[{ip}]",
        _ => ip,
    };
}
