using System.Management.Automation;
using System.Threading.Channels;
using K3dEtcd.Common;
using K3dEtcd.Data;
using K3dEtcd.Model;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Watches an etcd key or prefix and streams each put and delete until Ctrl+C, -Count events or -TimeoutSeconds.</para>
/// <para type="description">Here -TimeoutSeconds is how long to watch (the watch then ends quietly). Each event has Type (Put or Delete), Key, Value, PreviousValue and ModRevision. When a member restarts, the watch resumes on another member from the revision after the last event, so nothing is lost or repeated. -StartRevision replays history first.</para>
/// </summary>
/// <example>
/// <code>Watch-EtcdKey -Cluster $c -Key /registry/pods -Prefix</code>
/// <para>Streams every change k3s makes to pods until Ctrl+C.</para>
/// </example>
/// <example>
/// <code>Watch-EtcdKey -Cluster etcd -Key /config -Count 1 -TimeoutSeconds 30</code>
/// <para>Waits up to 30 seconds for the next change of /config and returns it.</para>
/// </example>
[Cmdlet(VerbsCommon.Watch, "EtcdKey", DefaultParameterSetName = ClusterSet)]
[OutputType(typeof(EtcdWatchEvent))]
public sealed class WatchEtcdKeyCommand : EtcdDataCmdlet
{
    /// <summary>The key to watch, or the prefix with -Prefix.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [AllowEmptyString]
    [ArgumentCompleter(typeof(EtcdKeyPrefixCompleter))]
    public string Key { get; set; } = "";

    /// <summary>Watch every key that starts with -Key.</summary>
    [Parameter]
    public SwitchParameter Prefix { get; set; }

    /// <summary>Replay changes from this revision on before streaming new ones.</summary>
    [Parameter]
    [ValidateRange(1, long.MaxValue)]
    public long StartRevision { get; set; }

    /// <summary>Stop after this many events.</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int Count { get; set; }

    // -TimeoutSeconds bounds the whole watch; connecting uses the default request timeout.
    protected override TimeSpan RequestTimeout => EtcdConnectionOptions.DefaultTimeout;

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        var connection = await GetConnectionAsync(ct);
        var service = new EtcdWatchService(connection);
        var channel = Channel.CreateBounded<EtcdWatchEvent>(new BoundedChannelOptions(4096) { SingleReader = true, SingleWriter = true });
        using var watch = CancellationTokenSource.CreateLinkedTokenSource(ct);
        if (MyInvocation.BoundParameters.ContainsKey(nameof(TimeoutSeconds))) watch.CancelAfter(TimeSpan.FromSeconds(TimeoutSeconds));
        var request = new EtcdWatchRequest { Key = Key, Prefix = Prefix, StartRevision = StartRevision };
        // The service pumps the channel on the thread pool; this loop drains it on the pipeline thread.
        var producer = Task.Run(() => service.WatchAsync(request, channel.Writer, watch.Token), CancellationToken.None);
        var seen = 0;
        try
        {
            await foreach (var ev in channel.Reader.ReadAllAsync(watch.Token))
            {
                WriteObject(ev);
                if (Count > 0 && ++seen >= Count) break;
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            if (!service.Connected)
            {
                // The window closed before etcd ever confirmed the watch: nothing was watched, so say why.
                watch.Cancel();
                try { await producer; } catch (OperationCanceledException) { }
                throw new K3dEtcdException(ErrorCatalog.EtcdUnreachable,
                    $"etcd watch: {string.Join(',', connection.Endpoints)} did not accept the watch within {TimeoutSeconds} s, so nothing was watched.", Key);
            }
            WriteVerbose($"Watch ended after {TimeoutSeconds} s with {seen} event(s).");
        }
        finally
        {
            watch.Cancel();
            try { await producer; } catch (OperationCanceledException) { }
        }
        if (!ct.IsCancellationRequested && channel.Reader.Completion.IsFaulted)
        {
            await channel.Reader.Completion; // rethrows the watch's failure (e.g. EtcdWatchCompacted)
        }
    }
}
