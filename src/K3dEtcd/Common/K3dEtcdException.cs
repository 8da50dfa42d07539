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
}

/// <summary>A failure with a stable error id that users and tests can rely on.</summary>
public class K3dEtcdException : Exception
{
    public K3dEtcdException(string errorId, FailureKind kind, string message, object? target = null, Exception? inner = null)
        : base(message, inner)
    {
        ErrorId = errorId;
        Kind = kind;
        Target = target;
    }

    public string ErrorId { get; }
    public FailureKind Kind { get; }
    public object? Target { get; }
}
