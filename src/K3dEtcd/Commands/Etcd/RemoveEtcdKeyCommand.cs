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
    // Transactions of up to 128 deletes, each answered before the next is sent (maxInFlight 0), in order.
    private EtcdWriteBatcher? _batcher;

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
        _batcher ??= new EtcdWriteBatcher(maxInFlight: 0, returnDeletedValues: PassThru);
        Write(await _batcher.DeleteAsync(connection, new EtcdKeyService.EtcdDelete(Key, Prefix), ct));
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

    protected override async Task EndProcessingAsync(CancellationToken ct)
    {
        if (_batcher is not null) Write(await _batcher.CompleteAsync(ct));
    }

    private void Write(IReadOnlyList<EtcdWriteResult> answered)
    {
        foreach (var result in answered)
        {
            if (result.Error is not null) WriteFailure(result.Error);
            else if (result.Prefix) WriteVerbose($"Removed {result.Keys.Count} key(s) under {result.Key}.");
            if (PassThru) WriteObject(result.Keys, enumerateCollection: true);
        }
    }

    protected override void OnDispose()
    {
        _batcher?.Dispose();
        base.OnDispose();
    }
}
