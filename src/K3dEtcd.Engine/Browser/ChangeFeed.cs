using System.Threading.Channels;
using K3dEtcd.Common;
using K3dEtcd.Etcd;
using K3dEtcd.Model;

namespace K3dEtcd.Browser;

/// <summary>One change as the page receives it.</summary>
public sealed record FeedEvent(string Type, string Key, long Revision, long Version, long CreateRevision, long ReceivedUnixMs);

/// <summary>
/// One watch over the whole keyspace per browser, fanned out to every open page. Each page has
/// its own bounded queue that drops the oldest changes when the page cannot keep up (a burst of
/// 100k puts must not grow memory); a dropped change makes the page refresh what it shows.
/// </summary>
public sealed class ChangeFeed : IAsyncDisposable
{
    private readonly EtcdConnection _connection;
    private readonly CancellationTokenSource _stop = new();
    private readonly object _gate = new();
    private readonly List<Subscriber> _subscribers = [];
    private Task? _pump;

    public ChangeFeed(EtcdConnection connection) => _connection = connection;

    /// <summary>Last error of the watch (shown on the page); null while it runs fine.</summary>
    public string? Problem { get; private set; }

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
            var watch = Task.Run(() => service.WatchAsync(new EtcdWatchRequest { AllKeys = true }, channel.Writer, ct), CancellationToken.None);
            try
            {
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
                Publish(null);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                Problem = "the watch failed: " + ex.GetType().Name;
                Publish(null);
            }
            finally
            {
                try { await watch.ConfigureAwait(false); } catch (OperationCanceledException) { }
            }
            try { await Task.Delay(1000, ct).ConfigureAwait(false); } catch (OperationCanceledException) { break; }
        }
    }

    /// <summary>Hands a change (null: "reload") to every page.</summary>
    private void Publish(FeedEvent? ev)
    {
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
