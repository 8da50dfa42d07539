using System.Threading.Channels;
using Etcdserverpb;
using Google.Protobuf;
using K3dEtcd.Common;
using K3dEtcd.Data;
using K3dEtcd.Model;

namespace K3dEtcd.Browser;

/// <summary>One change as the page receives it.</summary>
public sealed record FeedEvent(string Type, string Key, long Revision, long Version, long CreateRevision, long ReceivedUnixMs);

/// <summary>
/// One watch over the whole keyspace per browser, fanned out to every open page. Each page has
/// its own bounded queue that drops the oldest changes when the page cannot keep up (a burst of
/// 100k puts must not grow memory); a dropped change makes the page refresh what it shows.
/// Every change reaches the <see cref="FolderListingCache"/> first, so a page that hears of a change
/// and lists the folder again gets the new counts.
/// </summary>
public sealed class ChangeFeed : IAsyncDisposable
{
    private readonly EtcdConnection _connection;
    private readonly FolderListingCache? _listings;
    private readonly CancellationTokenSource _stop = new();
    private readonly object _gate = new();
    private readonly List<Subscriber> _subscribers = [];
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _pump;

    public ChangeFeed(EtcdConnection connection, FolderListingCache? listings = null)
    {
        _connection = connection;
        _listings = listings;
    }

    /// <summary>Last error of the watch (shown on the page); null while it runs fine.</summary>
    public string? Problem { get; private set; }

    /// <summary>Completes once the first watch is set up (the listing cache can keep what is read from then on).</summary>
    public Task Started => _started.Task;

    public void Start() => _pump = Task.Run(() => PumpAsync(_stop.Token));

    public Subscriber Subscribe()
    {
        var s = new Subscriber(this);
        lock (_gate) _subscribers.Add(s);
        return s;
    }

    private void Unsubscribe(Subscriber s)
    {
        lock (_gate) _subscribers.Remove(s);
    }

    private async Task PumpAsync(CancellationToken ct)
    {
        var service = new EtcdWatchService(_connection);
        while (!ct.IsCancellationRequested)
        {
            var channel = Channel.CreateBounded<EtcdWatchEvent>(new BoundedChannelOptions(4096) { SingleReader = true, SingleWriter = true });
            Task watch = Task.CompletedTask;
            try
            {
                // Watch from a revision known here (not "now"), so the listing cache knows which
                // revisions the watch vouches for.
                var from = await CurrentRevisionAsync(_connection, ct).ConfigureAwait(false) + 1;
                _listings?.WatchStarted(from);
                _started.TrySetResult();
                watch = Task.Run(() => service.WatchAsync(new EtcdWatchRequest { AllKeys = true, StartRevision = from }, channel.Writer, ct), CancellationToken.None);
                await foreach (var ev in channel.Reader.ReadAllAsync(ct).ConfigureAwait(false))
                {
                    Problem = null;
                    Publish(new FeedEvent(ev.Type == EtcdWatchEventType.Delete ? "delete" : "put", ev.Key, ev.ModRevision, ev.Version, ev.CreateRevision,
                        new DateTimeOffset(ev.Received).ToUnixTimeMilliseconds()));
                }
                await channel.Reader.Completion.ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                break;
            }
            catch (K3dEtcdException ex)
            {
                // The watch service already retries broken streams; what reaches here (compaction,
                // access denied, a cluster gone for long) restarts the watch from now and tells
                // the pages to reload what they show, since changes may have been missed.
                Problem = ex.Message;
                _listings?.WatchLost();
                Publish(null);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                Problem = "the watch failed: " + ex.GetType().Name;
                _listings?.WatchLost();
                Publish(null);
            }
            finally
            {
                try { await watch.ConfigureAwait(false); } catch (OperationCanceledException) { }
            }
            try { await Task.Delay(1000, ct).ConfigureAwait(false); } catch (OperationCanceledException) { break; }
        }
    }

    /// <summary>The store's revision now (a linearizable read).</summary>
    internal static async Task<long> CurrentRevisionAsync(EtcdConnection connection, CancellationToken ct)
    {
        // Any read answers with the store's revision; a count of one key is the cheapest.
        var response = await connection.CallAsync("range", o => connection.Grpc.KVClient.RangeAsync(
            new RangeRequest { Key = ByteString.CopyFrom(0), CountOnly = true }, o), ct).ConfigureAwait(false);
        return response.Header.Revision;
    }

    /// <summary>Hands a change (null: "reload") to the listing cache, then to every page.</summary>
    private void Publish(FeedEvent? ev)
    {
        if (ev is not null) _listings?.Apply(ev);
        Subscriber[] all;
        lock (_gate) all = [.. _subscribers];
        foreach (var s in all) s.Offer(ev);
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        if (_pump is not null)
        {
            try { await _pump.ConfigureAwait(false); } catch (OperationCanceledException) { }
        }
        Subscriber[] all;
        lock (_gate) all = [.. _subscribers];
        foreach (var s in all) s.Complete();
        _stop.Dispose();
    }

    /// <summary>One page's queue of changes.</summary>
    public sealed class Subscriber : IDisposable
    {
        private const int Capacity = 2048;
        private readonly ChangeFeed _feed;
        private readonly Channel<FeedEvent?> _queue = Channel.CreateBounded<FeedEvent?>(new BoundedChannelOptions(Capacity)
        {
            FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true,
        });
        private int _dropped;

        internal Subscriber(ChangeFeed feed) => _feed = feed;

        public ChannelReader<FeedEvent?> Reader => _queue.Reader;

        /// <summary>True once (and reset) after changes were dropped for this page.</summary>
        public bool TakeDropped() => Interlocked.Exchange(ref _dropped, 0) != 0;

        internal void Offer(FeedEvent? ev)
        {
            if (_queue.Reader.Count >= Capacity - 1) Interlocked.Exchange(ref _dropped, 1);
            _queue.Writer.TryWrite(ev);
        }

        internal void Complete() => _queue.Writer.TryComplete();

        public void Dispose()
        {
            _feed.Unsubscribe(this);
            Complete();
        }
    }
}
