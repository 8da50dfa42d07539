using System.Net;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace K3dEtcd.Browser;

/// <summary>Answers in the shapes the page reads (JSON with web names, plain text) and query string parsing.</summary>
internal static class BrowserHttp
{
    public static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web)
    {
        // The page renders with textContent; escaping < > & in JSON strings as well costs nothing.
        Encoder = JavaScriptEncoder.Default,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    public static Task WriteJsonAsync(HttpListenerResponse response, int status, object payload) =>
        WriteBytesAsync(response, status, "application/json; charset=utf-8", JsonSerializer.SerializeToUtf8Bytes(payload, payload.GetType(), JsonOptions));

    public static Task WriteTextAsync(HttpListenerResponse response, int status, string text) =>
        WriteBytesAsync(response, status, "text/plain; charset=utf-8", Encoding.UTF8.GetBytes(text + "\n"));

    public static async Task TryWriteErrorAsync(HttpListenerResponse response, int status, string message, string errorId)
    {
        try { await WriteJsonAsync(response, status, new { error = message, errorId }).ConfigureAwait(false); }
        catch (Exception) { } // headers already sent (an event stream): nothing more to say
    }

    public static async Task WriteBytesAsync(HttpListenerResponse response, int status, string contentType, byte[] body)
    {
        response.StatusCode = status;
        response.ContentType = contentType;
        response.ContentLength64 = body.Length;
        await response.OutputStream.WriteAsync(body).ConfigureAwait(false);
    }

    /// <summary>Query string parameters, percent-decoded as UTF-8 ('+' is a plus: the page encodes with encodeURIComponent).</summary>
    public static Dictionary<string, string> ParseQuery(string? query)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (string.IsNullOrEmpty(query)) return result;
        foreach (var part in query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = part.IndexOf('=');
            var name = Uri.UnescapeDataString(eq < 0 ? part : part[..eq]);
            var value = eq < 0 ? "" : Uri.UnescapeDataString(part[(eq + 1)..]);
            result.TryAdd(name, value);
        }
        return result;
    }
}
