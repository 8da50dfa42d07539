using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace K3dEtcd.Browser;

/// <summary>
/// What every request to the browser passes before any route sees it. Keys and values are
/// untrusted and any local web page could call us, so: the Host header must name our loopback
/// address (DNS rebinding); the per-browser token, given once in the URL, is traded for an
/// HttpOnly SameSite=Strict cookie and redirected out of the address bar, and every later request
/// must carry that cookie; every answer carries a Content-Security-Policy without inline script
/// and headers that keep it out of frames and referrers.
/// </summary>
internal sealed class BrowserRequestGuard
{
    private readonly string _token;
    private readonly string _cookieName;
    private readonly string[] _allowedHosts;

    public BrowserRequestGuard(int port)
    {
        _token = Base64Url(RandomNumberGenerator.GetBytes(32));
        // Browsers share cookies across the ports of one host: one cookie name per port keeps two browsers apart.
        _cookieName = $"k3detcd-browser-{port}";
        _allowedHosts = [$"127.0.0.1:{port}", $"localhost:{port}"];
    }

    /// <summary>The page's address with the token, to hand to the user once.</summary>
    public string UrlWithToken(string baseUrl) => $"{baseUrl}?{EtcdBrowserServer.TokenParameter}={_token}";

    public static void AddSecurityHeaders(HttpListenerResponse response)
    {
        var h = response.Headers;
        h["Content-Security-Policy"] = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
        h["X-Content-Type-Options"] = "nosniff";
        h["X-Frame-Options"] = "DENY";
        // The first URL carries the token: never send it on as a referrer.
        h["Referrer-Policy"] = "no-referrer";
        h["Cache-Control"] = "no-store";
        h["Cross-Origin-Opener-Policy"] = "same-origin";
        h["Cross-Origin-Resource-Policy"] = "same-origin";
    }

    /// <summary>True when the request may go on to a route; otherwise the answer (refusal or token redirect) is written.</summary>
    public async Task<bool> AdmitAsync(HttpListenerRequest request, HttpListenerResponse response, IReadOnlyDictionary<string, string> query, string path)
    {
        // DNS rebinding: a foreign name resolving to 127.0.0.1 still sends its own Host.
        var hostHeader = request.Headers["Host"] ?? "";
        if (!_allowedHosts.Contains(hostHeader, StringComparer.OrdinalIgnoreCase))
        {
            await BrowserHttp.WriteTextAsync(response, 421, "This etcd browser answers only to its own loopback address.").ConfigureAwait(false);
            return false;
        }
        if (query.TryGetValue(EtcdBrowserServer.TokenParameter, out var offered))
        {
            if (!TokenMatches(offered))
            {
                await BrowserHttp.WriteTextAsync(response, 401, "Wrong access token. Open the Url that Start-EtcdBrowser returned.").ConfigureAwait(false);
                return false;
            }
            // Keep the token in a cookie the page's scripts cannot read, and take it out of the address bar and history.
            response.Headers.Add("Set-Cookie", $"{_cookieName}={_token}; Path=/; HttpOnly; SameSite=Strict");
            response.StatusCode = 303;
            response.RedirectLocation = path;
            return false;
        }
        if (!TokenMatches(CookieValue(request.Headers["Cookie"], _cookieName)))
        {
            await BrowserHttp.WriteTextAsync(response, 401, "This etcd browser needs its access token. Open the Url that Start-EtcdBrowser returned.").ConfigureAwait(false);
            return false;
        }
        return true;
    }

    private bool TokenMatches(string? offered) =>
        offered is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(offered), Encoding.UTF8.GetBytes(_token));

    internal static string? CookieValue(string? header, string name)
    {
        if (header is null) return null;
        foreach (var part in header.Split(';'))
        {
            var p = part.Trim();
            if (p.Length > name.Length && p.StartsWith(name, StringComparison.Ordinal) && p[name.Length] == '=') return p[(name.Length + 1)..];
        }
        return null;
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
