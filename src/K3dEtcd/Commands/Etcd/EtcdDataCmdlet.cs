using System.Management.Automation;
using System.Runtime.CompilerServices;
using K3dEtcd.Common;
using K3dEtcd.Data;
using K3dEtcd.Model;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// Base of the data-plane cmdlets: one way to say which etcd to talk to (a cluster object or
/// name, or explicit endpoints with TLS files and credentials) and one connection per target,
/// reused for the whole pipeline and closed when it ends.
/// </summary>
public abstract class EtcdDataCmdlet : K3dEtcdCmdlet
{
    protected const string ClusterSet = "Cluster";
    protected const string EndpointSet = "Endpoint";

    private readonly Dictionary<string, EtcdConnection> _connections = new(StringComparer.Ordinal);
    private readonly Dictionary<string, EtcdCluster> _resolvedByName = new(StringComparer.Ordinal);

    /// <summary>
    /// The etcd cluster to use: an object from New-EtcdCluster or Get-EtcdCluster (also from the
    /// pipeline), or a cluster name that is looked up through Docker labels.
    /// </summary>
    [Parameter(Mandatory = true, ParameterSetName = ClusterSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [EtcdClusterTransformation]
    [ArgumentCompleter(typeof(EtcdClusterNameCompleter))]
    [ValidateNotNull]
    public virtual EtcdCluster? Cluster { get; set; }

    /// <summary>Client URLs of any etcd (for example http://127.0.0.1:2379); several give fail-over.</summary>
    [Parameter(Mandatory = true, ParameterSetName = EndpointSet)]
    [Alias("Endpoints", "Url")]
    [ValidateNotNullOrEmpty]
    public string[]? Endpoint { get; set; }

    /// <summary>PEM file of the CA that signed the etcd server certificates (default: the cluster's own when it has TLS).</summary>
    [Parameter]
    [Alias("CaCert")]
    public string? CaFile { get; set; }

    /// <summary>PEM client certificate for etcd client-certificate auth (with -KeyFile).</summary>
    [Parameter]
    public string? CertFile { get; set; }

    /// <summary>PEM private key of -CertFile.</summary>
    [Parameter]
    public string? KeyFile { get; set; }

    /// <summary>etcd user and password (etcd's own authentication).</summary>
    [Parameter]
    [Credential]
    public PSCredential? Credential { get; set; }

    /// <summary>Seconds each etcd request may take before it fails (default 10).</summary>
    [Parameter]
    [ValidateRange(1, 3600)]
    public int TimeoutSeconds { get; set; } = (int)EtcdConnectionOptions.DefaultTimeout.TotalSeconds;

    /// <summary>The per-request timeout chosen by -TimeoutSeconds.</summary>
    protected virtual TimeSpan RequestTimeout => TimeSpan.FromSeconds(TimeoutSeconds);

    /// <summary>The cluster of the current record after name resolution (null in the Endpoint set).</summary>
    protected EtcdCluster? TargetCluster { get; private set; }

    /// <summary>A short text for the current target (cluster name or endpoints), for messages and ShouldProcess.</summary>
    protected string TargetDescription => TargetCluster?.Name ?? string.Join(',', Endpoint ?? []);

    /// <summary>
    /// Member name → host client URL of the current cluster (null URL: container not running),
    /// so status calls reach members that advertise in-network URLs; null in the Endpoint set.
    /// </summary>
    protected IReadOnlyDictionary<string, string?>? TargetHostEndpoints =>
        TargetCluster?.Members.GroupBy(m => m.Name).ToDictionary(g => g.Key, g => g.First().ClientUrl, StringComparer.Ordinal);

    internal IReadOnlyDictionary<string, string?>? HostEndpointsForHealth => TargetHostEndpoints;

    /// <summary>Who Get-EtcdHealth's verdicts are about, and how its advice names the target.</summary>
    internal EtcdHealthTarget HealthTarget => TargetCluster is { } c
        ? new EtcdHealthTarget(c.Name, $"-Cluster {c.Name}", c.Tls?.Directory, c.Name)
        : new EtcdHealthTarget(TargetDescription, $"-Endpoint {TargetDescription}");

    /// <summary>Connection options for the current record's target.</summary>
    protected async Task<EtcdConnectionOptions> GetConnectionOptionsAsync(CancellationToken ct)
    {
        var resolvedPath = (string? p) => p is null ? null : GetUnresolvedProviderPathFromPSPath(p);
        string? user = null, password = null;
        if (Credential is not null)
        {
            var network = Credential.GetNetworkCredential();
            user = network.UserName;
            password = network.Password;
        }
        if (ParameterSetName == EndpointSet)
        {
            TargetCluster = null;
            return new EtcdConnectionOptions
            {
                Endpoints = Endpoint!.SelectMany(e => e.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray(),
                CaFile = resolvedPath(CaFile), CertFile = resolvedPath(CertFile), KeyFile = resolvedPath(KeyFile),
                Username = user, Password = password, Timeout = RequestTimeout,
            };
        }
        var cluster = await ResolveClusterAsync(Cluster!, ct);
        TargetCluster = cluster;
        return EtcdConnectionOptions.FromCluster(cluster, RequestTimeout, resolvedPath(CaFile), resolvedPath(CertFile), resolvedPath(KeyFile), user, password);
    }

    /// <summary>The connection for the current record's target, opened on first use and reused after.</summary>
    protected async Task<EtcdConnection> GetConnectionAsync(CancellationToken ct)
    {
        var options = await GetConnectionOptionsAsync(ct);
        if (!_connections.TryGetValue(options.CacheKey, out var connection))
        {
            connection = EtcdConnection.Open(options, Log);
            _connections[options.CacheKey] = connection;
        }
        return connection;
    }

    private async Task<EtcdCluster> ResolveClusterAsync(EtcdCluster cluster, CancellationToken ct)
    {
        if (!EtcdClusterTransformationAttribute.IsUnresolved(cluster)) return cluster;
        // One Docker look-up per name for the whole pipeline (piped keys name the same cluster).
        if (_resolvedByName.TryGetValue(cluster.Name, out var known)) return known;
        var found = await FindClusterAsync(cluster, ct);
        _resolvedByName[cluster.Name] = found;
        return found;
    }

    protected override void OnDispose()
    {
        foreach (var c in _connections.Values) c.Dispose();
        _connections.Clear();
    }
}

/// <summary>
/// Lets -Cluster take a cluster name: the name becomes a placeholder resolved through Docker
/// when the command runs, so a missing cluster is our EtcdClusterNotFound error, not a binding error.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class EtcdClusterTransformationAttribute : ArgumentTransformationAttribute
{
    private static readonly ConditionalWeakTable<EtcdCluster, object> Placeholders = new();

    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        var value = inputData is PSObject pso ? pso.BaseObject : inputData;
        if (value is string name && !string.IsNullOrWhiteSpace(name))
        {
            var placeholder = new EtcdCluster { Name = name.Trim() };
            Placeholders.AddOrUpdate(placeholder, name);
            return placeholder;
        }
        return inputData;
    }

    internal static bool IsUnresolved(EtcdCluster cluster) => Placeholders.TryGetValue(cluster, out _);
}
