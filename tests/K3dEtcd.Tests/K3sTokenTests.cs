using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using K3dEtcd.K3d;

namespace K3dEtcd.Tests;

/// <summary>
/// k3s's bootstrap encryption written the way k3s writes it (pkg/cluster/encrypt.go `encrypt`):
/// "&lt;16 hex salt&gt;:" + base64(nonce ‖ AES-256-GCM(PBKDF2-SHA1(passphrase, salt text, 4096, 32)) ‖ tag).
/// Test-side only: the module never seals bootstrap data, it only opens it.
/// </summary>
public static class K3sBootstrapFormat
{
    public static string Encrypt(string passphrase, byte[] plaintext, string? salt = null)
    {
        salt ??= Convert.ToHexString(RandomNumberGenerator.GetBytes(8)).ToLowerInvariant();
        var key = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(passphrase), Encoding.UTF8.GetBytes(salt), 4096, HashAlgorithmName.SHA1, 32);
        var nonce = RandomNumberGenerator.GetBytes(12);
        var cipher = new byte[plaintext.Length];
        var tag = new byte[16];
        using (var gcm = new AesGcm(key, 16)) gcm.Encrypt(nonce, plaintext, cipher, tag);
        return salt + ":" + Convert.ToBase64String([.. nonce, .. cipher, .. tag]);
    }
}

/// <summary>The k3s token's passphrase, bootstrap key and decryption, cross-checked with openssl and Python's cryptography package.</summary>
public sealed class K3sTokenTests
{
    private const string Hash64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    [Theory]
    [InlineData("abc", "abc")]                                  // a bare token is its own password
    [InlineData("a:b::c", "a:b::c")]                            // ...whatever colons it holds (k3s prefixes "K10:::")
    [InlineData("K10" + Hash64 + "::server:s3cret", "s3cret")]  // the full server token: its password part
    [InlineData("K10" + Hash64 + "::node:s3cret", "s3cret")]
    [InlineData("K10::server:s3cret", "s3cret")]                // an empty CA hash is allowed
    [InlineData("K10abc::server:s3cret", null)]                 // k3s: "invalid token CA hash length"
    [InlineData("K10" + Hash64 + "::server:", null)]            // empty password
    [InlineData("abcdef.0123456789abcdef", null)]               // a kubeadm bootstrap token has no password
    [InlineData("", null)]
    public void Passphrase_is_what_k3s_normalizeToken_returns(string token, string? passphrase) =>
        Assert.Equal(passphrase, K3sToken.Passphrase(token));

    [Fact]
    public void Bootstrap_key_of_a_full_token_is_that_of_its_password()
    {
        // sha256("abc") = ba7816bf8f01...; k3s keys the data by the normalized token.
        Assert.Equal("/bootstrap/ba7816bf8f01", K3sToken.BootstrapKey("abc"));
        Assert.Equal("/bootstrap/ba7816bf8f01", K3sToken.BootstrapKey("K10" + Hash64 + "::server:abc"));
        Assert.Equal(K3sToken.KeyFor("abc"), DatastoreProbe.BootstrapKey("abc"));
    }

    [Fact]
    public void Key_derivation_matches_openssl_kdf()
    {
        const string passphrase = "k3s-token-for-the-kdf-check";
        const string salt = "0011223344556677";
        var output = Cli.Checked("openssl", "kdf", "-keylen", "32", "-kdfopt", "digest:SHA1", "-kdfopt", $"pass:{passphrase}",
            "-kdfopt", $"salt:{salt}", "-kdfopt", "iter:4096", "PBKDF2");
        var fromOpenssl = output.Trim().Replace(":", "", StringComparison.Ordinal).ToLowerInvariant();
        Assert.Equal(64, fromOpenssl.Length);
        Assert.Equal(fromOpenssl, Convert.ToHexString(K3sToken.DeriveKey(passphrase, salt)).ToLowerInvariant());
    }

    [Fact]
    public void What_k3s_seals_opens_with_its_token_only()
    {
        var plain = Encoding.UTF8.GetBytes("{\"ServerCA\":{\"Content\":\"LS0t...\",\"Timestamp\":\"2026-01-01T00:00:00Z\"}}");
        var value = Encoding.UTF8.GetBytes(K3sBootstrapFormat.Encrypt("s3cret", plain));
        Assert.Equal(plain, K3sToken.TryDecrypt("s3cret", value));
        Assert.Equal(plain, K3sToken.TryDecrypt("K10" + Hash64 + "::server:s3cret", value)); // the full token opens it too
        Assert.Null(K3sToken.TryDecrypt("another", value));
        // One flipped bit anywhere in the sealed part: GCM's tag refuses it.
        var text = Encoding.UTF8.GetString(value);
        var sealedBytes = Convert.FromBase64String(text[17..]);
        sealedBytes[20] ^= 1;
        Assert.Null(K3sToken.TryDecrypt("s3cret", Encoding.UTF8.GetBytes(text[..17] + Convert.ToBase64String(sealedBytes))));
        // Not k3s's format at all.
        Assert.Null(K3sToken.TryDecrypt("s3cret", "encrypted"u8));
        Assert.Null(K3sToken.TryDecrypt("s3cret", "salt:not base64!"u8));
    }

