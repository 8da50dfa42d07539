using System.Management.Automation;
using K3dEtcd.Common;
using K3dEtcd.Clusters;
using K3dEtcd.Docker;
using K3dEtcd.Members;
using K3dEtcd.Model;
using K3dEtcd.Services;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Upgrades an etcd cluster to a newer etcd, one member at a time, with a verified snapshot first.</para>
/// <para type="description">Checks first, and changes nothing when a check fails: every member running and healthy on one version, and a
/// path etcd supports (a patch, or the next minor; not a skipped minor, a downgrade, 3.6 from a 3.5 below the patch etcd's upgrade guide
/// requires, or 3.6 for a cluster made with -EnableV2). Then saves a verified snapshot (unless -SkipSnapshot) and recreates the members one
/// after the other on the new image: followers first, the leader last after leadership moved away. Each member keeps its name, data volume,
/// ports, network, labels, certificates and flags; before the next one it must be healthy, caught up, on the new version, and hold the same
/// data as every other member (HashKV at one revision). A member that fails a check, or an upgrade stopped with Ctrl+C, runs its old image
/// again on its same volume, and the error says which members run which version; running the command again goes on with the members not yet
/// upgraded. With -WhatIf it shows the plan: versions, image, order.</para>
/// </summary>
/// <example>
/// <code>Update-EtcdCluster -Cluster prod -Version 3.5.30 -WhatIf</code>
/// <para>Shows the plan: each member's version now and after, the order (the leader last), the image; nothing is changed.</para>
/// </example>
/// <example>
/// <code>Update-EtcdCluster -Cluster prod -Version 3.5.30</code>
/// <para>Same image repository, new tag: a snapshot in the current directory first, then member by member.</para>
/// </example>
/// <example>
/// <code>Update-EtcdCluster -Cluster prod -Image registry.local/etcd:v3.5.30 -SnapshotPath /backups/prod</code>
/// <para>Another image; the snapshot goes into /backups/prod under a name with the cluster, both versions and the time.</para>
/// </example>
[Cmdlet(VerbsData.Update, "EtcdCluster", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = ByVersion)]
[OutputType(typeof(EtcdUpgrade))]
public sealed class UpdateEtcdClusterCommand : K3dEtcdCmdlet
{
    private const string ByVersion = "Version";
    private const string ByImage = "Image";

    /// <summary>The cluster: an EtcdCluster object (from New-/Get-EtcdCluster) or a cluster name.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [EtcdClusterTransformation]
    [ArgumentCompleter(typeof(EtcdClusterNameCompleter))]
    [ValidateNotNull]
    public EtcdCluster Cluster { get; set; } = null!;

    /// <summary>The etcd version to run (for example 3.5.30), in the repository of the cluster's image; with -Image, the version that image holds when its tag does not say.</summary>
    [Parameter(ParameterSetName = ByVersion, Mandatory = true, Position = 1)]
    [Parameter(ParameterSetName = ByImage)]
    [ValidatePattern(@"^v?\d+\.\d+\.\d+([-+][\w.]+)?$")]
    public string Version { get; set; } = "";

    /// <summary>The image to run (for example registry.local/etcd:v3.5.30); its tag names the version unless -Version is given too.</summary>
    [Parameter(ParameterSetName = ByImage, Mandatory = true)]
    [ValidateNotNullOrEmpty]
    public string Image { get; set; } = "";

    /// <summary>Where the snapshot taken first goes: a file, or a directory for a name made from the cluster, both versions and the time (default: the current directory).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? SnapshotPath { get; set; }

    /// <summary>Upgrade without taking a snapshot first.</summary>
    [Parameter]
    public SwitchParameter SkipSnapshot { get; set; }

    /// <summary>Pulling the new image when it is missing: Missing (default, or K3DETCD_PULL_POLICY) or Never.</summary>
    [Parameter]
    public ImagePullPolicy? PullPolicy { get; set; }

    /// <summary>How long each wait (a member healthy and caught up, leadership moved) may take, in seconds.</summary>
    [Parameter]
    [ValidateRange(1, 3600)]
    public int TimeoutSeconds { get; set; } = 120;

    /// <summary>Do not ask for confirmation.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        if (SkipSnapshot && SnapshotPath is not null) WriteWarning("-SkipSnapshot: no snapshot is taken, so -SnapshotPath is not used.");
        var service = EtcdServices.Upgrade(await GetDockerAsync(ct), Log, TimeSpan.FromSeconds(TimeoutSeconds));
        var request = new EtcdUpgradeRequest
        {
            Cluster = Cluster.Name,
            Version = MyInvocation.BoundParameters.ContainsKey(nameof(Version)) ? Version : null,
            Image = ParameterSetName == ByImage ? Image : null,
            SnapshotPath = SkipSnapshot ? null : GetUnresolvedProviderPathFromPSPath(SnapshotPath ?? "."),
            PullPolicy = PullPolicy ?? EtcdClusterSpec.DefaultPullPolicy(),
        };
        try
        {
            var (_, plan) = await service.PlanAsync(request, ct);
            var order = string.Join(", ", plan.Members.Where(m => m.Upgraded).Select(m => m.WasLeader ? $"{m.Member} (leader, last)" : m.Member));
            if (!ShouldProcessUnlessForced(Force, $"etcd cluster '{plan.Cluster}': {plan.FromVersion} -> {plan.ToVersion} ({plan.Image}); members in order: {(order.Length > 0 ? order : "none")}{(SkipSnapshot ? "; no snapshot" : "")}", "Upgrade"))
            {
                // -WhatIf shows the plan as an object too, for scripts that check it before the real run.
                if (MyInvocation.BoundParameters.ContainsKey("WhatIf") || GetVariableValue("WhatIfPreference") is true or SwitchParameter { IsPresent: true }) WriteObject(plan);
                return;
            }
            WriteObject(await service.UpgradeAsync(request, ct));
        }
        catch (K3dEtcdException ex)
        {
            WriteFailure(ex);
        }
    }
}
