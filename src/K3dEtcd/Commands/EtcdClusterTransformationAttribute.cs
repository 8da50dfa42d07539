using System.Management.Automation;
using K3dEtcd.Model;

namespace K3dEtcd.Commands;

/// <summary>
/// Lets a -Cluster parameter take a cluster object or a cluster name: a name becomes a stub
/// object that the cmdlet reads back from Docker (the source of truth) anyway.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class EtcdClusterTransformationAttribute : ArgumentTransformationAttribute
{
    public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData)
    {
        var value = inputData is PSObject ps ? ps.BaseObject : inputData;
        return value switch
        {
            string name => new EtcdCluster { Name = name },
            _ => inputData,
        };
    }
}
