using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace K3dEtcd.Clusters;

/// <summary>
/// Member IDs exactly as etcd computes them for an initial cluster: the first 8 bytes of
/// sha1(sorted peer URLs joined + cluster token), printed as unpadded lower-case hex.
/// Knowing them before start lets the IDs live in container labels.
/// </summary>
public static class EtcdMemberIdentity
{
    public static ulong Compute(IEnumerable<string> peerUrls, string clusterToken, DateTimeOffset? addedAt = null)
    {
        var joined = string.Concat(peerUrls.OrderBy(u => u, StringComparer.Ordinal));
        var text = joined + clusterToken + (addedAt is { } t ? t.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture) : "");
        var hash = SHA1.HashData(Encoding.UTF8.GetBytes(text));
        return BinaryPrimitives.ReadUInt64BigEndian(hash);
    }

    public static string ToHex(ulong id) => id.ToString("x", System.Globalization.CultureInfo.InvariantCulture);
}
