using System.Text;
using System.Text.Json;

namespace K3dEtcd.Data;

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

    /// <summary>
    /// One member's own view of the cluster (Maintenance.Status over the JSON gateway), or null
    /// when it does not answer. The gateway prints uint64 values as decimal strings.
    /// </summary>
    public async Task<EtcdProbeStatus?> GetStatusAsync(string clientUrl, CancellationToken ct)
    {
        try
        {
            using var content = new StringContent("{}", Encoding.UTF8, "application/json");
            using var response = await http.PostAsync($"{clientUrl.TrimEnd('/')}/v3/maintenance/status", content, ct).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode) return null;
            using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false));
            var root = doc.RootElement;
            var header = root.TryGetProperty("header", out var h) ? h : default;
            return new EtcdProbeStatus(
                MemberId: ToHex(ReadUInt64(header, "member_id")),
                LeaderId: ToHex(ReadUInt64(root, "leader")),
                RaftTerm: ReadUInt64(root, "raftTerm"),
                RaftIndex: ReadUInt64(root, "raftIndex"),
                Revision: (long)ReadUInt64(header, "revision"),
                IsLearner: root.TryGetProperty("isLearner", out var l) && l.ValueKind == JsonValueKind.True);
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            return null;
        }
    }

    private static ulong ReadUInt64(JsonElement element, string name)
    {
        if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(name, out var v)) return 0;
        return v.ValueKind switch
        {
            JsonValueKind.String when ulong.TryParse(v.GetString(), System.Globalization.CultureInfo.InvariantCulture, out var s) => s,
            JsonValueKind.Number when v.TryGetUInt64(out var n) => n,
            _ => 0,
        };
    }

    private static string? ToHex(ulong id) => id == 0 ? null : id.ToString("x", System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>What one member reports about itself: IDs in hex as etcd prints them; LeaderId null while there is none.</summary>
public sealed record EtcdProbeStatus(string? MemberId, string? LeaderId, ulong RaftTerm, ulong RaftIndex, long Revision, bool IsLearner);
