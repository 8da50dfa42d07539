namespace K3dEtcd.Model;

/// <summary>One etcd key with its value and revisions, as Get-EtcdKey returns it.</summary>
public sealed class EtcdKeyValue
{
    public string Key { get; init; } = "";
    /// <summary>The value as UTF-8 text; when the value is binary, unprintable bytes are shown as '.'; null with -KeysOnly.</summary>
    public string? Value { get; init; }
    /// <summary>The raw bytes, only with -AsByteArray.</summary>
    public byte[]? Bytes { get; init; }
    /// <summary>Length of the value in bytes; null with -KeysOnly (etcd does not send it).</summary>
    public long? ByteLength { get; init; }
    /// <summary>True when the value is not plain UTF-8 text (for example Kubernetes protobuf).</summary>
    public bool IsBinary { get; init; }
    public long CreateRevision { get; init; }
    public long ModRevision { get; init; }
    public long Version { get; init; }
    /// <summary>Lease ID the key is attached to; 0 for none.</summary>
    public long Lease { get; init; }
    /// <summary>For /registry/ keys: the Kubernetes resource (pods, deployments.apps, ...).</summary>
    public string? Resource { get; init; }
    /// <summary>For /registry/ keys of namespaced objects: the namespace.</summary>
    public string? Namespace { get; init; }
    /// <summary>For /registry/ keys: the object name.</summary>
    public string? Name { get; init; }
    /// <summary>For /registry/ values: kind from the protobuf envelope or JSON.</summary>
    public string? Kind { get; init; }
    /// <summary>For /registry/ values: apiVersion from the protobuf envelope or JSON.</summary>
    public string? ApiVersion { get; init; }

    public override string ToString() => Key;
}

/// <summary>Kind of change a watch reports.</summary>
public enum EtcdWatchEventType
{
    Put,
    Delete,
}

/// <summary>One change seen by Watch-EtcdKey.</summary>
public sealed class EtcdWatchEvent
{
    public EtcdWatchEventType Type { get; init; }
    public string Key { get; init; } = "";
    /// <summary>New value (UTF-8 text, binary shown safely); null for a delete.</summary>
    public string? Value { get; init; }
    /// <summary>Value before this change, when etcd still had it; null for a new key.</summary>
    public string? PreviousValue { get; init; }
    public long ModRevision { get; init; }
    public long CreateRevision { get; init; }
    public long Version { get; init; }
    /// <summary>When this client received the event (UTC).</summary>
    public DateTime Received { get; init; }

    public override string ToString() => $"{Type} {Key}";
}
