using System.Management.Automation;
using K3dEtcd.Model;

namespace K3dEtcd.Commands;

/// <summary>
/// Lets a -Cluster parameter take a cluster object or a cluster name. A name becomes a
/// placeholder without members; the cmdlet resolves it from Docker (see
/// <see cref="K3dEtcdCmdlet.FindClusterAsync"/>), where a missing cluster is a proper ErrorRecord.
/// </summary>
public sealed class EtcdClusterTransformationAttribute : ArgumentTransformationAttribute
{
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        var value = inputData is PSObject pso ? pso.BaseObject : inputData;
        return value switch
        {
            EtcdCluster cluster => cluster,
            string name => new EtcdCluster { Name = name },
            _ => throw new ArgumentTransformationMetadataException($"-Cluster takes an etcd cluster object (from New-EtcdCluster or Get-EtcdCluster) or a cluster name, not {value?.GetType().Name ?? "null"}."),
        };
    }
}
