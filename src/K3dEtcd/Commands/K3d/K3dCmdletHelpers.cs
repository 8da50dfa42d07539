using System.Management.Automation;
using System.Security;
using K3dEtcd.Services;
using K3dEtcd.Common;
using K3dEtcd.K3d;
using K3dEtcd.Model;

namespace K3dEtcd.Commands.K3d;

/// <summary>What the k3d cmdlets share: finding k3d, resolving a datastore argument, building output objects.</summary>
public abstract class K3dCmdletBase : K3dEtcdCmdlet
{
    private readonly Dictionary<string, K3dVersion> _versions = new(StringComparer.Ordinal);

    /// <summary>The k3d service of the k3d to use, speaking to k3d only (New-K3dCluster wires the probe and the Docker lookups itself, after confirmation).</summary>
    protected async Task<K3dClusterService> GetK3dServiceAsync(string? k3dPath, CancellationToken ct)
    {
        var (cli, version, _) = await LocateK3dAsync(k3dPath, ct);
        return EtcdServices.K3d(cli, version, null, withProbe: false, this);
    }

    /// <summary>
    /// The k3d CLI and its version (asked once per path). With <paramref name="showOnly"/> (-WhatIf) a missing k3d is
    /// the newest known version with a warning, and Installed is false.
    /// </summary>
    protected async Task<(K3dCli Cli, K3dVersion Version, bool Installed)> LocateK3dAsync(string? k3dPath, CancellationToken ct, bool showOnly = false)
    {
        string path;
        try
        {
            path = K3dCli.Locate(k3dPath);
        }
        catch (K3dEtcdException ex) when (showOnly && k3dPath is null && ex.ErrorId == ErrorCatalog.K3dNotFound.Id)
        {
            // -WhatIf needs no k3d: show the line the newest known k3d would get, and say that k3d is needed to run it.
            WriteWarning($"k3d is not installed (not on PATH, no ${K3dCli.EnvironmentVariable}): showing the command line for k3d {K3dVersion.Latest.Text}; install k3d to run it.");
            return (new K3dCli("k3d", this), K3dVersion.Latest, false);
        }
        var cli = new K3dCli(path, this);
        if (!_versions.TryGetValue(cli.Path, out var version))
        {
            version = await cli.GetVersionAsync(ct);
            _versions[cli.Path] = version;
        }
        version.EnsureSupported(cli.Path);
        return (cli, version, true);
    }

    /// <summary>An EtcdCluster (object or name) or a k3s datastore string, as the target k3s servers will use.</summary>
    protected async Task<(DatastoreTarget Target, EtcdCluster? Cluster)> ResolveDatastoreAsync(object? datastore, string? network,
        string? caFile, string? certFile, string? keyFile, string? image, CancellationToken ct)
    {
        var value = datastore is PSObject pso ? pso.BaseObject : datastore;
        EtcdCluster? cluster = value as EtcdCluster;
        if (value is string s && !s.Contains("://", StringComparison.Ordinal) && s.Trim().Length > 0)
        {
            cluster = await (await GetClusterServiceAsync(ct)).GetAsync(s.Trim(), ct);
            if (cluster is null) K3dDatastore.Validate(s); // throws the explanation (bare 'etcd', or an unknown name)
        }
        else if (cluster is not null)
        {
            // The object may be old: take the cluster's current state from Docker.
            cluster = await FindClusterAsync(cluster, ct, refresh: true);
        }

        if (cluster is not null)
        {
            if (cluster.State != EtcdClusterState.Running) WriteWarning($"etcd cluster '{cluster.Name}' is {cluster.State}: not every member is running.");
            return (new DatastoreTarget
            {
                Endpoint = string.Join(",", cluster.NetworkEndpoints),
                Kind = DatastoreKind.Etcd,
                Network = string.IsNullOrEmpty(network) ? cluster.Network : network,
                CaFile = caFile ?? cluster.Tls?.CaFile,
                CertFile = certFile ?? cluster.Tls?.ClientCertFile,
                KeyFile = keyFile ?? cluster.Tls?.ClientKeyFile,
                EtcdClusterName = cluster.Name,
                ProbeImage = image ?? cluster.Image,
            }, cluster);
        }
        if (value is not string endpoint)
        {
            throw new K3dEtcdException(ErrorCatalog.InvalidDatastore,
                $"-Datastore takes an EtcdCluster (from New-EtcdCluster or Get-EtcdCluster), its name, or a k3s datastore string; got {value?.GetType().Name ?? "null"}.", value);
        }
        var kind = K3dDatastore.Validate(endpoint);
        foreach (var (param, file) in new[] { ("CaFile", caFile), ("CertFile", certFile), ("KeyFile", keyFile) })
        {
            if (file is not null && !File.Exists(file))
            {
                throw new K3dEtcdException(ErrorCatalog.DatastoreFileNotFound, $"-{param} '{file}' does not exist.", file);
            }
        }
        return (new DatastoreTarget
        {
            Endpoint = endpoint.Trim(),
            Kind = kind,
            Network = network,
            CaFile = caFile is null ? null : Path.GetFullPath(caFile),
            CertFile = certFile is null ? null : Path.GetFullPath(certFile),
            KeyFile = keyFile is null ? null : Path.GetFullPath(keyFile),
            ProbeImage = image,
        }, null);
    }

    protected string? ResolvePath(string? path) => path is null ? null : GetUnresolvedProviderPathFromPSPath(path);

    protected async Task<K3dCluster> ToK3dClusterAsync(K3dClusterInfo info, K3dVersion version, object? datastore, SecureString? token, bool? verified, CancellationToken ct)
    {
        if (datastore is null && info.EtcdClusterLabel is { } etcdName)
        {
            try { datastore = await (await GetClusterServiceAsync(ct)).GetAsync(etcdName, ct); }
            catch (K3dEtcdException ex) { WriteVerbose($"Cannot look up etcd cluster '{etcdName}': {ex.Message}"); }
            datastore ??= info.DatastoreLabel;
        }
        return new K3dCluster
        {
            Name = info.Name,
            Servers = info.ServersCount,
            Agents = info.AgentsCount,
            ServersRunning = info.ServersRunning,
            AgentsRunning = info.AgentsRunning,
            Datastore = datastore ?? info.DatastoreLabel,
            Network = info.Network,
            ApiEndpoint = info.ApiEndpoint,
            KubeconfigPath = K3dClusterService.FindKubeconfig(info.Name),
            Token = token,
            K3dVersion = version.Text,
            DatastoreVerified = verified,
            Nodes = info.Nodes,
        };
    }

    protected static SecureString ToSecureString(string value)
    {
        var s = new SecureString();
        foreach (var c in value) s.AppendChar(c);
        s.MakeReadOnly();
        return s;
    }
}
