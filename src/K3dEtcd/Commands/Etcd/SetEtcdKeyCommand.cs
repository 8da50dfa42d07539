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
    private readonly List<EtcdPut> _pending = new(EtcdKeyService.MaxTxnOps);
    private EtcdConnection? _pendingConnection;
    // etcd refuses a transaction that puts one key twice ("duplicate key given in txn request").
    private readonly HashSet<string> _pendingKeys = new(StringComparer.Ordinal);
    /// <summary>
    /// Transactions sent and not yet answered, oldest first: the pipeline goes on producing objects
    /// while etcd applies them. etcd may apply concurrent transactions in any order, so a batch that
    /// writes a key still in flight waits for everything sent before it: the last piped value wins.
    /// </summary>
    private readonly Queue<(Task<IReadOnlyList<EtcdKeyValue>> Task, EtcdPut[] Batch)> _inFlight = new();
    private readonly Dictionary<string, int> _keysInFlight = new(StringComparer.Ordinal);
    /// <summary>Enough for the pipeline never to wait on etcd's answer; each holds up to 128 values in memory.</summary>
    internal const int MaxInFlight = 4;
    // One lease per connection: a lease id exists only in the cluster that granted it.
    private readonly Dictionary<EtcdConnection, long> _ttlLeases = new(ReferenceEqualityComparer.Instance);

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
        if (_pendingConnection is not null && !ReferenceEquals(_pendingConnection, connection))
        {
            await FlushAsync(ct);
            await DrainAsync(0, ct);
        }
        _pendingConnection = connection;
        long lease = Lease;
        if (TtlSeconds > 0)
        {
            if (!_ttlLeases.TryGetValue(connection, out lease))
            {
                lease = await new EtcdKeyService(connection).GrantLeaseAsync(TtlSeconds, ct);
                _ttlLeases[connection] = lease;
            }
        }
        if (_pendingKeys.Contains(Key)) await FlushAsync(ct);
        _pending.Add(new EtcdPut(Key, ToBytes(Value), lease));
        _pendingKeys.Add(Key);
        if (_pending.Count >= EtcdKeyService.MaxTxnOps) await FlushAsync(ct);
    }

    protected override async Task EndProcessingAsync(CancellationToken ct)
    {
        await FlushAsync(ct);
        await DrainAsync(0, ct);
    }

    /// <summary>Sends the pending puts as one transaction, without waiting for its answer unless the window is full.</summary>
    private async Task FlushAsync(CancellationToken ct)
    {
        if (_pending.Count == 0 || _pendingConnection is null) return;
        var batch = _pending.ToArray();
        _pending.Clear();
        _pendingKeys.Clear();
        foreach (var put in batch)
        {
            if (_keysInFlight.ContainsKey(put.Key))
            {
                await DrainAsync(0, ct);
                break;
            }
        }
        await DrainAsync(MaxInFlight - 1, ct);
        foreach (var put in batch) _keysInFlight[put.Key] = _keysInFlight.GetValueOrDefault(put.Key) + 1;
        var service = new EtcdKeyService(_pendingConnection);
        // Off the pipeline thread's context: the transaction runs on while PowerShell produces the next objects.
        _inFlight.Enqueue((Task.Run(() => service.PutBatchAsync(batch, ct), ct), batch));
    }

    /// <summary>Waits for the oldest transactions until at most <paramref name="keep"/> are in flight; writes their results in order.</summary>
    private async Task DrainAsync(int keep, CancellationToken ct)
    {
        while (_inFlight.Count > keep)
        {
            var (task, batch) = _inFlight.Dequeue();
            foreach (var put in batch)
            {
                if (--_keysInFlight[put.Key] == 0) _keysInFlight.Remove(put.Key);
            }
            await WriteAnswerAsync(task);
        }
    }

    private async Task WriteAnswerAsync(Task<IReadOnlyList<EtcdKeyValue>> task)
    {
        IReadOnlyList<EtcdKeyValue> written;
        try
        {
            written = await task;
        }
        catch (K3dEtcdException ex) when (ex.ErrorId == ErrorCatalog.EtcdNoSpace.Id && TargetCluster is { } cluster)
        {
            // Name the exact command that gets this cluster out of NOSPACE. With one or two members,
            // defragmenting one leaves no quorum (DefragmentationWouldBreakQuorum) unless -Force accepts the pause.
            var command = cluster.Size - 1 < cluster.Size / 2 + 1
                ? $"Run 'Optimize-EtcdCluster -Cluster {cluster.Name} -Force' (with {cluster.Size} member(s) each defragmentation pauses the cluster, which -Force accepts)"
                : $"Run 'Optimize-EtcdCluster -Cluster {cluster.Name}'";
            throw new K3dEtcdException(ex, ex.Message.Replace("Run Optimize-EtcdCluster on the cluster", command, StringComparison.Ordinal));
        }
        if (PassThru) WriteObject(written, enumerateCollection: true);
    }

    protected override void OnDispose()
    {
        // A failure or Ctrl+C can leave transactions in flight: let them end before the connection closes.
        if (_inFlight.Count > 0)
        {
            try { Task.WaitAll(_inFlight.Select(f => (Task)f.Task).ToArray()); }
            catch (AggregateException) { }
            _inFlight.Clear();
        }
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
