using System.Management.Automation;
using K3dEtcd.Common;
using K3dEtcd.Data;
using K3dEtcd.Model;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Gets etcd keys and values: one key, a prefix, or a range, streamed page by page.</para>
/// <para type="description">Large ranges are read in pages at one revision (a consistent snapshot): 1000 keys first, so the first objects arrive at once, then pages of about 2 MB, the next one fetched while the current one is written out. Memory stays flat however many keys there are; Ctrl+C stops at once. Keys under /registry/ also show the Kubernetes Resource, Namespace and Name from the path, and Kind and ApiVersion from the value (protobuf or JSON), so you see what k3s stored. Binary values are shown with unprintable bytes as '.'; -AsByteArray adds the raw bytes.</para>
/// <para type="description">The target is -Cluster (an object from New-EtcdCluster or Get-EtcdCluster, or a cluster name) or -Endpoint with any etcd's client URLs, plus -CaFile, -CertFile, -KeyFile and -Credential where needed.</para>
/// </summary>
/// <example>
/// <code>Get-EtcdKey -Cluster etcd -Key /foo</code>
/// <para>Gets the key /foo of the cluster named etcd.</para>
/// </example>
/// <example>
/// <code>Get-EtcdKey -Cluster $c -Key /registry/pods/ -Prefix | Format-Table Namespace, Name, Kind, ModRevision</code>
/// <para>Lists the pods k3s stored, with their namespace, name and kind decoded from the keys and values.</para>
/// </example>
/// <example>
/// <code>Get-EtcdKey -Endpoint https://10.0.0.5:2379 -CaFile ca.pem -CertFile client.pem -KeyFile client-key.pem -Key / -Prefix -CountOnly</code>
/// <para>Counts every key of an etcd that requires TLS client certificates.</para>
/// </example>
[Cmdlet(VerbsCommon.Get, "EtcdKey", DefaultParameterSetName = ClusterSet)]
[OutputType(typeof(EtcdKeyValue), typeof(long))]
public sealed class GetEtcdKeyCommand : EtcdDataCmdlet
{
    /// <summary>The key to read, or the prefix with -Prefix, or the first key with -FromKey. Without it every key is read.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [AllowEmptyString]
    [ArgumentCompleter(typeof(EtcdKeyPrefixCompleter))]
    public string? Key { get; set; }

    /// <summary>Read every key that starts with -Key.</summary>
    [Parameter]
    public SwitchParameter Prefix { get; set; }

    /// <summary>Read every key from -Key on, in byte order.</summary>
    [Parameter]
    public SwitchParameter FromKey { get; set; }

    /// <summary>Read the keyspace as it was at this revision (0: now).</summary>
    [Parameter]
    [ValidateRange(0, long.MaxValue)]
    public long Revision { get; set; }

    /// <summary>Return at most this many keys (0: no limit).</summary>
    [Parameter]
    [ValidateRange(0, long.MaxValue)]
    public long Limit { get; set; }

    /// <summary>Return keys and revisions without values.</summary>
    [Parameter]
    public SwitchParameter KeysOnly { get; set; }

    /// <summary>Return only the number of matching keys.</summary>
    [Parameter]
    public SwitchParameter CountOnly { get; set; }

    /// <summary>Also return each value's raw bytes in the Bytes property.</summary>
    [Parameter]
    public SwitchParameter AsByteArray { get; set; }

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        var query = new EtcdKeyQuery
        {
            Key = Key, Prefix = Prefix, FromKey = FromKey, Revision = Revision, Limit = Limit,
            KeysOnly = KeysOnly, AsByteArray = AsByteArray,
        };
        try
        {
            EtcdKeyService.ValidateQuery(query);
            if (Key is null && (Prefix || FromKey))
            {
                throw new K3dEtcdException(ErrorCatalog.EtcdKeyMissing, "-Prefix and -FromKey need -Key (use -Key / -Prefix for everything under /).");
            }
        }
        catch (K3dEtcdException ex)
        {
            WriteFailure(ex);
            return;
        }
        var service = new EtcdKeyService(await GetConnectionAsync(ct));
        Log.Phase($"connection ready ({TargetDescription})");
        if (CountOnly)
        {
            WriteObject(await service.CountAsync(query, ct));
            return;
        }
        long written = 0;
        await foreach (var kv in service.GetAsync(query, ct))
        {
            written++;
            WriteObject(kv);
        }
        Log.Phase($"{written} objects written");
        var any = written > 0;
        if (!any && Key is not null && !Prefix && !FromKey)
        {
            WriteFailure(new K3dEtcdException(ErrorCatalog.EtcdKeyNotFound, $"Key '{Key}' does not exist in {TargetDescription}.", Key));
        }
    }
}
