using K3dEtcd.Common;
using K3dEtcd.Operations;

namespace K3dEtcd.Tests;

/// <summary>Which snapshots Test-EtcdSnapshot picks in a folder: no Docker, so outside the Docker collection.</summary>
public sealed class SnapshotDrillUnitTests : IDisposable
{
    private readonly string _dir = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "drill-unit-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Touch(string name, DateTime lastWriteUtc)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, [1]);
        File.SetLastWriteTimeUtc(path, lastWriteUtc);
        return path;
    }

    [Fact]
    public void Newest_follows_the_utc_time_in_contract_names_and_the_last_write_time_of_other_files()
    {
        // Written in the opposite order of the names' times: only the names can tell.
        var older = Touch("prod-r900-20260101T000000Z.db", new DateTime(2026, 3, 1, 0, 0, 0, DateTimeKind.Utc));
        var newer = Touch("prod-r10-20260102T000000Z.db", new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        Touch("notes.txt", new DateTime(2027, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        Assert.Equal([newer], EtcdSnapshotDrillService.SnapshotsIn(_dir, newest: true));
        Assert.Equal(new DateTime(2026, 1, 2, 0, 0, 0, DateTimeKind.Utc), EtcdSnapshotDrillService.SnapshotTime(newer));
        Assert.Equal(DateTimeKind.Utc, EtcdSnapshotDrillService.SnapshotTime(newer).Kind);

        // Another *.db file competes by its last write time, on the same UTC scale.
        var manual = Touch("manual.db", new DateTime(2026, 1, 3, 0, 0, 0, DateTimeKind.Utc));
        Assert.Equal([manual], EtcdSnapshotDrillService.SnapshotsIn(_dir, newest: true));
        // Without -Newest: every *.db file, in name order.
        Assert.Equal([manual, newer, older], EtcdSnapshotDrillService.SnapshotsIn(_dir, newest: false));
    }

    [Fact]
    public void A_folder_without_snapshots_is_SnapshotDirectoryEmpty()
    {
        Touch("readme.txt", DateTime.UtcNow);
        var ex = Assert.Throws<K3dEtcdException>(() => EtcdSnapshotDrillService.SnapshotsIn(_dir, newest: true));
        Assert.Equal("SnapshotDirectoryEmpty", ex.ErrorId);
        Assert.Equal(FailureKind.ObjectNotFound, ex.Kind);
    }
}
