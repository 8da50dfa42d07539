using System.Text;
using System.Text.Json;

namespace K3dEtcd.Etcd;

/// <summary>
/// The few HTTP calls every etcd version answers on its client port: /health and the v3 JSON
/// gateway's maintenance status. Used while a cluster starts, before any gRPC client is worth making.
/// </summary>
public sealed class EtcdHttpProbe(HttpClient http)
{
    public async Task<bool> IsHealthyAsync(string clientUrl, CancellationToken ct)
    {
        try
        {
            using var response = await http.GetAsync($"{clientUrl.TrimEnd('/')}/health", ct).ConfigureAwait(false);
            var body = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
            using var doc = JsonDocument.Parse(body);
            return doc.RootElement.TryGetProperty("health", out var h) && h.GetString() == "true";
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException || (ex is OperationCanceledException && !ct.IsCancellationRequested))
        {
            return false;
        }
    }

    /// <summary>The leader's member ID (decimal, as the JSON gateway prints uint64), or null.</summary>
    public async Task<string?> GetLeaderAsync(string clientUrl, CancellationToken ct)
    {
        try
        {
            using var content = new StringContent("{}", Encoding.UTF8, "application/json");
            using var response = await http.PostAsync($"{clientUrl.TrimEnd('/')}/v3/maintenance/status", content, ct).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode) return null;
            using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false));
            return doc.RootElement.TryGetProperty("leader", out var l) ? l.ToString() : null;
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException || (ex is OperationCanceledException && !ct.IsCancellationRequested))
        {
            return null;
        }
    }
}
