using System.Management.Automation;
using K3dEtcd.Services;
using K3dEtcd.Common;
using K3dEtcd.Model;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Rebuilds a cluster that lost its quorum from one surviving member's data, with the same names, URLs and certificates.</para>
/// <para type="description">For a lost quorum with no usable snapshot (with one, Restore-EtcdSnapshot -Cluster NAME -Replace keeps more). The survivor named by -FromMember is started once with etcd's --force-new-cluster, which makes it a one-member cluster of its own data with its member ID, then restarted as usual (the flag never stays). Every other member the cluster's record names is added again through the path Add-EtcdMember takes, at its own index and host port with the certificates it had, on a fresh volume, as a learner promoted once caught up; the old volumes of those members are removed once each has joined. The k3s servers' endpoint list, CA file and client certificate stay right.</para>
/// <para type="description">Writes the survivor had not received when the quorum was lost are gone: pick the member that was most up to date (Get-EtcdMember shows each member's raft index). Refused while a quorum is up (RepairClusterHasQuorum; Repair-EtcdMember replaces lost members then). A failure before the survivor runs alone puts the other containers back as they were; a failure while adding members leaves a working smaller cluster and names the Repair-EtcdMember call that adds the rest. Asks for confirmation unless -Force or -Confirm:$false.</para>
/// </summary>
/// <example>
/// <code>Repair-EtcdCluster -Cluster prod -FromMember prod0 -Force</code>
/// <para>prod1 and prod2 were lost with their volumes and there is no snapshot: prod is rebuilt from prod0's data, and prod1 and prod2 come back at their URLs.</para>
/// </example>
/// <example>
/// <code>Get-EtcdMember -Cluster prod | Sort-Object RaftAppliedIndex -Descending | Select-Object -First 1 | ForEach-Object { Repair-EtcdCluster -Cluster prod -FromMember $_.Name -WhatIf }</code>
/// <para>Shows the rebuild from the member with the most applied entries, without doing it.</para>
/// </example>
[Cmdlet(VerbsDiagnostic.Repair, "EtcdCluster", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(EtcdCluster))]
public sealed class RepairEtcdClusterCommand : K3dEtcdCmdlet
{
    /// <summary>The cluster: a name or an EtcdCluster object.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("ClusterName")]
    [ArgumentCompleter(typeof(EtcdClusterNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string Cluster { get; set; } = "";

    /// <summary>The surviving member whose data the cluster is rebuilt from (its container must exist with its volume).</summary>
    [Parameter(Mandatory = true)]
    [ArgumentCompleter(typeof(EtcdMemberNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string FromMember { get; set; } = "";

    /// <summary>Do not ask for confirmation.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>How long to wait for each member to be healthy and caught up, in seconds.</summary>
    [Parameter]
    [ValidateRange(1, 3600)]
    public int TimeoutSeconds { get; set; } = 120;

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        try
        {
            var service = EtcdServices.Members(await GetDockerAsync(ct), Log, TimeSpan.FromSeconds(TimeoutSeconds));
            if (!ShouldProcessUnlessForced(Force, $"etcd cluster '{Cluster}' from {FromMember}'s data (--force-new-cluster once; the other members added again at their URLs on fresh volumes; writes {FromMember} had not received are lost)", "Rebuild from one member")) return;
            WriteObject(await service.RebuildFromMemberAsync(Cluster, FromMember, ct));
        }
        catch (K3dEtcdException ex)
        {
            WriteFailure(ex);
        }
    }
}
