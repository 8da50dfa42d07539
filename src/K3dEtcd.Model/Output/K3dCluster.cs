using System.Security;

namespace K3dEtcd.Model;

/// <summary>A k3d (k3s) cluster, from `k3d cluster list -o json` plus the datastore K3dEtcd recorded on its server nodes.</summary>
public sealed class K3dCluster
{
    public string Name { get; init; } = "";
    public int Servers { get; init; }
    public int Agents { get; init; }
    /// <summary>Null when the installed k3d cannot list clusters as JSON (before v3.4).</summary>
    public int? ServersRunning { get; init; }
    public int? AgentsRunning { get; init; }
    /// <summary>The EtcdCluster it uses, or the datastore string with any password masked; null when unknown (not made by K3dEtcd).</summary>
    public object? Datastore { get; init; }
    public string Network { get; init; } = "";
    /// <summary>The Kubernetes API as published on the host, e.g. https://0.0.0.0:6550.</summary>
    public string? ApiEndpoint { get; init; }
    /// <summary>The kubeconfig file that holds the context k3d-NAME, when there is one.</summary>
    public string? KubeconfigPath { get; init; }
    /// <summary>The k3s token (it guards the datastore's /bootstrap data): set by New-K3dCluster, and by Get-K3dCluster -IncludeToken from the kept token file.</summary>
    public SecureString? Token { get; init; }
    public string? K3dVersion { get; init; }
    /// <summary>Whether keys under /registry/ were seen in the datastore after creation (null: not checked).</summary>
    public bool? DatastoreVerified { get; init; }
    public K3dNode[] Nodes { get; init; } = [];

    /// <summary>A copy with the token set.</summary>
    public K3dCluster WithToken(SecureString? token) => new()
    {
        Name = Name, Servers = Servers, Agents = Agents, ServersRunning = ServersRunning, AgentsRunning = AgentsRunning,
        Datastore = Datastore, Network = Network, ApiEndpoint = ApiEndpoint, KubeconfigPath = KubeconfigPath, Token = token,
        K3dVersion = K3dVersion, DatastoreVerified = DatastoreVerified, Nodes = Nodes,
    };

    public override string ToString() => Name;
}

/// <summary>One node (container) of a k3d cluster.</summary>
public sealed class K3dNode
{
    public string Name { get; init; } = "";
    public string Role { get; init; } = "";
    public bool Running { get; init; }
    public string Status { get; init; } = "";
    public string Image { get; init; } = "";

    public override string ToString() => Name;
}

/// <summary>One check of Test-K3dDatastore.</summary>
public sealed class K3dDatastoreCheck
{
    public string Name { get; init; } = "";
    public bool Passed { get; init; }
    public string Detail { get; init; } = "";
    /// <summary>The datastore checked (password masked).</summary>
    public string Datastore { get; init; } = "";

    public override string ToString() => $"{Name}: {(Passed ? "passed" : "FAILED")} {Detail}";
}
