using System.Runtime.CompilerServices;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using K3dEtcd.Common;
using K3dEtcd.Model;
using K3dEtcd.Pki;

namespace K3dEtcd.Members;

/// <summary>Where a CA rotation stands; kept in the TLS directory (rotation.json) between phases.</summary>
/// <param name="Phase">The phase to run next: Bundle (1), Reissue (2) or Drop (3).</param>
/// <param name="OldThumbprint">The SHA-1 thumbprint of the CA being replaced.</param>
/// <param name="NewThumbprint">The SHA-1 thumbprint of the CA that replaces it.</param>
/// <param name="Started">When phase 1 ran (UTC).</param>
public sealed record CaRotationState(string Phase, string OldThumbprint, string NewThumbprint, DateTime Started);

// Update-EtcdCertificate -Authority: a new CA in three steps, each safe to interrupt. etcd reads its
// trusted-CA file only when it starts (etcd issue #11555), so members are recreated in place to
// trust a changed bundle; leaf certificates are read on each handshake.
//   1 Bundle:  every trust file (members', the cluster's, the k3s and issued client folders) holds
//              old + new CA; members are recreated one at a time and then trust both.
//   2 Reissue: every leaf certificate is reissued from the new CA on its own key (members reload
//              them, as in a renewal, one at a time); client files are rewritten in place.
//   3 Drop:    every trust file holds the new CA only, the new CA key replaces the old one, and
//              members are recreated one at a time again.
// The phase is saved after each step (rotation.json), so a run stopped anywhere leaves a cluster
// that trusts both CAs and a second run goes on from the phase it reached.
public sealed partial class EtcdCertificateService
{
    public const string RotationFileName = ClusterTlsStore.RotationFileName;
    public const string NextCaFileName = "ca-next.pem";
    public const string NextCaKeyFileName = "ca-next-key.pem";
    private const string Bundle = "Bundle", Reissue = "Reissue", Drop = "Drop";

    /// <summary>The rotation state of a TLS directory (null: no rotation under way).</summary>
    public static CaRotationState? ReadRotation(string tlsDirectory)
    {
        var path = Path.Combine(tlsDirectory, RotationFileName);
        if (!File.Exists(path)) return null;
        try { return JsonSerializer.Deserialize<CaRotationState>(File.ReadAllText(path)); }
        catch (JsonException) { return new CaRotationState(Bundle, "", "", DateTime.MinValue); }
    }

    /// <summary>The CertificateRotationIncomplete warning text for a cluster whose rotation stopped between phases (null when none).</summary>
    public static string? RotationWarning(EtcdCluster cluster)
    {
        if (cluster.Tls is not { } tls || ReadRotation(tls.Directory) is not { } state) return null;
        var where = state.Phase switch
        {
            Bundle => "phase 1 of 3 (trust old + new CA) did not finish",
            Reissue => "phase 1 of 3 is done (members and clients trust the old and the new CA); certificates are not all reissued from the new CA yet (phase 2)",
            _ => "phases 1 and 2 are done (every certificate is from the new CA); the old CA is still trusted (phase 3)",
        };
        return $"{ErrorCatalog.CertificateRotationIncomplete.Id}: the CA rotation of cluster '{cluster.Name}' started {state.Started:u} is incomplete: {where}. The cluster works with both CAs; run 'Update-EtcdCertificate -Cluster {cluster.Name} -Authority' to complete it.";
    }