    private const string PythonK3s = """
        import base64, os, sys
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        p = os.environ["K3S_PASSPHRASE"].encode()
        def key(salt): return PBKDF2HMAC(algorithm=hashes.SHA1(), length=32, salt=salt, iterations=4096).derive(p)
        if sys.argv[1] == "seal":
            salt = os.urandom(8).hex().encode(); nonce = os.urandom(12)
            sealed = nonce + AESGCM(key(salt)).encrypt(nonce, sys.stdin.buffer.read(), None)
            sys.stdout.write(salt.decode() + ":" + base64.b64encode(sealed).decode())
        else:
            salt, data = sys.stdin.read().split(":", 1); raw = base64.b64decode(data)
            sys.stdout.buffer.write(AESGCM(key(salt.encode())).decrypt(raw[:12], raw[12:], None))
        """;

    private static string Python(string verb, string passphrase, string input)
    {
        var psi = new ProcessStartInfo("python3") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(PythonK3s);
        psi.ArgumentList.Add(verb);
        psi.Environment["K3S_PASSPHRASE"] = passphrase;
        using var p = Process.Start(psi)!;
        p.StandardInput.Write(input);
        p.StandardInput.Close();
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(30_000), "python3 did not finish");
        Assert.True(p.ExitCode == 0, $"python3 (with the cryptography package) failed: {error}");
        return output.Result;
    }

    [Fact]
    public void An_independent_implementation_agrees_both_ways()
    {
        const string plain = "bootstrap data sealed by Python's cryptography package";
        var byPython = Python("seal", "s3cret", plain);
        Assert.Matches("^[0-9a-f]{16}:", byPython);
        Assert.Equal(plain, Encoding.UTF8.GetString(K3sToken.TryDecrypt("s3cret", Encoding.UTF8.GetBytes(byPython)) ?? []));
        Assert.Null(K3sToken.TryDecrypt("not-the-token", Encoding.UTF8.GetBytes(byPython)));
        // And what this test's encrypt (k3s's format) seals, Python opens: the test's writer is k3s's format too.
        Assert.Equal("sealed here", Python("open", "s3cret", K3sBootstrapFormat.Encrypt("s3cret", "sealed here"u8.ToArray())));
    }

    [Fact]
    public void Bootstrap_check_passes_only_when_the_value_decrypts()
    {
        var token = "K10" + Hash64 + "::server:abc";
        var key = K3sToken.BootstrapKey(token);
        var good = Encoding.UTF8.GetBytes(K3sBootstrapFormat.Encrypt("abc", [1, 2, 3]));
        var foreign = Encoding.UTF8.GetBytes(K3sBootstrapFormat.Encrypt("someone-else", [1, 2, 3]));
        var opened = DatastoreProbe.EvaluateBootstrap([(key, good)], [(null, token)], true, "x");
        Assert.True(opened.Passed, opened.Detail);
        Assert.Contains("opens it", opened.Detail);
        // The right key, but sealed with another passphrase: not matching.
        var sealedOther = DatastoreProbe.EvaluateBootstrap([(key, foreign)], [(null, token)], true, "x");
        Assert.False(sealedOther.Passed);
        Assert.Contains("does not match", sealedOther.Detail);
        Assert.Contains("does not decrypt", sealedOther.Detail);
        // Another key altogether.
        var other = DatastoreProbe.EvaluateBootstrap([(key, good)], [(null, "another")], true, "x");
        Assert.False(other.Passed);
        Assert.Contains("different token", other.Detail);
        // No token: kept tokens are tried, and named; none kept fails as before; no data passes.
        var kept = DatastoreProbe.EvaluateBootstrap([(key, good)], [("old", "zzz"), ("topgun", token)], false, "x");
        Assert.True(kept.Passed, kept.Detail);
        Assert.Contains("k3d cluster 'topgun'", kept.Detail);
        var noneOpens = DatastoreProbe.EvaluateBootstrap([(key, good)], [("old", "zzz")], false, "x");
        Assert.False(noneOpens.Passed);
        Assert.Contains("'old'", noneOpens.Detail);
        Assert.False(DatastoreProbe.EvaluateBootstrap([(key, good)], [], false, "x").Passed);
        Assert.True(DatastoreProbe.EvaluateBootstrap([], [], false, "x").Passed);
        Assert.DoesNotContain("abc", opened.Detail + sealedOther.Detail + other.Detail + kept.Detail);
    }
}
