namespace K3dEtcd.Docker;

// Lives with the output types (default load context) because New-EtcdCluster -PullPolicy exposes it.
/// <summary>Whether a missing image may be pulled from its registry.</summary>
public enum ImagePullPolicy
{
    /// <summary>Pull only when the image is not present locally.</summary>
    Missing,
    /// <summary>Never pull: a missing image is an error.</summary>
    Never,
}
