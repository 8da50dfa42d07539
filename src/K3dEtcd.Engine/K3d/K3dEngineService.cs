using K3dEtcd.Clusters;
using K3dEtcd.Common;
using K3dEtcd.Model;
using K3dEtcd.Pki;

namespace K3dEtcd.K3d;

/// <summary>
/// What New-K3dCluster needs besides the files its k3s servers get: the k3s client certificate
/// it issues from a TLS etcd cluster's CA (rolled back when the create fails).
/// </summary>
/// <param name="Tls">The etcd cluster's TLS material (its CA signs the certificate).</param>
/// <param name="EtcdCluster">The etcd cluster's name (recorded in the certificate's issue log).</param>
/// <param name="K3dName">The k3d cluster the certificate is for.</param>
public sealed record K3sCertificateRequest(EtcdTlsInfo Tls, string EtcdCluster, string K3dName)
{
    /// <summary>Certificate, key and CA copy, in that order (in &lt;tls dir&gt;/k3d/&lt;k3d name&gt;/).</summary>
    public string[] Files => K3sClientCertificate.Files(Tls.Directory, K3dName);
}

/// <summary>What Remove-K3dCluster removed besides the k3d cluster itself.</summary>
public sealed record K3dRemoval(string Name, IReadOnlyList<string> RemovedFiles, RemovedResources? Datastore);

/// <summary>
/// New-K3dCluster and Remove-K3dCluster beyond what k3d does: the k3s client certificate a TLS
/// etcd cluster's CA issues for the servers (issued after the name check, removed again when the
/// create fails or the cluster goes), and the etcd datastore removed with the cluster on request.
/// Receives the k3d service (with its datastore probe when the create probes) and the cluster
/// service, the latter only when a removal needs it (a k3d cluster on a non-etcd datastore needs no
/// Docker lookup).
/// </summary>
public sealed class K3dEngineService(K3dClusterService k3d, Func<CancellationToken, Task<EtcdClusterService>> clusters, IOperationLog log)
{
    public K3dClusterService K3d => k3d;

    /// <summary>
    /// Where the k3s client certificate goes when the servers use a TLS etcd cluster of this module
    /// and the caller gave no certificate of its own: the datastore then names those files (the CA
    /// too unless the caller gave one). Decides only; nothing is written (-WhatIf shows the paths).
    /// </summary>
    public static (DatastoreTarget Target, K3sCertificateRequest? Certificate) PlanClientCertificate(DatastoreTarget target, EtcdCluster? etcd, string k3dName,
        bool callerGaveCertificate, bool callerGaveCa)
    {
        if (etcd?.Tls is not { } tls || callerGaveCertificate) return (target, null);
        var request = new K3sCertificateRequest(tls, etcd.Name, k3dName);
        var files = request.Files;
        return (target with { CertFile = files[0], KeyFile = files[1], CaFile = callerGaveCa ? target.CaFile : files[2] }, request);
    }

    /// <summary>
    /// Creates the k3d cluster: the name is checked first, then the certificate is issued (never over
    /// existing files: ClientCertificateFileExists), then k3d runs. When the create is refused or
    /// rolled back the certificate this call issued is removed too, and nothing else.
    /// </summary>
    /// <remarks>
    /// tokenFile: where the token is kept (K3sTokenStore.FileFor; null: not kept, the datastore is no etcd
    /// cluster of this module). It is written (0600, atomically) before k3d runs, since k3s seals its
    /// bootstrap data with it as soon as a server starts; a refused or rolled-back create puts back
    /// what was there (the earlier token, or nothing).
    /// </remarks>
    public async Task<(K3dClusterInfo? Info, bool? Verified)> CreateAsync(K3dClusterSpec spec, K3dCreateOptions options, K3sCertificateRequest? certificate, CancellationToken ct,
        string? tokenFile = null)
    {
        await k3d.EnsureNameFreeAsync(spec.Name, ct).ConfigureAwait(false);
        if (certificate is not null)
        {
            var cert = ClusterTlsStore.IssueClient(certificate.Tls, certificate.EtcdCluster, K3sClientCertificate.CommonName(certificate.K3dName),
                Path.GetDirectoryName(certificate.Files[0])!, CertificateAuthority.DefaultValidityDays, overwrite: false, log);
            log.Verbose($"Client certificate for k3s: {cert.CertFile} (CN={cert.CommonName}, until {cert.NotAfter:u})");
        }
        string? previous = null;
        var wroteToken = false;
        try
        {
            if (tokenFile is not null)
            {
                previous = K3sTokenStore.Read(tokenFile);
                if (previous != spec.Token)
                {
                    K3sTokenStore.Write(tokenFile, spec.Token);
                    wroteToken = true;
                    log.Verbose($"k3s token kept in {tokenFile} (owner-only){(previous is null ? "" : ", replacing the one kept for an earlier k3d cluster of this name")}.");
                }
            }
            return await k3d.CreateAsync(spec, options, ct).ConfigureAwait(false);
        }
        catch
        {
            if (wroteToken) RestoreToken(tokenFile!, previous);
            if (certificate is not null) K3sClientCertificate.Remove(certificate.Tls.Directory, certificate.K3dName, log);
            throw;
        }
    }

    private void RestoreToken(string tokenFile, string? previous)
    {
        try
        {
            if (previous is null) K3sTokenStore.Remove(tokenFile, log);
            else K3sTokenStore.Write(tokenFile, previous);
        }
        catch (K3dEtcdException ex)
        {
            log.Warning($"Roll-back: the kept k3s token could not be put back: {ex.Message}");
        }
    }

    /// <summary>
    /// Removes a k3d cluster (`k3d cluster delete`), then the k3s client certificate New-K3dCluster
    /// issued for it (unless <paramref name="keepClientCertificate"/>), then, with
    /// <paramref name="includeDatastore"/>, the etcd cluster of this module it used. Where the
    /// certificate lives is read before anything is removed; when that lookup fails for this cluster
    /// only, it is a warning and the certificate stays.
    /// </summary>
    public async Task<K3dRemoval> RemoveAsync(K3dClusterInfo info, bool includeDatastore, bool keepClientCertificate, CancellationToken ct)
    {
        var etcd = info.EtcdClusterLabel;
        string? tlsDirectory = null;
        if (etcd is not null && !keepClientCertificate)
        {
            try { tlsDirectory = (await (await clusters(ct).ConfigureAwait(false)).GetAsync(etcd, ct).ConfigureAwait(false))?.Tls?.Directory; }
            catch (K3dEtcdException ex) when (ex.Definition?.Scope != ErrorScope.Session)
            {
                log.Warning($"Cannot look up etcd cluster '{etcd}' to remove the k3s client certificate: {ex.Message}");
            }
        }
        await k3d.DeleteAsync(info.Name, ct).ConfigureAwait(false);
        IReadOnlyList<string> files = [];
        if (tlsDirectory is not null)
        {
            files = K3sClientCertificate.Remove(tlsDirectory, info.Name, log);
            foreach (var file in files) log.Verbose($"Removed {file}");
        }
        RemovedResources? removed = null;
        if (includeDatastore && etcd is not null)
        {
            removed = await (await clusters(ct).ConfigureAwait(false)).RemoveAsync(etcd, keepData: false, ct).ConfigureAwait(false);
            log.Verbose($"Removed etcd cluster '{etcd}': {removed.Containers.Count} containers, {removed.Volumes.Count} volumes, {removed.Networks.Count} networks.");
        }
        return new K3dRemoval(info.Name, files, removed);
    }
}
