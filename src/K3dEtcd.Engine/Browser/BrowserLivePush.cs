using System.Net;
using System.Text;
using System.Text.Json;

namespace K3dEtcd.Browser;

/// <summary>
/// The live push to one page: Server-Sent Events fed by the <see cref="ChangeFeed"/>, one "change"
/// per put or delete, "reload" when changes were missed, a comment as keep-alive.
/// </summary>
internal static class BrowserLivePush
{
    private static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(15);

    public static async Task StreamAsync(ChangeFeed feed, HttpListenerResponse response, CancellationToken ct)
    {
        response.StatusCode = 200;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.SendChunked = true;
        using var subscriber = feed.Subscribe();
        var output = response.OutputStream;
        await output.WriteAsync(": connected\nretry: 1000\n\n"u8.ToArray(), ct).ConfigureAwait(false);
        await output.FlushAsync(ct).ConfigureAwait(false);
        var sb = new StringBuilder();
        while (!ct.IsCancellationRequested)
        {
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
            wait.CancelAfter(KeepAlive);
            bool more;
            try
            {
                more = await subscriber.Reader.WaitToReadAsync(wait.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                await output.WriteAsync(": keep-alive\n\n"u8.ToArray(), ct).ConfigureAwait(false);
                await output.FlushAsync(ct).ConfigureAwait(false);
                continue;
            }
            if (!more) return;
            sb.Clear();
            // Everything queued goes out in one write: a burst of puts costs one flush, not one each.
            var reload = subscriber.TakeDropped();
            while (sb.Length < 256 * 1024 && subscriber.Reader.TryRead(out var ev))
            {
                if (ev is null) { reload = true; continue; }
                sb.Append("event: change\ndata: ").Append(JsonSerializer.Serialize(ev, BrowserHttp.JsonOptions)).Append("\n\n");
            }
            if (reload) sb.Append("event: reload\ndata: {}\n\n");
            await output.WriteAsync(Encoding.UTF8.GetBytes(sb.ToString()), ct).ConfigureAwait(false);
            await output.FlushAsync(ct).ConfigureAwait(false);
        }
    }
}
