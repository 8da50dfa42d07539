using System.Net.Http;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Docker.DotNet.Handler.Abstractions;
using K3dEtcd.Common;

namespace K3dEtcd.Docker;

/// <summary>
/// TLS to a Docker engine on tcp:// in the docker CLI's layout: ca.pem, cert.pem and key.pem in one
/// directory (DOCKER_CERT_PATH, or Set-K3dEtcdOption -DockerCertPath). The engine's certificate must
/// chain to that ca.pem (not to the system store) and name the host of the URL, as `docker --tlsverify` checks.
/// </summary>
public static class DockerTls
{
    public const string CaFile = "ca.pem";
    public const string CertFile = "cert.pem";
    public const string KeyFile = "key.pem";

    /// <summary>
    /// The directory to use for a tcp engine, or null for plain TCP: an explicit directory always
    /// means TLS; otherwise DOCKER_CERT_PATH (default ~/.docker) when DOCKER_TLS_VERIFY is set, as the docker CLI does.
    /// </summary>
    public static string? Directory(Uri engine, string? explicitPath, Func<string, string?>? environment = null)
    {
        if (engine.Scheme is not ("tcp" or "https")) return null;
        environment ??= Environment.GetEnvironmentVariable;
        if (!string.IsNullOrWhiteSpace(explicitPath)) return explicitPath;
        var verify = environment("DOCKER_TLS_VERIFY");
        if (string.IsNullOrEmpty(verify) && engine.Scheme != "https") return null;
        return environment("DOCKER_CERT_PATH") is { Length: > 0 } p ? p
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".docker");
    }

    internal static IAuthProvider Load(Uri engine, string directory)
    {
        string Need(string file)
        {
            var path = Path.Combine(directory, file);
            return File.Exists(path) ? path : throw new K3dEtcdException(ErrorCatalog.DockerTlsMaterialMissing,
                $"TLS to the Docker engine at {engine} needs {file} in {directory} (the docker CLI's layout: ca.pem, cert.pem, key.pem; set DOCKER_CERT_PATH or Set-K3dEtcdOption -DockerCertPath).", path);
        }
        var ca = Pki.TlsClientFactory.LoadCertificate(Need(CaFile));
        return new TlsAuthProvider(ca, Pki.TlsClientFactory.LoadClientCertificate(Need(CertFile), Need(KeyFile)));
    }

    private sealed class TlsAuthProvider(X509Certificate2 ca, X509Certificate2 client) : IAuthProvider
    {
        public bool TlsEnabled => true;

        public HttpMessageHandler ConfigureHandler(HttpMessageHandler handler)
        {
            if (handler is not SocketsHttpHandler sockets)
            {
                throw new K3dEtcdException(ErrorCatalog.UnsupportedDockerScheme,
                    $"The Docker client chose a transport ({handler.GetType().Name}) that cannot carry TLS client certificates.", handler.GetType().Name);
            }
            sockets.SslOptions.ClientCertificates = [client];
            sockets.SslOptions.RemoteCertificateValidationCallback = Validate;
            return sockets;
        }

        private bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors) =>
            Pki.TlsClientFactory.IsTrusted(ca, certificate, errors);
    }
}
