using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using K3dEtcd.Common;
using K3dEtcd.Model;
using K3dEtcd.Pki;

namespace K3dEtcd.K3d;

/// <summary>
/// The k3s token as k3s uses it with an external datastore (k3s pkg/cluster/storage.go and
/// encrypt.go): the passphrase is the token's password part (normalizeToken), the bootstrap data
/// lives under /bootstrap/ + the first 12 hex digits of sha256(passphrase) (storageKey/keyHash),
/// and the value is "&lt;salt&gt;:&lt;base64(nonce ‖ AES-256-GCM ciphertext ‖ tag)&gt;" where the salt is
/// 16 hex characters (8 random bytes, hex-encoded; the ASCII text itself salts the KDF) and the key is
/// PBKDF2-HMAC-SHA1(passphrase, salt, 4096 rounds, 32 bytes); the nonce is GCM's 12 bytes.
/// </summary>
public static partial class K3sToken
{
    public const int Pbkdf2Iterations = 4096;
    public const int KeyBytes = 32;
    public const int NonceBytes = 12;
    public const int TagBytes = 16;

    /// <summary>
    /// The passphrase k3s derives from a token (clientaccess.ParseUsernamePassword): a bare token is
    /// its own password; "K10&lt;ca hash&gt;::&lt;user&gt;:&lt;password&gt;" gives &lt;password&gt;. Null when
    /// k3s would refuse it (a kubeadm-style bootstrap token, an empty password, a bad CA hash).
    /// </summary>
    public static string? Passphrase(string token)
    {
        if (token.Length == 0) return null;
        var creds = token;
        if (token.StartsWith("K10", StringComparison.Ordinal))
        {
            var rest = token[3..];
            var sep = rest.IndexOf("::", StringComparison.Ordinal);
            if (sep >= 0)
            {
                if (sep != 0 && sep != 64) return null; // k3s: "invalid token CA hash length"
                creds = rest[(sep + 2)..];
            }
            else creds = rest;
        }
        else
        {
            // k3s turns a bare password into "K10:::" + password, hence user "" and the whole token as password.
            return BootstrapTokenFormat().IsMatch(token) ? null : token;
        }
        if (BootstrapTokenFormat().IsMatch(creds)) return null;
        var colon = creds.IndexOf(':');
        if (colon < 0 || colon == creds.Length - 1) return null;
        return creds[(colon + 1)..];
    }

    // kubeadm's bootstrap token: [a-z0-9]{6}.[a-z0-9]{16}
    [GeneratedRegex("^[a-z0-9]{6}\\.[a-z0-9]{16}$")]
    private static partial Regex BootstrapTokenFormat();

    /// <summary>/bootstrap/ + the first 12 hex digits of sha256(passphrase), as k3s's storageKey (the raw token when k3s could not normalize it).</summary>
    public static string BootstrapKey(string token) => KeyFor(Passphrase(token) ?? token);

    /// <summary>The key for a passphrase as it is (k3s's storageKey of an already normalized token).</summary>
    public static string KeyFor(string passphrase) =>
        "/bootstrap/" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(passphrase)))[..12].ToLowerInvariant();

    /// <summary>PBKDF2-HMAC-SHA1(passphrase, salt text, 4096, 32 bytes): the AES-256 key k3s seals the bootstrap data with.</summary>
    public static byte[] DeriveKey(string passphrase, string salt) =>
        Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(passphrase), Encoding.UTF8.GetBytes(salt), Pbkdf2Iterations, HashAlgorithmName.SHA1, KeyBytes);

    /// <summary>Opens a bootstrap value with a token; null when it does not open (another token, or not k3s's format).</summary>
    public static byte[]? TryDecrypt(string token, ReadOnlySpan<byte> value)
    {
        var passphrase = Passphrase(token) ?? token;
        var text = Encoding.UTF8.GetString(value);
        var colon = text.IndexOf(':');
        if (colon < 0) return null;
        byte[] sealedData;
        try { sealedData = Convert.FromBase64String(text[(colon + 1)..]); }
        catch (FormatException) { return null; }
        if (sealedData.Length < NonceBytes + TagBytes) return null;
        var key = DeriveKey(passphrase, text[..colon]);
        try
        {
            var nonce = sealedData.AsSpan(0, NonceBytes);
            var cipher = sealedData.AsSpan(NonceBytes, sealedData.Length - NonceBytes - TagBytes);
            var tag = sealedData.AsSpan(sealedData.Length - TagBytes);
            var plain = new byte[cipher.Length];
            using var gcm = new AesGcm(key, TagBytes);
            gcm.Decrypt(nonce, cipher, tag, plain);
            return plain;
        }
        catch (CryptographicException)
        {
            return null;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
    }
}
