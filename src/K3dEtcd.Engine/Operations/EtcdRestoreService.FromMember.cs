using System.Security.Cryptography;
using K3dEtcd.Clusters;
using K3dEtcd.Common;
using K3dEtcd.Model;

namespace K3dEtcd.Operations;

// Repair-EtcdCluster -FromMember: after a lost quorum with no usable snapshot, the cluster again
// from one survivor's database. Not through --force-new-cluster: there a learner replaying the
// survivor's log stopped one revision short of the survivor's backend (etcd truncates the log at
// the commit index the WAL holds, which can lag what the backend applied). Every member restored
// from the same database holds the same keys, as with a snapshot.
public sealed partial class EtcdRestoreService
{
    /// <summary>Where a member keeps its bbolt database (EtcdCommandLine's --data-dir).</summary>
    private const string MemberDatabase = "/var/lib/etcd/data/member/snap/db";

    /// <summary>
    /// Stops the survivor, copies its database out, makes it a snapshot file (etcd's format: the
    /// database followed by its SHA-256) and rebuilds the cluster in place from it as
    /// <see cref="ReplaceAsync"/> does: same names, URLs, host ports, network, CA and certificates.
    /// Refused while the running members are a quorum of the record's members.
    /// </summary>
    public async Task<EtcdCluster> RebuildFromMemberAsync(string name, string survivorName, TimeSpan timeout, CancellationToken ct)
    {
        var plan = await PlanReplaceAsync(name, timeout, ct).ConfigureAwait(false);
        var survivor = plan.OldContainers.FirstOrDefault(c => string.Equals(c.Name, survivorName, StringComparison.OrdinalIgnoreCase))
            ?? throw new K3dEtcdException(ErrorCatalog.EtcdMemberNotFound,
                $"Cluster '{name}' has no member container named '{survivorName}' to rebuild from; its containers are {string.Join(", ", plan.OldContainers.Select(c => c.Name))}.", survivorName);
        var running = plan.OldContainers.Count(c => c.State == "running");
        if (running >= plan.Spec.Size / 2 + 1)
        {
            throw new K3dEtcdException(ErrorCatalog.RepairClusterHasQuorum,
                $"{running} of {plan.Spec.Size} members of '{name}' run, a quorum: the cluster is not rebuilt from one member, which would drop what the others hold. Nothing was changed; Repair-EtcdMember -Cluster {name} -Name NAME replaces a lost member.", name);
        }
        log.Warning($"'{name}' is rebuilt from {survivor.Name}'s data: writes {survivor.Name} had not received when the quorum was lost are gone.");

        var directory = Path.Combine(Path.GetTempPath(), $"k3detcd-rebuild-{Guid.NewGuid():N}");
        if (OperatingSystem.IsWindows()) Directory.CreateDirectory(directory);
        else Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var snapshot = Path.Combine(directory, "db");
        try
        {
            // Stopped first, so that the database is not written while it is copied.
            log.Verbose($"docker stop {survivor.Name}; docker cp {survivor.Name}:{MemberDatabase} (private temporary file)");
            await adapter.StopContainerAsync(survivor.Id, TimeSpan.FromSeconds(10), ct).ConfigureAwait(false);
            await adapter.CopyFileFromContainerAsync(survivor.Id, MemberDatabase, snapshot, ct).ConfigureAwait(false);
            await AppendSha256Async(snapshot, ct).ConfigureAwait(false);
            // The plan saw it running: a failed rebuild starts it again with the others.
            return await ReplaceAsync(snapshot, plan, keepData: false, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is K3dEtcdException or Docker.DockerOperationException or OperationCanceledException)
        {
            if (survivor.State == "running")
            {
                try { await adapter.StartContainerAsync(survivor.Name, CancellationToken.None).ConfigureAwait(false); }
                catch (Docker.DockerOperationException) { }
            }
            throw;
        }
        finally
        {
            // It holds every secret the cluster holds.
            Directory.Delete(directory, recursive: true);
        }
    }

    private static async Task AppendSha256Async(string path, CancellationToken ct)
    {
        byte[] hash;
        await using (var read = File.OpenRead(path)) hash = await SHA256.HashDataAsync(read, ct).ConfigureAwait(false);
        await using var append = new FileStream(path, FileMode.Append, FileAccess.Write);
        await append.WriteAsync(hash, ct).ConfigureAwait(false);
    }
}
