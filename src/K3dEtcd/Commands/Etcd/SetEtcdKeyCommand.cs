using System.Management.Automation;
using System.Text;
using K3dEtcd.Common;
using K3dEtcd.Data;
using K3dEtcd.Model;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Sets etcd keys, from parameters or from piped objects with Key and Value properties.</para>
/// <para type="description">Piped input is written in transactions of up to 128 puts (etcd's default --max-txn-ops), which is far faster than one request per key; up to four transactions are in flight while the pipeline goes on, and when a key is piped more than once its last value wins. -TtlSeconds grants one lease per cluster in the pipeline and attaches every key to its cluster's lease; -Lease uses an existing lease. -PassThru returns what each key now holds, with its revisions.</para>
/// </summary>
/// <example>
/// <code>Set-EtcdKey -Cluster $c -Key /foo -Value bar</code>
/// <para>Sets /foo to "bar".</para>
/// </example>
/// <example>
/// <code>1..10000 | ForEach-Object { [pscustomobject]@{ Key = "/bulk/$_"; Value = "$_" } } | Set-EtcdKey -Cluster $c</code>
/// <para>Writes ten thousand keys in transactions of 128, in order.</para>
/// </example>
/// <example>
/// <code>Set-EtcdKey -Cluster etcd -Key /session/abc -Value active -TtlSeconds 60 -PassThru</code>
/// <para>Sets a key that etcd removes after 60 seconds and shows its lease.</para>
/// </example>
[Cmdlet(VerbsCommon.Set, "EtcdKey", DefaultParameterSetName = ClusterSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(EtcdKeyValue))]
public sealed class SetEtcdKeyCommand : EtcdDataCmdlet
{
    // Transactions of up to 128 puts, up to four in flight while the pipeline goes on; the last piped value of a key wins.
    private readonly EtcdWriteBatcher _batcher = new(EtcdWriteBatcher.DefaultMaxInFlight);

    /// <summary>The key to set.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [AllowEmptyString]
    [ArgumentCompleter(typeof(EtcdKeyPrefixCompleter))]
    public string Key { get; set; } = "";

    /// <summary>The value: text (stored as UTF-8), a byte array (stored as is), or anything else (stored as its text).</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [AllowEmptyString]
    [AllowNull]
    public object? Value { get; set; }

    /// <summary>Attach the key to this existing lease ID.</summary>
    [Parameter]
    [ValidateRange(1, long.MaxValue)]
    public long Lease { get; set; }

    /// <summary>Attach the keys to a new lease with this TTL, so etcd removes them when it expires.</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int TtlSeconds { get; set; }

    /// <summary>Return an EtcdKeyValue for each key written.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override Task BeginProcessingAsync(CancellationToken ct)
    {
        if (MyInvocation.BoundParameters.ContainsKey(nameof(Lease)) && MyInvocation.BoundParameters.ContainsKey(nameof(TtlSeconds)))
        {
            throw new K3dEtcdException(ErrorCatalog.EtcdLeaseConflict, "Use either -Lease or -TtlSeconds, not both.");
        }
        return Task.CompletedTask;
    }

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        try
        {
            EtcdKeyService.ValidateKey(Key);
        }
        catch (K3dEtcdException ex)
        {
            WriteFailure(ex);
            return;
        }
        var connection = await GetConnectionAsync(ct);
        if (!ShouldProcess($"{Key} on {TargetDescription}", "Set etcd key")) return;
        var lease = TtlSeconds > 0 ? await _batcher.TtlLeaseAsync(connection, TtlSeconds, ct) : Lease;
        Write(await _batcher.PutAsync(connection, new EtcdPut(Key, ToBytes(Value), lease), ct));
    }

    protected override async Task EndProcessingAsync(CancellationToken ct) => Write(await _batcher.CompleteAsync(ct));

    private void Write(IReadOnlyList<EtcdWriteResult> answered)
    {
        if (!PassThru) return;
        foreach (var result in answered) WriteObject(result.Keys, enumerateCollection: true);
    }

    protected override void OnDispose()
    {
        _batcher.Dispose();
        base.OnDispose();
    }

    internal static byte[] ToBytes(object? value)
    {
        var v = value is PSObject pso ? pso.BaseObject : value;
        return v switch
        {
            null => [],
            byte[] bytes => bytes,
            string s => Encoding.UTF8.GetBytes(s),
            _ => Encoding.UTF8.GetBytes(LanguagePrimitives.ConvertTo<string>(v) ?? ""),
        };
    }
}
