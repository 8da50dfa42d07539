using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using K3dEtcd.Clusters;
using K3dEtcd.Common;
using K3dEtcd.Model;
using K3dEtcd.Pki;

namespace K3dEtcd.Members;

/// <summary>
/// Get-EtcdCertificate and Update-EtcdCertificate: every certificate of a TLS cluster with what
/// each member serves over TLS, and the renewal of every leaf certificate on its own key, one
/// member at a time. etcd reads its server and peer certificate files on each new handshake, so
/// a member on a bridge network (its pki directory bind-mounted) takes the renewed files without
/// a restart; a member on host networking has copies inside its container and is recreated in
/// place through the one member path (which copies the files in). Each member must serve the new
/// certificates on its client and peer ports, and be healthy and caught up, before the next.
/// </summary>
public sealed partial class EtcdCertificateService(EtcdMemberService members, IOperationLog log)
{
    private static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan ReloadWait = TimeSpan.FromSeconds(10);
    public const int WarnDays = 30;

    /// <summary>Every certificate of the cluster; with <paramref name="readServed"/>, what each member serves on its client and peer ports.</summary>
    public async Task<IReadOnlyList<EtcdCertificate>> ListAsync(EtcdCluster cluster, bool readServed, CancellationToken ct)
    {
        if (cluster.Tls is not { } tls) return [];
        var cas = LoadAll(tls.CaFile);
        using var client = readServed ? TryLoadClient(tls) : null;
        var result = new List<EtcdCertificate>();
        var entries = new List<(CertificateFile File, string? Pem)>();
        foreach (var file in CertificateInventory.Files(tls.Directory))
        {
            // The CA file holds two CAs during a rotation (Update-EtcdCertificate -Authority): one object each.
            if (file.Role == "CA" && cas.Count > 1) entries.AddRange(cas.Select(c => (file, (string?)c.ExportCertificatePem())));
            else entries.Add((file, null));
        }
        foreach (var (file, pem) in entries)
        {
            X509Certificate2 cert;
            try { cert = pem is null ? TlsClientFactory.LoadCertificate(file.Path) : X509Certificate2.CreateFromPem(pem); }
            catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException)
            {
                log.Warning($"{file.Path} could not be read: {ex.Message}");
                continue;
            }
            using (cert)
            {
                string? served = null, error = null;
                if (readServed && file.Role is "Server" or "Peer" && cluster.Members.FirstOrDefault(m => m.ContainerName == file.Member) is { } member)
                {
                    (served, error) = await ReadServedAsync(member, file.Role == "Peer", client, ct).ConfigureAwait(false);
                }
                result.Add(new EtcdCertificate
                {
                    Cluster = cluster.Name,
                    Role = file.Role,
                    Member = file.Member,
                    Subject = cert.Subject,
                    Sans = CertificateInventory.Sans(cert),
                    Thumbprint = cert.Thumbprint,
                    IssuerThumbprint = IssuerOf(cert, cas)?.Thumbprint,
                    NotBefore = cert.NotBefore.ToUniversalTime(),
                    NotAfter = cert.NotAfter.ToUniversalTime(),
                    DaysLeft = Math.Round((cert.NotAfter.ToUniversalTime() - DateTime.UtcNow).TotalDays, 2),
                    Path = file.Path,
                    ServedThumbprint = served,
                    ServedError = error,
                });
            }
        }
        foreach (var ca in cas) ca.Dispose();
        return result;
    }

    /// <summary>The leaf certificates a renewal would renew, in order (members followers first, the leader last; then client files). Changes nothing.</summary>
    public async Task<IReadOnlyList<EtcdCertificateRenewal>> PlanAsync(string clusterName, CancellationToken ct)
    {
        var (cluster, tls) = await TlsClusterAsync(clusterName, ct).ConfigureAwait(false);
        var order = await MemberOrderAsync(cluster, ct).ConfigureAwait(false);
        var files = CertificateInventory.Files(tls.Directory).Where(f => f.Role != "CA").ToList();
        return files.OrderBy(f => f.Member is not null && order.IndexOf(f.Member) is var i and >= 0 && f.Role is "Server" or "Peer" ? i : order.Count + 1)
            .Select(f => new EtcdCertificateRenewal { Cluster = cluster.Name, Role = f.Role, Member = f.Member, Path = f.Path, OldNotAfter = NotAfterOf(f.Path), WhatIf = true, How = How(f, cluster) })
            .ToList();
    }

    /// <summary>Renews every leaf certificate on its own key; yields each as it is done.</summary>
    public async IAsyncEnumerable<EtcdCertificateRenewal> RenewAsync(string clusterName, int validityDays, [EnumeratorCancellation] CancellationToken ct)
    {
        var (cluster, tls) = await TlsClusterAsync(clusterName, ct).ConfigureAwait(false);
        EnsureNoRotation(cluster);
        var activity = $"Renewing the certificates of '{cluster.Name}'";
        using var ca = LoadCa(tls, cluster.Name);
        if (ca.NotAfter < DateTime.UtcNow.AddDays(validityDays))
        {
            log.Warning($"The CA of '{cluster.Name}' expires {ca.NotAfter:u}: renewed certificates end then, not in {validityDays} days.");
        }
        var plan = await PlanAsync(clusterName, ct).ConfigureAwait(false);
        var memberNames = plan.Where(p => p.Role is "Server").Select(p => p.Member!).ToList();
        var step = 0;
        foreach (var container in memberNames)
        {
            step++;
            log.Progress(new OperationProgress(activity, $"{container} ({step}/{memberNames.Count})", 5 + 80 * (step - 1) / Math.Max(1, memberNames.Count)));
            foreach (var renewal in await RenewMemberAsync(cluster.Name, tls, ca, container, validityDays, activity, ct).ConfigureAwait(false)) yield return renewal;
        }
        foreach (var file in plan.Where(p => p.Role is not ("Server" or "Peer")))
        {
            ct.ThrowIfCancellationRequested();
            log.Progress(new OperationProgress(activity, $"{file.Role} certificate {file.Path}", 90));
            using var old = TlsClientFactory.LoadCertificate(file.Path);
            var pem = ca.Renew(old, validityDays, out var notAfter);
            // In place: k3d bind-mounts these single files into k3s servers. The key file is not touched (mode and content kept).
            CertificateInventory.RewriteInPlace(file.Path, pem);
            log.Verbose($"Renewed {file.Path} in place (until {notAfter:u}); its key file is unchanged.");
            yield return new EtcdCertificateRenewal { Cluster = cluster.Name, Role = file.Role, Member = file.Member, Path = file.Path, OldNotAfter = old.NotAfter.ToUniversalTime(), NewNotAfter = notAfter, How = "rewritten in place" };
        }
        log.Progress(new OperationProgress(activity, "Done", 100, Completed: true));
    }

    private async Task<IReadOnlyList<EtcdCertificateRenewal>> RenewMemberAsync(string clusterName, EtcdTlsInfo tls, CertificateAuthority ca, string container, int validityDays, string activity, CancellationToken ct)
    {
        var cluster = await members.GetClusterAsync(clusterName, ct).ConfigureAwait(false);
        var member = cluster.Members.FirstOrDefault(m => m.ContainerName == container)
            ?? throw new K3dEtcdException(ErrorCatalog.EtcdMemberNotFound, $"The TLS directory of '{clusterName}' holds certificates for {container}, which is not a member; renew after removing {Path.Combine(tls.Directory, ClusterTlsStore.MembersDirectoryName, container)}.", container);
        // Never the renewal that takes the quorum away: every other member must be healthy first.
        await members.WaitForCaughtUpAsync(cluster, member, $"{activity}: {member.Name} healthy before", ct).ConfigureAwait(false);
        var directory = ClusterTlsStore.MemberDirectory(tls.Directory, container);
        var results = new List<EtcdCertificateRenewal>();
        var expected = new Dictionary<bool, string>();
        foreach (var (peer, name) in new[] { (false, ClusterTlsStore.ServerCertFileName), (true, ClusterTlsStore.PeerCertFileName) })
        {
            var path = Path.Combine(directory, name);
            using var old = TlsClientFactory.LoadCertificate(path);
            var pem = ca.Renew(old, validityDays, out var notAfter);
            CertificateInventory.ReplaceByRename(path, pem);
            using var renewed = X509Certificate2.CreateFromPem(pem);
            expected[peer] = renewed.Thumbprint;
            results.Add(new EtcdCertificateRenewal { Cluster = clusterName, Role = peer ? "Peer" : "Server", Member = container, Path = path, OldNotAfter = old.NotAfter.ToUniversalTime(), NewNotAfter = notAfter });
        }
        var how = "reloaded without a restart";
        using var client = TryLoadClient(tls);
        if (member.Engine is not null || !await ServesAsync(member, expected, client, ReloadWait, ct).ConfigureAwait(false))
        {
            // Copies inside the container (host networking), or an etcd that did not reload: recreate it in place.
            how = "member recreated in place";
            log.Verbose($"{member.Name}: recreating it in place so it reads the renewed certificates.");
            await members.RecreateMemberAsync(clusterName, member.Name, null, ct).ConfigureAwait(false);
            cluster = await members.GetClusterAsync(clusterName, ct).ConfigureAwait(false);
            member = EtcdMemberService.ResolveMember(cluster, member.Name);
            if (!await ServesAsync(member, expected, client, ReloadWait, ct).ConfigureAwait(false))
            {
                var (c, _) = await ReadServedAsync(member, false, client, ct).ConfigureAwait(false);
                var (p, e) = await ReadServedAsync(member, true, client, ct).ConfigureAwait(false);
                throw new K3dEtcdException(ErrorCatalog.CertificateRenewalFailed,
                    $"{member.Name} of '{clusterName}' does not serve its renewed certificates after it was recreated (client port: {c ?? "nothing"}, peer port: {p ?? e ?? "nothing"}; expected {expected[false]} and {expected[true]}). Its files are renewed and still trusted; run Update-EtcdCertificate again.", member.Name);
            }
        }
        else
        {
            log.Verbose($"{member.Name} serves its renewed certificates on its client and peer ports (reloaded, no restart).");
        }
        await members.WaitForCaughtUpAsync(cluster, member, $"{activity}: {member.Name} healthy after", ct).ConfigureAwait(false);
        return results.Select(r => new EtcdCertificateRenewal { Cluster = r.Cluster, Role = r.Role, Member = r.Member, Path = r.Path, OldNotAfter = r.OldNotAfter, NewNotAfter = r.NewNotAfter, How = how }).ToList();
    }

    /// <summary>True once the member serves the expected thumbprints on its client port and (where this host reaches it) its peer port.</summary>
    private async Task<bool> ServesAsync(EtcdClusterMember member, IReadOnlyDictionary<bool, string> expected, X509Certificate2? client, TimeSpan wait, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + wait;
        while (true)
        {
            var (server, _) = await ReadServedAsync(member, false, client, ct).ConfigureAwait(false);
            var (peer, peerError) = await ReadServedAsync(member, true, client, ct).ConfigureAwait(false);
            var peerOk = peer is null ? peerError is "not reachable from this host" : peer == expected[true];
            if (server == expected[false] && peerOk) return true;
            if (DateTime.UtcNow > deadline) return false;
            await Task.Delay(200, ct).ConfigureAwait(false);
        }
    }

    /// <summary>What a member serves: on its client URL (server certificate) or its peer port (the container's address on its network, or its host address).</summary>
    private async Task<(string? Thumbprint, string? Error)> ReadServedAsync(EtcdClusterMember member, bool peer, X509Certificate2? client, CancellationToken ct)
    {
        if (member.State != "running") return (null, $"its container is {member.State}");
        if (!peer)
        {
            if (member.ClientUrl is not { } url) return (null, "no client port on this host");
            var uri = new Uri(url);
            return await ServedCertificate.ReadAsync(uri.Host, uri.Port, client, HandshakeTimeout, ct).ConfigureAwait(false);
        }
        var port = new Uri(member.PeerUrl).Port;
        if (member.Engine is not null) return await ServedCertificate.ReadAsync(member.HostAddress ?? new Uri(member.PeerUrl).Host, port, client, HandshakeTimeout, ct).ConfigureAwait(false);
        try
        {
            var details = await (await members.On(member, ct).ConfigureAwait(false)).InspectContainerAsync(member.ContainerId, ct).ConfigureAwait(false);
            // The host reaches a bridge network's addresses on Linux; Docker Desktop's VM keeps them to itself.
            foreach (var address in details.NetworkAddresses)
            {
                var read = await ServedCertificate.ReadAsync(address, port, client, HandshakeTimeout, ct).ConfigureAwait(false);
                if (read.Thumbprint is not null) return read;
            }
        }
        catch (K3dEtcdException ex) { return (null, ex.Message); }
        return (null, "not reachable from this host");
    }

    private async Task<(EtcdCluster, EtcdTlsInfo)> TlsClusterAsync(string clusterName, CancellationToken ct)
    {
        var cluster = await members.GetClusterAsync(clusterName, ct).ConfigureAwait(false);
        if (cluster.Tls is not { } tls)
        {
            throw new K3dEtcdException(ErrorCatalog.ClusterNotTls, $"Cluster '{cluster.Name}' serves plain HTTP; it has no certificates to renew.", cluster.Name);
        }
        return (cluster, tls);
    }

    /// <summary>Member containers in renewal order: followers first, the leader last.</summary>
    private async Task<List<string>> MemberOrderAsync(EtcdCluster cluster, CancellationToken ct)
    {
        string? leader = null;
        try { leader = (await members.FindLeaderAsync(cluster, ct).ConfigureAwait(false)).ContainerName; }
        catch (K3dEtcdException ex) { log.Verbose($"No leader found ({ex.Message}); members in name order."); }
        return cluster.Members.OrderBy(m => m.ContainerName == leader ? 1 : 0).ThenBy(m => m.Name, StringComparer.Ordinal).Select(m => m.ContainerName).ToList();
    }

    private static string How(CertificateFile file, EtcdCluster cluster) => file.Role switch
    {
        "Server" or "Peer" => cluster.Members.FirstOrDefault(m => m.ContainerName == file.Member)?.Engine is null ? "reloaded without a restart" : "member recreated in place",
        _ => "rewritten in place",
    };

    private static DateTime? NotAfterOf(string path)
    {
        try { using var c = TlsClientFactory.LoadCertificate(path); return c.NotAfter.ToUniversalTime(); }
        catch (Exception ex) when (ex is CryptographicException or IOException) { return null; }
    }

    private static CertificateAuthority LoadCa(EtcdTlsInfo tls, string cluster)
    {
        try { return CertificateAuthority.Load(tls.CaFile, Path.Combine(tls.Directory, ClusterTlsStore.CaKeyFileName)); }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException or IOException)
        {
            throw new K3dEtcdException(ErrorCatalog.TlsMaterialInvalid, $"The CA of cluster '{cluster}' in {tls.Directory} could not be loaded: {ex.Message}", tls.Directory, ex);
        }
    }

    private static X509Certificate2? TryLoadClient(EtcdTlsInfo tls)
    {
        try { return TlsClientFactory.LoadClientCertificate(tls.ClientCertFile, tls.ClientKeyFile); }
        catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException) { return null; }
    }

    /// <summary>Every certificate of a PEM file (a trust file may hold more than one CA).</summary>
    private static List<X509Certificate2> LoadAll(string file)
    {
        var collection = new X509Certificate2Collection();
        try { collection.ImportFromPemFile(file); }
        catch (Exception ex) when (ex is CryptographicException or IOException) { }
        return [.. collection];
    }

    private static X509Certificate2? IssuerOf(X509Certificate2 cert, IEnumerable<X509Certificate2> cas)
    {
        var aki = cert.Extensions.OfType<X509AuthorityKeyIdentifierExtension>().FirstOrDefault()?.KeyIdentifier;
        foreach (var ca in cas)
        {
            var ski = ca.Extensions.OfType<X509SubjectKeyIdentifierExtension>().FirstOrDefault()?.SubjectKeyIdentifierBytes;
            if (aki is { } a && ski is { } s && a.Span.SequenceEqual(s.Span)) return ca;
            if (aki is null && cert.Issuer == ca.Subject) return ca;
        }
        return null;
    }
}
