using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using K3dEtcd.Clusters;
using K3dEtcd.Common;
using K3dEtcd.Docker;
using K3dEtcd.Model;

namespace K3dEtcd.Members;

/// <summary>What Measure-EtcdDisk runs: how many timed writes (or for how long), which image, an optional write IOPS limit.</summary>
public sealed record EtcdDiskOptions
{
    public const string ImageEnvironmentVariable = "K3DETCD_DISK_PROBE_IMAGE";
    public const string DefaultImage = "k3detcd/fio:3.33";
    /// <summary>etcd's WAL pattern as etcd's hardware guidance measures it: 2300-byte sequential writes, each followed by fdatasync.</summary>
    public const int BlockSize = 2300;

    public int Count { get; init; } = 1000;
    /// <summary>When set, fio writes for this long instead of <see cref="Count"/> writes.</summary>
    public TimeSpan? Duration { get; init; }
    public string? Image { get; init; }
    public DeviceRate? Throttle { get; init; }
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(5);

    public string ResolvedImage => Image is { Length: > 0 } i ? i
        : Environment.GetEnvironmentVariable(ImageEnvironmentVariable) is { Length: > 0 } e ? e : DefaultImage;
}

/// <summary>
/// Measures the fdatasync latency of members' data volumes. For each member, a short-lived container
/// of the probe image (fio) on the member's engine mounts the member's volume at /probe and runs
/// <c>fio --rw=write --ioengine=sync --fdatasync=1 --bs=2300</c> on a file in a scratch directory of
/// its own at the volume's top (<c>.k3detcd-disk-*</c>, beside etcd's <c>data/</c>, which is never
/// opened); fio times every fdatasync call itself (clock_gettime around the call, in-process), so no
/// process start-up is in the figures. The container is removed, and the scratch directory removed by
/// a second container, whatever happens (failure, timeout, Ctrl+C). The member keeps running.
/// </summary>
public sealed class EtcdDiskProbe(EtcdMemberService members, IOperationLog log)
{
    public const string ProbeLabel = Labels.Prefix + "probe";
    public const string ScratchPrefix = ".k3detcd-disk-";
    public const string MountPoint = "/probe";
    private const string Activity = "Measuring fdatasync latency";

    public Task<EtcdCluster> GetClusterAsync(string name, CancellationToken ct) => members.GetClusterAsync(name, ct);

    /// <summary>The members to measure: all, or the named ones (EtcdMemberNotFound for a name the cluster does not have).</summary>
    public static IReadOnlyList<EtcdClusterMember> Targets(EtcdCluster cluster, IReadOnlyList<string> names) =>
        names.Count == 0 ? cluster.Members : names.Select(n => EtcdMemberService.ResolveMember(cluster, n)).DistinctBy(m => m.Name).ToList();

    /// <summary>fio's command line for one probe (also what a user can run by hand with docker run).</summary>
    public static List<string> FioCommand(string scratch, EtcdDiskOptions o)
    {
        var cmd = new List<string>
        {
            "/usr/bin/fio", "--name=k3detcd-disk", $"--filename={MountPoint}/{scratch}/probe", "--rw=write", "--ioengine=sync",
            "--fdatasync=1", $"--bs={EtcdDiskOptions.BlockSize}", "--percentile_list=50:99", "--unlink=1", "--output-format=json",
        };
        if (o.Duration is { } d)
        {
            // 22 MiB: the file of etcd's own fio recipe; time_based rewrites it until the runtime ends.
            cmd.AddRange(["--size=22m", "--time_based", $"--runtime={Math.Max(1, (int)Math.Ceiling(d.TotalSeconds))}s"]);
        }
        else
        {
            // fio times an fdatasync after every write but the last (that one is at close): one write more gives Count timed calls.
            cmd.Add($"--size={(long)(o.Count + 1) * EtcdDiskOptions.BlockSize}");
        }
        return cmd;
    }

