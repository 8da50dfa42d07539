using System.Management.Automation;
using K3dEtcd.Common;
using K3dEtcd.Data;
using K3dEtcd.Model;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Removes etcd keys: one key, every key under a prefix, or the keys piped from Get-EtcdKey.</para>
/// <para type="description">Piped keys are removed in order in transactions of up to 128 deletes. Removing a prefix asks for confirmation (high impact) unless -Force or -Confirm:$false is given. -PassThru returns the removed keys with their last values; count them with Measure-Object. A single key that does not exist is a non-terminating EtcdKeyNotFound error.</para>
/// </summary>
/// <example>
/// <code>Remove-EtcdKey -Cluster $c -Key /foo</code>
/// <para>Removes the key /foo.</para>
/// </example>
/// <example>
/// <code>Get-EtcdKey -Cluster $c -Key /bulk/ -Prefix | Remove-EtcdKey -Cluster $c -Confirm:$false</code>
/// <para>Removes every key Get-EtcdKey found under /bulk/, in batches.</para>
/// </example>
/// <example>
/// <code>(Remove-EtcdKey -Cluster etcd -Key /tmp/ -Prefix -Force -PassThru | Measure-Object).Count</code>
/// <para>Removes everything under /tmp/ without asking and shows how many keys were removed.</para>
/// </example>
[Cmdlet(VerbsCommon.Remove, "EtcdKey", DefaultParameterSetName = ClusterSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(EtcdKeyValue))]
public sealed class RemoveEtcdKeyCommand : EtcdDataCmdlet
{
    private readonly List<EtcdKeyService.EtcdDelete> _pending = new(EtcdKeyService.MaxTxnOps);
    private EtcdConnection? _pendingConnection;

    /// <summary>The key to remove, or the prefix with -Prefix.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [AllowEmptyString]
    [ArgumentCompleter(typeof(EtcdKeyPrefixCompleter))]
    public string Key { get; set; } = "";

    /// <summary>Remove every key that starts with -Key.</summary>
    [Parameter]
    public SwitchParameter Prefix { get; set; }

    /// <summary>Return the removed keys (with their last values); count them with Measure-Object.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <summary>Remove a prefix without asking.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        try
        {
            EtcdKeyService.ValidateKey(Key, Prefix ? "prefix" : "key");
        }
        catch (K3dEtcdException ex)
        {
            WriteFailure(ex);
            return;
        }
        var connection = await GetConnectionAsync(ct);
        var target = Prefix ? $"every key under {Key} on {TargetDescription}" : $"{Key} on {TargetDescription}";
        if (!ShouldProcessUnlessForced(Force, target, "Remove etcd key")) return;
        if (Prefix && !Force && !ConfirmedExplicitly() && !ShouldContinue($"Remove {target}?", "Remove an etcd prefix")) return;
        if (_pendingConnection is not null && !ReferenceEquals(_pendingConnection, connection)) await FlushAsync(ct);
        _pendingConnection = connection;
        _pending.Add(new EtcdKeyService.EtcdDelete(Key, Prefix));
        if (_pending.Count >= EtcdKeyService.MaxTxnOps) await FlushAsync(ct);
    }

    /// <summary>
    /// A prefix removal is high impact: it prompts like ConfirmImpact High would, unless the
    /// user already answered with -Confirm (either way) or lowered nothing ($ConfirmPreference None).
    /// </summary>
    private bool ConfirmedExplicitly()
    {
        if (MyInvocation.BoundParameters.ContainsKey("Confirm")) return true;
        var preference = GetVariableValue("ConfirmPreference");
        return preference is ConfirmImpact.None || (preference is PSObject p && p.BaseObject is ConfirmImpact.None);
    }

    protected override Task EndProcessingAsync(CancellationToken ct) => FlushAsync(ct);

    private async Task FlushAsync(CancellationToken ct)
    {
        if (_pending.Count == 0 || _pendingConnection is null) return;
        var batch = _pending.ToArray();
        _pending.Clear();
        var removed = await new EtcdKeyService(_pendingConnection).DeleteBatchAsync(batch, PassThru, ct);
        for (var i = 0; i < batch.Length; i++)
        {
            if (removed[i].Count == 0 && !batch[i].Prefix)
            {
                WriteFailure(new K3dEtcdException(ErrorCatalog.EtcdKeyNotFound, $"Key '{batch[i].Key}' does not exist; nothing was removed.", batch[i].Key));
            }
            else if (batch[i].Prefix)
            {
                WriteVerbose($"Removed {removed[i].Count} key(s) under {batch[i].Key}.");
            }
            if (PassThru) WriteObject(removed[i], enumerateCollection: true);
        }
    }
}
