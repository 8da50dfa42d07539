using System.Management.Automation;
using K3dEtcd.Services;
using K3dEtcd.Common;
using K3dEtcd.Model;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Rebuilds a cluster that lost its quorum from one surviving member's data, with the same names, URLs and certificates.</para>
/// <para type="description">For a lost quorum with no usable snapshot (with one, Restore-EtcdSnapshot -Cluster NAME -Replace keeps more). The survivor named by -FromMember is stopped and its database (member/snap/db) copied out to a private temporary file, which gets the SHA-256 etcd's snapshots end with; the cluster is then rebuilt in place from it exactly as Restore-EtcdSnapshot -Cluster NAME -Replace does: every member of the cluster's record at its own name, URLs, host port and certificates, on fresh volumes, all holding the survivor's keys. (Not etcd's --force-new-cluster with the others added back: a member replaying the survivor's log can end one revision short of the survivor's database.) The old volumes go once the cluster is healthy; the temporary file is deleted. The k3s servers' endpoint list, CA file and client certificate stay right.</para>
/// <para type="description">Writes the survivor had not received when the quorum was lost are gone: pick the member that was most up to date (Get-EtcdMember shows each member's raft index). Refused while a quorum is up (RepairClusterHasQuorum; Repair-EtcdMember replaces lost members then). A failure or Ctrl+C puts the old containers back on their untouched volumes, so it can be run again. Asks for confirmation unless -Force or -Confirm:$false.</para>
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
            var restore = EtcdServices.Restore(await GetDockerAsync(ct), this);
            if (!ShouldProcessUnlessForced(Force, $"etcd cluster '{Cluster}' from {FromMember}'s data (its database copied out and restored into every member at their URLs on fresh volumes; writes {FromMember} had not received are lost)", "Rebuild from one member")) return;
            WriteObject(await restore.RebuildFromMemberAsync(Cluster, FromMember, TimeSpan.FromSeconds(TimeoutSeconds), ct));
        }
        catch (K3dEtcdException ex)
        {
            WriteFailure(ex);
        }
    }
}
