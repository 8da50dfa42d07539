namespace K3dEtcd.Common;

/// <summary>
/// What kind of failure a service reports; cmdlets map it to a PowerShell ErrorCategory,
/// so services stay free of PowerShell types.
/// </summary>
public enum FailureKind
{
    InvalidArgument,
    ObjectNotFound,
    ResourceExists,
    ResourceUnavailable,
    ConnectionError,
    OperationTimeout,
    InvalidResult,
    InvalidOperation,
    NotImplemented,
    SecurityError,
    /// <summary>A quota was exceeded (etcd's NOSPACE alarm).</summary>
    QuotaExceeded,
    LimitsExceeded,
}

/// <summary>A failure with a stable error id (one of <see cref="ErrorCatalog"/>) that users and tests can rely on.</summary>
public class K3dEtcdException : Exception
{
    /// <summary>The way to throw: an entry of the catalogue gives the id and the kind.</summary>
    public K3dEtcdException(ErrorDefinition error, string message, object? target = null, Exception? inner = null)
        : this(error.Id, error.Kind, message, target, inner) { }

    /// <summary>The same failure with a longer message (for example a member's last log lines).</summary>
    public K3dEtcdException(K3dEtcdException original, string message)
        : this(original.ErrorId, original.Kind, message, original.Target, original.InnerException) { }

    // Kept private so every id goes through the catalogue (a test also scans the sources for literals).
    private K3dEtcdException(string errorId, FailureKind kind, string message, object? target = null, Exception? inner = null)
        : base(message, inner)
    {
        ErrorId = errorId;
        Kind = kind;
        Target = target;
    }

    public string ErrorId { get; }
    public FailureKind Kind { get; }

    /// <summary>The catalogue entry of <see cref="ErrorId"/>.</summary>
    public ErrorDefinition? Definition => ErrorCatalog.Find(ErrorId);
    public object? Target { get; }
}
