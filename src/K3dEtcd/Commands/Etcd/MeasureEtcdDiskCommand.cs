using System.Management.Automation;
using K3dEtcd.Common;
using K3dEtcd.Model;
using K3dEtcd.Members;
using K3dEtcd.Services;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Measures the fdatasync latency of each member's data volume (etcd's guidance: p99 under 10 ms) and gives a verdict.</para>
/// <para type="description">For each member, a short-lived container on the member's Docker engine mounts the member's data volume and runs
/// fio as etcd's hardware guidance does (sequential 2300-byte writes, each followed by fdatasync) on a file in a scratch directory of
/// its own at the top of the volume (.k3detcd-disk-*); etcd's own files (data/member/) are never opened. fio times every fdatasync
/// call itself, so the figures hold no process start-up. Writes one EtcdDiskMeasurement per member: the number of timed calls, min,
/// mean, p50, p99 and max in milliseconds, and a verdict: Ok (p99 under 10 ms), Warning (10 ms to 500 ms) or Critical (500 ms or
/// more, where etcd's own WAL fsync alert fires), with advice. The members keep running and serving; the probe adds its writes to the
/// disk's load while it runs. The probe container and the scratch directory are removed afterwards, also after a failure or Ctrl+C.
/// Nothing lasting changes, so there is no -WhatIf. The probe image needs /usr/bin/fio and /bin/rm: k3detcd/fio:3.33 by default
/// (built from Debian's fio package by tests/prepare-docker.sh), or -ProbeImage, or K3DETCD_DISK_PROBE_IMAGE.</para>
/// </summary>
/// <example>
/// <code>Measure-EtcdDisk -Cluster prod</code>
/// <para>Measures every member's volume with 1000 writes each; one row per member with p50, p99, max and the verdict.</para>
/// </example>
/// <example>
/// <code>Measure-EtcdDisk prod -Member prod0 -Duration 00:00:30 | Format-List</code>
/// <para>Writes for 30 seconds on prod0's volume only and shows every figure, with the advice.</para>
/// </example>
/// <example>
/// <code>Measure-EtcdDisk prod | Where-Object Verdict -ne Ok | ForEach-Object Advice</code>
/// <para>Prints the advice for each member whose disk is slower than etcd's guidance.</para>
/// </example>
/// <example>
/// <code>Measure-EtcdDisk prod -Member prod1 -ThrottleWriteIops /dev/vda:20</code>
/// <para>Limits the probe container to 20 write IOPS on /dev/vda (docker run --device-write-iops) to see what a slow disk reports; only the probe is limited, not the member.</para>
/// </example>
[Cmdlet(VerbsDiagnostic.Measure, "EtcdDisk", DefaultParameterSetName = CountSet)]
[OutputType(typeof(EtcdDiskMeasurement))]
public sealed class MeasureEtcdDiskCommand : K3dEtcdCmdlet
{
    private const string CountSet = "Count";
    private const string DurationSet = "Duration";

    /// <summary>The cluster: an EtcdCluster object (from New-/Get-EtcdCluster) or a cluster name.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [EtcdClusterTransformation]
    [ArgumentCompleter(typeof(EtcdClusterNameCompleter))]
    [ValidateNotNull]
    public EtcdCluster Cluster { get; set; } = null!;

    /// <summary>Member names (container names such as etcd0) or member IDs in hex; every member when left out.</summary>
    [Parameter(Position = 1)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(EtcdMemberNameCompleter))]
    public string[] Member { get; set; } = [];

    /// <summary>How many write+fdatasync pairs to time on each volume (etcd's own fio recipe writes about 10000).</summary>
    [Parameter(ParameterSetName = CountSet)]
    [ValidateRange(10, 1000000)]
    public int Count { get; set; } = 1000;

    /// <summary>Write for this long on each volume instead of a number of writes (1 second to 1 hour).</summary>
    [Parameter(ParameterSetName = DurationSet, Mandatory = true)]
    public TimeSpan Duration { get; set; }

    /// <summary>The image to run fio from (it needs /usr/bin/fio and /bin/rm); default K3DETCD_DISK_PROBE_IMAGE, else k3detcd/fio:3.33.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ProbeImage { get; set; }

    /// <summary>DEVICE:IOPS, as docker run --device-write-iops takes it: limits the probe container's writes to that block device (the one holding the engine's volumes), to see a slow disk reported. Needs an engine with a cgroup io/blkio controller.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ThrottleWriteIops { get; set; }

    /// <summary>How long each member's probe may take, in seconds.</summary>
    [Parameter]
    [ValidateRange(1, 7200)]
    public int TimeoutSeconds { get; set; } = 300;

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        if (ParameterSetName == DurationSet && (Duration < TimeSpan.FromSeconds(1) || Duration > TimeSpan.FromHours(1)))
        {
            throw new K3dEtcdException(ErrorCatalog.InvalidTimeout, $"-Duration {Duration} is not between 1 second and 1 hour.", Duration);
        }
        var options = new EtcdDiskOptions
        {
            Count = Count,
            Duration = ParameterSetName == DurationSet ? Duration : null,
            Image = ProbeImage,
            Throttle = ThrottleWriteIops is { } t ? EtcdDiskProbe.ParseThrottle(t) : null,
            Timeout = TimeSpan.FromSeconds(TimeoutSeconds) + (ParameterSetName == DurationSet ? Duration : TimeSpan.Zero),
        };
        var probe = EtcdServices.Disk(await GetDockerAsync(ct), Log);
        var cluster = await probe.GetClusterAsync(Cluster.Name, ct);
        var targets = EtcdDiskProbe.Targets(cluster, Member);
        for (var i = 0; i < targets.Count; i++)
        {
            try
            {
                WriteObject(await probe.MeasureAsync(cluster, targets[i], i, targets.Count, options, ct));
            }
            catch (K3dEtcdException ex) when (IsPerItem(ex) && ex.Definition != ErrorCatalog.DiskProbeImageNotFound)
            {
                WriteFailure(ex);
            }
        }
        Log.Progress(new OperationProgress("Measuring fdatasync latency", "Done", 100, ActivityId: 7, Completed: true));
    }
}