    /// <summary>What a rotation would do, phase by phase (changes nothing).</summary>
    public async Task<IReadOnlyList<EtcdCertificateRenewal>> RotationPlanAsync(string clusterName, CancellationToken ct)
    {
        var (cluster, tls) = await TlsClusterAsync(clusterName, ct).ConfigureAwait(false);
        var state = ReadRotation(tls.Directory);
        var done = state?.Phase switch { Reissue => 1, Drop => 2, _ => 0 };
        var leaves = await PlanAsync(clusterName, ct).ConfigureAwait(false);
        var order = await MemberOrderAsync(cluster, ct).ConfigureAwait(false);
        var plan = new List<EtcdCertificateRenewal>();
        EtcdCertificateRenewal Phase(int n, string how) => new() { Cluster = cluster.Name, Role = "CA", Path = tls.CaFile, WhatIf = true, How = $"phase {n} of 3: {how}" };
        if (done < 1) plan.Add(Phase(1, $"a new CA; every trust file holds old + new CA; members recreated one at a time ({string.Join(", ", order)})"));
        if (done < 2)
        {
            plan.Add(Phase(2, "every leaf certificate reissued from the new CA (keys kept), one member at a time"));
            plan.AddRange(leaves.Select(l => new EtcdCertificateRenewal { Cluster = l.Cluster, Role = l.Role, Member = l.Member, Path = l.Path, OldNotAfter = l.OldNotAfter, WhatIf = true, How = $"phase 2: {l.How}" }));
        }
        plan.Add(Phase(3, $"the old CA dropped from every trust file; members recreated one at a time ({string.Join(", ", order)})"));
        return plan;
    }

