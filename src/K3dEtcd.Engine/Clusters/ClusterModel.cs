using System.Globalization;
using K3dEtcd.Docker;
using K3dEtcd.Model;
using K3dEtcd.Pki;

namespace K3dEtcd.Clusters;

/// <summary>
/// Reads a cluster back from its containers' labels (Docker is the only store of what a cluster
/// is): labels -> <see cref="EtcdCluster"/> and its members, with the URLs this host reaches them at.
/// </summary>
public static class ClusterModel
{
    /// <remarks>unreachable: Engines that did not answer, with the reason: their members (known from the placement label of the others) are shown as unreachable.</remarks>
    public static EtcdCluster ToCluster(string name, IReadOnlyList<ContainerInfo> containers, IReadOnlyDictionary<string, string>? unreachable = null)
    {
        var ordered = containers.OrderBy(c => int.TryParse(Label(c.Labels, Labels.MemberIndex), out var i) ? i : int.MaxValue).ToList();
        var members = ordered.Select(c => ToMember(name, c)).ToList();
        var first = ordered[0].Labels;
        // Every member's labels name the members placed when it was made (a member added later knows the older ones).
        var placement = ordered.SelectMany(c => MemberPlacement.Parse(Label(c.Labels, Labels.Placement))).DistinctBy(p => p.Container).ToList();
        foreach (var missing in placement.Where(p => unreachable?.ContainsKey(p.Engine) == true && members.All(m => m.Name != p.Container)))
        {
            // A member whose engine did not answer: shown with the reason, not dropped. (One removed with
            // Remove-EtcdMember is still named by older labels, so only an unreachable engine adds members here.)
            var reason = $"engine {missing.Engine} does not answer: {unreachable![missing.Engine]}";
            members.Add(new EtcdClusterMember
            {
                ClusterName = name,
                Name = missing.Container,
                ContainerName = missing.Container,
                NetworkClientUrl = missing.ClientUrl(Label(first, Labels.Tls) == "true"),
                PeerUrl = missing.PeerUrl(Label(first, Labels.Tls) == "true"),
                State = UnreachableState,
                StateReason = reason,
                Engine = missing.Engine,
                HostAddress = missing.Address,
            });
        }
        members.Sort((a, b) => MemberIndex(a.Name, placement).CompareTo(MemberIndex(b.Name, placement)));
        var running = members.Count(m => m.State == "running");
        return new EtcdCluster
        {
            Name = name,
            State = running == members.Count ? EtcdClusterState.Running : running == 0 ? EtcdClusterState.Stopped : EtcdClusterState.Degraded,
            Image = ordered[0].Image,
            Version = VersionOf(ordered),
            Network = Label(first, Labels.Network) ?? "",
            ClusterToken = Label(first, Labels.Token) ?? EtcdClusterSpec.DefaultClusterToken,
            V2Enabled = Label(first, Labels.EnableV2) == "true",
            Tls = Label(first, Labels.TlsDir) is { Length: > 0 } tlsDir ? ClusterTlsStore.Read(tlsDir) : null,
            Created = DateTimeOffset.TryParse(Label(first, Labels.Created), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var t) ? t.UtcDateTime : null,
            Members = [.. members],
            Engines = (Label(first, Labels.Engines) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries),
        };
    }

    /// <summary>The members' one version, or each of them lowest first ("3.4.23, 3.5.16") while they differ.</summary>
    private static string? VersionOf(IReadOnlyList<ContainerInfo> ordered)
    {
        var versions = ordered.Select(c => Label(c.Labels, Labels.Version)).OfType<string>().Distinct(StringComparer.Ordinal)
            .OrderBy(v => System.Version.TryParse(v.TrimStart('v').Split('-', '+')[0], out var p) ? p : new Version(0, 0)).ThenBy(v => v, StringComparer.Ordinal).ToList();
        return versions.Count == 0 ? null : string.Join(", ", versions);
    }

    /// <summary>The State of a member whose engine does not answer.</summary>
    public const string UnreachableState = "unreachable";

    private static int MemberIndex(string name, IReadOnlyList<MemberPlacement> placement) =>
        placement.FirstOrDefault(p => p.Container == name)?.Index ?? -1;

    /// <summary>
    /// One member from its container: on a bridge network it is reached by this host at its published
    /// port and by containers at its name; with host networking on one of several engines (its
    /// placement label) at its host's address, by this machine and by containers alike.
    /// </summary>
    private static EtcdClusterMember ToMember(string cluster, ContainerInfo c)
    {
        var containerName = c.Name.Length > 0 ? c.Name : c.Labels[Labels.Member];
        var tls = Label(c.Labels, Labels.Tls) == "true";
        var engine = Label(c.Labels, Labels.Engine);
        var place = engine is null ? null : MemberPlacement.Parse(Label(c.Labels, Labels.Placement)).FirstOrDefault(p => p.Container == c.Labels[Labels.Member]);
        var published = c.Ports.FirstOrDefault(p => p.ContainerPort == 2379 && p.HostPort != 0);
        var networkUrl = engine is null ? EtcdClusterSpec.NetworkClientUrl(containerName, tls) : place?.ClientUrl(tls) ?? "";
        return new EtcdClusterMember
        {
            ClusterName = cluster,
            Name = c.Labels[Labels.Member],
            Id = Label(c.Labels, Labels.MemberId) ?? "",
            ContainerName = containerName,
            ContainerId = c.Id,
            ClientUrl = engine is not null ? (c.State == "running" ? networkUrl : null)
                : published is null ? null : $"{EtcdClusterSpec.Scheme(tls)}://{HostForUrl(published.HostAddress)}:{published.HostPort}",
            NetworkClientUrl = networkUrl,
            PeerUrl = engine is null ? EtcdClusterSpec.PeerUrl(containerName, tls) : place?.PeerUrl(tls) ?? "",
            State = c.State,
            Volume = c.Mounts.FirstOrDefault(m => m.Destination == "/var/lib/etcd")?.Volume ?? "",
            Image = c.Image,
            Version = Label(c.Labels, Labels.Version),
            Engine = engine,
            HostAddress = place?.Address,
        };
    }

    internal static string? Label(IReadOnlyDictionary<string, string>? labels, string key) =>
        labels is not null && labels.TryGetValue(key, out var value) ? value : null;

    private static string HostForUrl(string? ip) => ip switch
    {
        null or "" or "0.0.0.0" => "127.0.0.1",
        "::" => "[::1]",
        _ when ip.Contains(':') => $"[{ip}]",
        _ => ip,
    };
}
