using K3dEtcd.Model;

namespace K3dEtcd.Clusters;

/// <summary>
/// A spec that passed <see cref="EtcdClusterService.ValidateSpec"/>: made only by
/// <see cref="EtcdClusterService.Check"/>, so a path that validated once (a cmdlet before it asks
/// for confirmation, a restore before it reads the snapshot) hands it on and nothing checks it again.
/// </summary>
public sealed class CheckedEtcdClusterSpec
{
    internal CheckedEtcdClusterSpec(EtcdClusterSpec spec) => Spec = spec;

    public EtcdClusterSpec Spec { get; }

    /// <summary>The same checked spec with a step between creating the members and starting them (restore seeds the volumes there; it is not validated).</summary>
    internal CheckedEtcdClusterSpec WithBeforeStart(Func<EtcdClusterSeed, CancellationToken, Task> beforeStart) => new(Spec with { BeforeStart = beforeStart });
}

public sealed partial class EtcdClusterService
{
    /// <summary>Validates the spec (throws a K3dEtcdException with the catalogue's id) and marks it checked.</summary>
    public static CheckedEtcdClusterSpec Check(EtcdClusterSpec spec)
    {
        ValidateSpec(spec);
        return new CheckedEtcdClusterSpec(spec);
    }

    /// <summary>Creates the cluster of a spec validated once already (see <see cref="Check"/>), on one engine or several.</summary>
    public Task<EtcdCluster> CreateAsync(CheckedEtcdClusterSpec spec, CancellationToken ct) => CreateCheckedAsync(spec.Spec, ct);
}