    public async Task<EtcdDiskMeasurement> MeasureAsync(EtcdCluster cluster, EtcdClusterMember member, int index, int total, EtcdDiskOptions o, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(member.Volume))
        {
            throw new K3dEtcdException(ErrorCatalog.DiskProbeFailed, $"Member '{member.Name}' of cluster '{cluster.Name}' has no data volume to measure.", member.Name);
        }
        var docker = await members.Docker.ForEngineAsync(member.Engine, ct).ConfigureAwait(false);
        var image = o.ResolvedImage;
        var scratch = ScratchPrefix + Guid.NewGuid().ToString("N")[..12];
        var bind = $"{member.Volume}:{MountPoint}";
        var spec = new ContainerSpec
        {
            Name = $"k3detcd-disk-{member.Name}-{scratch[ScratchPrefix.Length..][..6]}",
            Image = image,
            Command = FioCommand(scratch, o),
            Labels = new Dictionary<string, string> { [ProbeLabel] = "disk", [Labels.Prefix + "probe-member"] = member.Name },
            Network = "none",
            Binds = [bind],
            DeviceWriteIops = o.Throttle is { } t ? [t] : [],
        };
        var what = $"member {member.Name} ({index + 1} of {total})";
        log.Verbose($"docker run --rm --network none -v {bind}{(o.Throttle is { } th ? $" --device-write-iops {th.Path}:{th.Rate}" : "")} {image} {string.Join(' ', spec.Command)}");
        var clock = Stopwatch.StartNew();
        var probeRan = true;
        var run = docker.RunToCompletionAsync(spec, o.Timeout, ct);
        try
        {
            while (!run.IsCompleted)
            {
                var seconds = clock.Elapsed.TotalSeconds;
                var share = o.Duration is { } d ? Math.Min(1, seconds / Math.Max(1, d.TotalSeconds)) : 0;
                var load = o.Duration is { } dd ? $"writing for {dd.TotalSeconds:0} s" : $"{o.Count} writes";
                log.Progress(new OperationProgress(Activity, $"{what}: {load} with fdatasync on volume {member.Volume}, {seconds:0} s",
                    (int)((index + share) * 100 / total), ActivityId: 7));
                await Task.WhenAny(run, Task.Delay(500, CancellationToken.None)).ConfigureAwait(false);
            }
            var (exit, output) = await run.ConfigureAwait(false);
            clock.Stop();
            if (exit != 0)
            {
                throw new K3dEtcdException(ErrorCatalog.DiskProbeFailed,
                    $"fio on member '{member.Name}' (volume {member.Volume}) exited with {exit}: {Short(output)}", member.Name);
            }
            var m = Parse(output, out var why) ?? throw new K3dEtcdException(ErrorCatalog.DiskProbeFailed,
                $"fio on member '{member.Name}' printed no fdatasync figures ({why}): {Short(output)}", member.Name);
            var verdict = EtcdDiskMeasurement.VerdictFor(m.P99Ms);
            return new EtcdDiskMeasurement
            {
                Cluster = cluster.Name,
                Member = member.Name,
                Volume = member.Volume,
                Engine = member.Engine,
                Writes = m.Count,
                BlockSize = EtcdDiskOptions.BlockSize,
                MinMs = m.MinMs,
                MeanMs = m.MeanMs,
                P50Ms = m.P50Ms,
                P99Ms = m.P99Ms,
                MaxMs = m.MaxMs,
                Verdict = verdict,
                Advice = Advice(verdict, m.P99Ms),
                Elapsed = clock.Elapsed,
                ProbeImage = image,
                ThrottledWriteIops = o.Throttle is { } tt ? (int)tt.Rate : null,
            };
        }
        catch (DockerOperationException ex) when (ex.IsImageNotFound || (ex.IsNotFound && ex.DockerMessage.Contains("image", StringComparison.OrdinalIgnoreCase)))
        {
            probeRan = false;
            throw new K3dEtcdException(ErrorCatalog.DiskProbeImageNotFound,
                $"The disk probe image '{image}' is not present on the engine of member '{member.Name}'. Build it with tests/prepare-docker.sh (from Debian's fio package), " +
                $"or name an image with /usr/bin/fio and /bin/rm with -ProbeImage or {EtcdDiskOptions.ImageEnvironmentVariable}.", image, ex);
        }
        catch (DockerOperationException ex)
        {
            throw new K3dEtcdException(ErrorCatalog.DiskProbeFailed,
                $"The disk probe on member '{member.Name}' could not run: {ex.DockerMessage}", member.Name, ex);
        }
        catch (OperationCanceledException ex) when (!ct.IsCancellationRequested)
        {
            throw new K3dEtcdException(ErrorCatalog.OperationTimedOut,
                $"The disk probe on member '{member.Name}' did not finish within {o.Timeout.TotalSeconds:0} s (a slow disk; try a smaller -Count or a larger -TimeoutSeconds).", member.Name, ex);
        }
        finally
        {
            // The probe container is gone (RunToCompletionAsync removes it); its scratch directory goes now, also after a failure or Ctrl+C.
            // (No container could be made without the image: then there is nothing to remove, and no image to remove it with.)
            if (probeRan) await RemoveScratchAsync(docker, member, image, scratch).ConfigureAwait(false);
        }
    }

    private async Task RemoveScratchAsync(DockerAdapter docker, EtcdClusterMember member, string image, string scratch)
    {
        try
        {
            var (exit, output) = await docker.RunToCompletionAsync(new ContainerSpec
            {
                Image = image,
                Command = ["/bin/rm", "-rf", $"{MountPoint}/{scratch}"],
                Labels = new Dictionary<string, string> { [ProbeLabel] = "disk-cleanup" },
                Network = "none",
                Binds = [$"{member.Volume}:{MountPoint}"],
            }, TimeSpan.FromSeconds(60), CancellationToken.None).ConfigureAwait(false);
            if (exit != 0) log.Warning($"Could not remove the scratch directory {scratch} from volume {member.Volume}: {Short(output)}");
        }
        catch (Exception ex) when (ex is DockerOperationException or OperationCanceledException)
        {
            log.Warning($"Could not remove the scratch directory {scratch} from volume {member.Volume}: {ex.Message}");
        }
    }

    public static string Advice(string verdict, double p99Ms) => verdict switch
    {
        "Ok" => $"p99 fdatasync {p99Ms:0.###} ms is under etcd's 10 ms guidance.",
        "Warning" => $"p99 fdatasync {p99Ms:0.###} ms is over etcd's 10 ms guidance: expect slow writes and 'apply request took too long'; put the data volume on a faster (SSD/NVMe), less shared disk.",
        _ => $"p99 fdatasync {p99Ms:0.###} ms is at or over 500 ms, where etcd's own WAL fsync alert fires: heartbeats and elections will suffer; move the data volume to a faster disk.",
    };

    public sealed record FioFigures(long Count, double MinMs, double MeanMs, double P50Ms, double P99Ms, double MaxMs);

    /// <summary>
    /// fio's JSON: jobs[0].sync.lat_ns (one sample per fdatasync call). fio's percentiles are the upper
    /// edges of its histogram bins (within about 3 % of the value), so they are capped at the measured maximum.
    /// </summary>
    public static FioFigures? Parse(string output, out string why)
    {
        why = "no JSON";
        var start = output.IndexOf('{');
        var end = output.LastIndexOf('}');
        if (start < 0 || end < start) return null;
        // The container log comes back in frames joined by line breaks, and the engine cuts a long write
        // into several frames anywhere, even inside a string or a number (seen here). Every real line break
        // in fio's indented JSON is insignificant whitespace, so dropping them all gives fio's text back.
        var json = output[start..(end + 1)].Replace("\r", "", StringComparison.Ordinal).Replace("\n", "", StringComparison.Ordinal);
        try
        {
            using var doc = JsonDocument.Parse(json);
            var job = doc.RootElement.GetProperty("jobs")[0];
            why = "no sync.lat_ns in jobs[0]";
            if (!job.TryGetProperty("sync", out var sync) || !sync.TryGetProperty("lat_ns", out var lat)) return null;
            var n = lat.GetProperty("N").GetInt64();
            why = "no fdatasync call timed";
            if (n <= 0) return null;
            static double Ms(double ns) => Math.Round(ns / 1e6, 3);
            var max = lat.GetProperty("max").GetDouble();
            var pct = lat.GetProperty("percentile");
            double P(string key) => Math.Min(pct.GetProperty(key).GetDouble(), max);
            return new FioFigures(n, Ms(lat.GetProperty("min").GetDouble()), Ms(lat.GetProperty("mean").GetDouble()),
                Ms(P("50.000000")), Ms(P("99.000000")), Ms(max));
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or IndexOutOfRangeException or FormatException)
        {
            why = ex.Message;
            return null;
        }
    }

    /// <summary>Docker's <c>--device-write-iops</c> form: DEVICE:IOPS.</summary>
    public static DeviceRate ParseThrottle(string text)
    {
        var i = text.LastIndexOf(':');
        if (i <= 0 || !text.StartsWith('/') || !ulong.TryParse(text[(i + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var rate) || rate == 0)
        {
            throw new K3dEtcdException(ErrorCatalog.InvalidDiskThrottle,
                $"-ThrottleWriteIops '{text}' is not DEVICE:IOPS (for example /dev/vda:20: the block device holding the engine's volumes, as docker run --device-write-iops takes it).", text);
        }
        return new DeviceRate(text[..i], rate);
    }

    private static string Short(string s)
    {
        var t = s.Replace('\n', ' ').Trim();
        return t.Length > 600 ? t[..600] + "..." : t;
    }
}
