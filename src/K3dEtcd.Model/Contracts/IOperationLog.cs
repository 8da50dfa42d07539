namespace K3dEtcd.Common;

/// <summary>A progress step reported by a service while it waits.</summary>
public sealed record OperationProgress(string Activity, string Status, int PercentComplete, int ActivityId = 1, bool Completed = false);

/// <summary>
/// Where services report what they do. Cmdlets implement it with Write-Verbose/Warning/Progress
/// (marshalled to the pipeline thread); tests and benchmarks use <see cref="NullOperationLog"/>.
/// Never pass secrets to it.
/// </summary>
public interface IOperationLog
{
    void Verbose(string message);
    void Warning(string message);
    void Progress(OperationProgress progress);

    /// <summary>
    /// A named phase of the current command has ended. Cmdlets show it with -Verbose as
    /// "[  312 ms] network created" (milliseconds since the command started), so a slow or a first
    /// (cold) run says where its time went; nothing is done by default.
    /// </summary>
    void Phase(string phase) { }
}

public sealed class NullOperationLog : IOperationLog
{
    public static readonly NullOperationLog Instance = new();
    public void Verbose(string message) { }
    public void Warning(string message) { }
    public void Progress(OperationProgress progress) { }
}
