using System.Management.Automation;
using K3dEtcd.Common;
using K3dEtcd.Etcd;
using K3dEtcd.Model;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Gets etcd keys and values: one key, a prefix, or a range, streamed page by page.</para>
/// <para type="description">Large ranges are read in pages at one revision, and objects reach the pipeline as pages arrive. Keys under /registry/ also show the Kubernetes resource, namespace, name, kind and apiVersion that k3s stored.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "EtcdKey", DefaultParameterSetName = ClusterSet)]
[OutputType(typeof(EtcdKeyValue), typeof(long))]
public sealed class GetEtcdKeyCommand : EtcdDataCmdlet
{
    /// <summary>The key to read, or the prefix with -Prefix, or the first key with -FromKey. Without it every key is read.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [AllowEmptyString]
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
                throw new K3dEtcdException("EtcdKeyMissing", FailureKind.InvalidArgument, "-Prefix and -FromKey need -Key (use -Key / -Prefix for everything under /).");
            }
        }
        catch (K3dEtcdException ex)
        {
            WriteFailure(ex);
            return;
        }
        var service = new EtcdKeyService(await GetConnectionAsync(ct));
        if (CountOnly)
        {
            WriteObject(await service.CountAsync(query, ct));
            return;
        }
        var any = false;
        await foreach (var kv in service.GetAsync(query, ct))
        {
            any = true;
            WriteObject(kv);
        }
        if (!any && Key is not null && !Prefix && !FromKey)
        {
            WriteFailure(new K3dEtcdException("EtcdKeyNotFound", FailureKind.ObjectNotFound, $"Key '{Key}' does not exist in {TargetDescription}.", Key));
        }
    }
}