    /// <summary>Rotates the cluster's CA (or completes a rotation stopped earlier); yields each reissued certificate and each phase.</summary>
    public async IAsyncEnumerable<EtcdCertificateRenewal> RotateAsync(string clusterName, int validityDays, [EnumeratorCancellation] CancellationToken ct)
    {
        var (cluster, tls) = await TlsClusterAsync(clusterName, ct).ConfigureAwait(false);
        var dir = tls.Directory;
        var activity = $"Rotating the CA of '{cluster.Name}'";
        var state = ReadRotation(dir);
        var nextCert = Path.Combine(dir, NextCaFileName);
        var nextKey = Path.Combine(dir, NextCaKeyFileName);
        if (state is null || !File.Exists(nextCert) || !File.Exists(nextKey))
        {
            if (state is not null && state.Phase != Bundle)
            {
                throw new K3dEtcdException(ErrorCatalog.TlsMaterialMissing, $"The rotation of '{cluster.Name}' is in phase {state.Phase}, but the new CA ({nextCert}) is missing; the cluster still trusts the CA in {tls.CaFile}.", dir);
            }
            using var current = LoadCa(tls, cluster.Name);
            using var fresh = CertificateAuthority.Create($"K3dEtcd {cluster.Name} CA {DateTime.UtcNow:yyyyMMdd-HHmmss}", validityDays);
            foreach (var f in new[] { nextCert, nextKey }) if (File.Exists(f)) File.Delete(f);
            PemFiles.WriteCertificate(nextCert, fresh.CertificatePem);
            PemFiles.WritePrivateKey(nextKey, fresh.ExportPrivateKeyPem());
            state = new CaRotationState(Bundle, current.Certificate.Thumbprint, fresh.Certificate.Thumbprint, DateTime.UtcNow);
            SaveRotation(dir, state);
            log.Verbose($"New CA for '{cluster.Name}': {fresh.Certificate.Subject} (thumbprint {fresh.Certificate.Thumbprint}, until {fresh.NotAfter:u}); its key is in {nextKey} (owner-only) until the rotation ends.");
        }
        else
        {
            log.Verbose($"Completing the CA rotation of '{cluster.Name}' started {state.Started:u}, from its phase {state.Phase}.");
        }

        using var next = CertificateAuthority.Load(nextCert, nextKey);
        var newPem = next.CertificatePem;
        if (state.Phase == Bundle)
        {
            var oldPem = FindPem(tls.CaFile, state.OldThumbprint) ?? throw new K3dEtcdException(ErrorCatalog.TlsMaterialInvalid,
                $"The old CA (thumbprint {state.OldThumbprint}) of '{cluster.Name}' is not in {tls.CaFile}; the rotation cannot build its bundle.", dir);
            log.Progress(new OperationProgress(activity, "Phase 1 of 3: every trust file holds the old and the new CA", 2));
            WriteTrust(dir, oldPem.TrimEnd() + "\n" + newPem.TrimEnd() + "\n", caFileLast: false);
            await RollAsync(cluster.Name, activity, "Phase 1 of 3: recreating", 5, 35, ct).ConfigureAwait(false);
            state = state with { Phase = Reissue };
            SaveRotation(dir, state);
            log.Verbose($"Phase 1 of 3 done: every member and client trust file of '{cluster.Name}' holds the old and the new CA, and every member was recreated to trust both.");
            yield return PhaseDone(cluster.Name, tls, 1, "old + new CA trusted everywhere; members recreated");
        }
        if (state.Phase == Reissue)
        {
            log.Progress(new OperationProgress(activity, "Phase 2 of 3: reissuing every certificate from the new CA", 35));
            var plan = await PlanAsync(cluster.Name, ct).ConfigureAwait(false);
            var memberNames = plan.Where(p => p.Role is "Server").Select(p => p.Member!).ToList();
            var step = 0;
            foreach (var container in memberNames)
            {
                step++;
                log.Progress(new OperationProgress(activity, $"Phase 2 of 3: {container} ({step}/{memberNames.Count})", 35 + 25 * (step - 1) / Math.Max(1, memberNames.Count)));
                foreach (var r in await RenewMemberAsync(cluster.Name, tls, next, container, validityDays, activity, ct).ConfigureAwait(false))
                {
                    yield return Reissued(r, r.How);
                }
            }
            foreach (var file in plan.Where(p => p.Role is not ("Server" or "Peer")))
            {
                ct.ThrowIfCancellationRequested();
                using var old = TlsClientFactory.LoadCertificate(file.Path);
                var pem = next.Renew(old, validityDays, out var notAfter);
                CertificateInventory.RewriteInPlace(file.Path, pem);
                log.Verbose($"Reissued {file.Path} from the new CA, in place (until {notAfter:u}); its key file is unchanged.");
                yield return new EtcdCertificateRenewal { Cluster = cluster.Name, Role = file.Role, Member = file.Member, Path = file.Path, OldNotAfter = old.NotAfter.ToUniversalTime(), NewNotAfter = notAfter, How = "phase 2: reissued from the new CA, rewritten in place" };
            }
            state = state with { Phase = Drop };
            SaveRotation(dir, state);
            log.Verbose($"Phase 2 of 3 done: every certificate of '{cluster.Name}' is issued by the new CA.");
            yield return PhaseDone(cluster.Name, tls, 2, "every certificate reissued from the new CA");
        }
        // Phase 3: the new CA only. The member and client trust files first, the cluster's CA file
        // and key last (both from the new CA), then the members are recreated to forget the old CA.
        log.Progress(new OperationProgress(activity, "Phase 3 of 3: dropping the old CA", 62));
        WriteTrust(dir, newPem.TrimEnd() + "\n", caFileLast: true);
        var keyTemp = Path.Combine(dir, ClusterTlsStore.CaKeyFileName + ".next");
        if (File.Exists(keyTemp)) File.Delete(keyTemp);
        PemFiles.WritePrivateKey(keyTemp, next.ExportPrivateKeyPem());
        File.Move(keyTemp, Path.Combine(dir, ClusterTlsStore.CaKeyFileName), overwrite: true);
        CertificateInventory.RewriteInPlace(tls.CaFile, newPem);
        await RollAsync(cluster.Name, activity, "Phase 3 of 3: recreating", 65, 98, ct).ConfigureAwait(false);
        File.Delete(nextCert);
        File.Delete(nextKey);
        File.Delete(Path.Combine(dir, RotationFileName));
        log.Verbose($"Phase 3 of 3 done: '{cluster.Name}' trusts only its new CA ({next.Certificate.Thumbprint}); the rotation is complete.");
        log.Progress(new OperationProgress(activity, "Done", 100, Completed: true));
        yield return PhaseDone(cluster.Name, tls, 3, "old CA dropped; rotation complete", next.NotAfter);
    }

