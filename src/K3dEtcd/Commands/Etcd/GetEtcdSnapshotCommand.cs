using System.Management.Automation;
using K3dEtcd.Common;
using K3dEtcd.Model;
using K3dEtcd.Operations;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Reads and verifies an etcd snapshot file: revision, total keys, size, hash.</para>
/// <para type="description">Checks the SHA-256 etcd appends to every snapshot against the file's content and walks the database (no Docker and no etcd tool needed). Revision, TotalKeys, Hash and DatabaseSize are the figures etcdctl/etcdutl snapshot status prints. A truncated file is a SnapshotTruncated error, a damaged one SnapshotCorrupted; Restore-EtcdSnapshot refuses both.</para>
/// </summary>
/// <example>
/// <code>Get-EtcdSnapshot ./etcd-before-upgrade.db</code>
/// <para>Shows the snapshot's revision, keys, size and hash after verifying it.</para>
/// </example>
/// <example>
/// <code>Get-ChildItem ./backups/*.db | Get-EtcdSnapshot -ErrorAction Continue | Sort-Object Revision</code>
/// <para>Verifies every backup in a folder; damaged ones are reported as errors, the others listed by revision.</para>
/// </example>
[Cmdlet(VerbsCommon.Get, "EtcdSnapshot")]
[OutputType(typeof(EtcdSnapshot))]
public sealed class GetEtcdSnapshotCommand : K3dEtcdCmdlet
{
    /// <summary>Snapshot file(s); wildcards are allowed.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName", "FilePath")]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    protected override Task ProcessRecordAsync(CancellationToken ct)
    {
        foreach (var p in Path)
        {
            IEnumerable<string> files;
            try
            {
                files = WildcardPattern.ContainsWildcardCharacters(p) ? GetResolvedProviderPathFromPSPath(p, out _) : [GetUnresolvedProviderPathFromPSPath(p)];
            }
            catch (ItemNotFoundException ex)
            {
                WriteFailure(new K3dEtcdException(ErrorCatalog.SnapshotNotFound, ex.Message, p, ex));
                continue;
            }
            foreach (var file in files)
            {
                try
                {
                    WriteObject(EtcdSnapshotService.Inspect(file, Log, ct));
                }
                catch (K3dEtcdException ex)
                {
                    WriteFailure(ex);
                }
            }
        }
        return Task.CompletedTask;
    }
}
