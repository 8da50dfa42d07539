using K3dEtcd.Pki;

namespace K3dEtcd.Clusters;

/// <summary>The etcd command line of a member container: URLs, initial cluster, TLS files, extra flags.</summary>
public static class EtcdCommandLine
{
    /// <remarks>placement: 
    /// A member of a multi-engine cluster (host networking): it listens on its host's address and
    /// ports and advertises them; null: the bridge-network member, reached by its container name.
    /// </remarks>
    public static List<string> Build(string container, string initialCluster, string initialClusterState, EtcdClusterSpec spec, MemberPlacement? placement = null)
    {
        var scheme = EtcdClusterSpec.Scheme(spec.Tls);
        var command = new List<string>
        {
            "/usr/local/bin/etcd",
            "--name", container,
            "--data-dir", "/var/lib/etcd/data",
            "--listen-client-urls", placement?.ClientUrl(spec.Tls) ?? $"{scheme}://0.0.0.0:2379",
            "--advertise-client-urls", placement?.ClientUrl(spec.Tls) ?? EtcdClusterSpec.NetworkClientUrl(container, spec.Tls),
            "--listen-peer-urls", placement?.PeerUrl(spec.Tls) ?? $"{scheme}://0.0.0.0:2380",
            "--initial-advertise-peer-urls", placement?.PeerUrl(spec.Tls) ?? EtcdClusterSpec.PeerUrl(container, spec.Tls),
            "--initial-cluster", initialCluster,
            "--initial-cluster-token", spec.ClusterToken,
            "--initial-cluster-state", initialClusterState,
        };
        if (spec.Tls)
        {
            const string pki = ClusterTlsStore.ContainerPkiDirectory;
            command.AddRange([
                "--client-cert-auth",
                "--trusted-ca-file", $"{pki}/{ClusterTlsStore.CaFileName}",
                "--cert-file", $"{pki}/{ClusterTlsStore.ServerCertFileName}",
                "--key-file", $"{pki}/{ClusterTlsStore.ServerKeyFileName}",
                "--peer-client-cert-auth",
                "--peer-trusted-ca-file", $"{pki}/{ClusterTlsStore.CaFileName}",
                "--peer-cert-file", $"{pki}/{ClusterTlsStore.PeerCertFileName}",
                "--peer-key-file", $"{pki}/{ClusterTlsStore.PeerKeyFileName}",
            ]);
        }
        if (spec.EnableV2) command.Add("--enable-v2=true");
        // One token each (--flag=value), so Add-EtcdMember carries them to new members with the other extra arguments.
        if (spec.QuotaBackendBytes is { } quota) command.Add($"--quota-backend-bytes={quota.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
        if (spec.AutoCompactionMode is { } mode) command.Add($"--auto-compaction-mode={mode}");
        if (spec.AutoCompactionRetention is { } retention) command.Add($"--auto-compaction-retention={retention}");
        command.AddRange(spec.ExtraArguments);
        return command;
    }
}
