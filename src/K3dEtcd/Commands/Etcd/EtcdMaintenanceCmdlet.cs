using K3dEtcd.Operations;

namespace K3dEtcd.Commands.Etcd;

/// <summary>Base of the maintenance cmdlets: the maintenance service for the current record's target.</summary>
public abstract class EtcdMaintenanceCmdlet : EtcdDataCmdlet
{
    protected async Task<EtcdMaintenanceService> GetMaintenanceAsync(CancellationToken ct)
    {
        // The connection first: it resolves the cluster that the member map and the name come from.
        var connection = await GetConnectionAsync(ct);
        return new EtcdMaintenanceService(connection, TargetHostEndpoints, TargetCluster?.Name);
    }
}
