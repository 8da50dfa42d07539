using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace K3dEtcd.Pki;

/// <summary>Reads the certificate a TLS server presents (as openssl s_client shows it), with a client certificate when it asks for one.</summary>
public static class ServedCertificate
{
    /// <summary>The SHA-1 thumbprint the server at host:port presents, or the reason it could not be read.</summary>
    public static async Task<(string? Thumbprint, string? Error)> ReadAsync(string host, int port, X509Certificate2? client, TimeSpan timeout, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        string? seen = null;
        try
        {
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(host, port, cts.Token).ConfigureAwait(false);
            await using var ssl = new SslStream(tcp.GetStream(), false, (_, cert, _, _) =>
            {
                // Only read, never trust: the thumbprint is compared with the files afterwards.
                if (cert is not null) seen = new X509Certificate2(cert).Thumbprint;
                return true;
            });
            var options = new SslClientAuthenticationOptions
            {
                TargetHost = "localhost",
                ClientCertificates = client is null ? null : [client],
                LocalCertificateSelectionCallback = (_, _, _, _, _) => client!,
            };
            try { await ssl.AuthenticateAsClientAsync(options, cts.Token).ConfigureAwait(false); }
            catch (Exception) when (seen is not null) { }
            return (seen, seen is null ? "no certificate presented" : null);
        }
        catch (Exception ex) when (ex is SocketException or IOException or AuthenticationException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            return (seen, seen is null ? ex.Message : null);
        }
    }
}