    /// <summary>Refuses a leaf renewal in the middle of a rotation (it would sign with the wrong CA).</summary>
    private static void EnsureNoRotation(EtcdCluster cluster)
    {
        if (RotationWarning(cluster) is { } text)
        {
            throw new K3dEtcdException(ErrorCatalog.CertificateRotationIncomplete, text[(ErrorCatalog.CertificateRotationIncomplete.Id.Length + 2)..] + " A renewal without -Authority waits until then.", cluster.Name);
        }
    }

    private static EtcdCertificateRenewal PhaseDone(string cluster, EtcdTlsInfo tls, int n, string how, DateTime? notAfter = null) =>
        new() { Cluster = cluster, Role = "CA", Path = tls.CaFile, NewNotAfter = notAfter, How = $"phase {n} of 3 done: {how}" };

    private static EtcdCertificateRenewal Reissued(EtcdCertificateRenewal r, string how) =>
        new() { Cluster = r.Cluster, Role = r.Role, Member = r.Member, Path = r.Path, OldNotAfter = r.OldNotAfter, NewNotAfter = r.NewNotAfter, How = $"phase 2: reissued from the new CA, {how}" };

    /// <summary>
    /// Every trust file gets <paramref name="pem"/>: each member's ca.pem (its directory is mounted:
    /// replaced by rename), the k3s client folders' and the recorded client certificates' ca.pem (k3d
    /// mounts single files: rewritten in place), and, unless <paramref name="caFileLast"/>, the cluster's own.
    /// </summary>
    private void WriteTrust(string dir, string pem, bool caFileLast)
    {
        foreach (var file in CertificateInventory.Files(dir))
        {
            if (file.Role is "Server" && file.CaCopy is { } memberCa && File.Exists(memberCa)) CertificateInventory.ReplaceByRename(memberCa, pem);
            else if (file.Role is "K3s" or "Issued" && file.CaCopy is { } copy && File.Exists(copy)) CertificateInventory.RewriteInPlace(copy, pem);
        }
        if (!caFileLast) CertificateInventory.RewriteInPlace(Path.Combine(dir, ClusterTlsStore.CaFileName), pem);
        log.Verbose($"Trust files of {dir} now hold {pem.Split("BEGIN CERTIFICATE").Length - 1} CA certificate(s).");
    }

    /// <summary>Recreates every member in place, one at a time (followers first, the leader last), each after the others are healthy.</summary>
    private async Task RollAsync(string clusterName, string activity, string what, int from, int to, CancellationToken ct)
    {
        var cluster = await members.GetClusterAsync(clusterName, ct).ConfigureAwait(false);
        var order = await MemberOrderAsync(cluster, ct).ConfigureAwait(false);
        for (var i = 0; i < order.Count; i++)
        {
            cluster = await members.GetClusterAsync(clusterName, ct).ConfigureAwait(false);
            var member = cluster.Members.First(m => m.ContainerName == order[i]);
            log.Progress(new OperationProgress(activity, $"{what} {member.Name} ({i + 1}/{order.Count})", from + (to - from) * i / order.Count));
            // Never the restart that takes the quorum away: every other member healthy and caught up first.
            foreach (var other in cluster.Members.Where(m => m.ContainerName != member.ContainerName && m.ClientUrl is not null))
            {
                await members.WaitForCaughtUpAsync(cluster, other, $"{activity}: {other.Name} healthy before {member.Name} restarts", ct).ConfigureAwait(false);
            }
            await members.RecreateMemberAsync(clusterName, member.Name, null, ct).ConfigureAwait(false);
            log.Verbose($"{member.Name} recreated in place: it read the trust file again.");
        }
    }

    private static void SaveRotation(string dir, CaRotationState state)
    {
        var path = Path.Combine(dir, RotationFileName);
        var temp = path + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(state, new JsonSerializerOptions { WriteIndented = true }));
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>The PEM of the certificate with <paramref name="thumbprint"/> in a trust file (null when absent).</summary>
    private static string? FindPem(string file, string thumbprint)
    {
        foreach (var cert in LoadAll(file))
        {
            using (cert)
            {
                if (string.Equals(cert.Thumbprint, thumbprint, StringComparison.OrdinalIgnoreCase)) return cert.ExportCertificatePem();
            }
        }
        return null;
    }
}
